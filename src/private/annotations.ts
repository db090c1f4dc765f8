import { Annotations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * The ids of the warnings the constructs add at synthesis. They are public contract: users
 * acknowledge a warning by its id (`Annotations.of(stack).acknowledgeWarning(id, reason)`), and
 * the CDK CLI prints it as `Annotation::<id>`.
 */
export const WARNING_IDS = {
  /** No `tlsRpt`: no `_smtp._tls` record is published. */
  NO_TLS_RPT: 'cdk-mta-sts:noTlsRpt',
  /** Mode `none` withdraws the policy. */
  MODE_NONE: 'cdk-mta-sts:modeNone',
  /** `maxAge` under a day in `enforce`. */
  SHORT_MAX_AGE: 'cdk-mta-sts:shortMaxAge',
  /** In `testing`, an MX record of the app names a host that `mx` does not match. */
  MX_NOT_IN_POLICY: 'cdk-mta-sts:mxNotInPolicy',
  /** A collector's HTTPS endpoint is left out of a `_smtp._tls` record in another region. */
  COLLECTOR_HTTPS_OTHER_REGION: 'cdk-mta-sts:collectorHttpsOtherRegion',
} as const;

/**
 * The ids of the informational notes the constructs add at synthesis (public contract, like
 * the warning ids; acknowledged with `Annotations.of(stack).acknowledgeInfo(id, reason)` where
 * aws-cdk-lib has it).
 */
export const INFO_IDS = {
  /** A delegated `mta-sts.<domain>` zone: the records to create once at the domain's DNS. */
  DELEGATED_ZONE_RECORDS: 'cdk-mta-sts:delegatedZoneRecords',
  /** The MX drift check skipped an MX record or value it cannot read at synthesis. */
  MX_NOT_CHECKED: 'cdk-mta-sts:mxNotChecked',
} as const;

/** aws-cdk-lib versions after 2.197.0 add `addInfoV2`; 2.197.0 has only `addInfo`. */
interface AnnotationsWithInfoIds {
  addInfoV2?(id: string, message: string): void;
}

/**
 * Adds an info annotation that carries `id`, on every supported aws-cdk-lib version: through
 * `addInfoV2` where aws-cdk-lib has it (then `acknowledgeInfo(id)` removes it), otherwise through
 * `addInfo` with the same ` [ack: <id>]` suffix that `addInfoV2` writes, so the message, and the
 * CDK CLI's "Acknowledge with 'Annotation::<id>'", are the same on every version.
 */
export function addInfoWithId(scope: IConstruct, id: string, message: string): void {
  const annotations = Annotations.of(scope);
  const withIds = annotations as unknown as AnnotationsWithInfoIds;
  if (typeof withIds.addInfoV2 === 'function') {
    withIds.addInfoV2(id, message);
  } else {
    annotations.addInfo(`${message} [ack: ${id}]`);
  }
}
