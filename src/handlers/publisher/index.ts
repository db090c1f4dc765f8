/**
 * The publishing step of cdk-mta-sts: one CloudFormation custom resource per policy domain
 * (`Custom::MtaStsPolicyPublication`, core/publication.ts), run by one Lambda function per stack
 * behind aws-cdk-lib's custom resource entrypoint (`__entrypoint__.handler`), which answers
 * CloudFormation from what this handler returns or throws.
 *
 * Create and Update (a rollback's update included): write the policy file, then announce it by
 * writing the `_mta-sts` TXT record with an id that was never announced before
 * (`<content id><publication stamp>`, core/policy-id.ts), and wait until Route 53 has it in sync.
 *
 * Every failure leaves a state that the next CloudFormation step repairs:
 * - before Route 53 accepted the record change, the body is put back (or a new object that no
 *   record announces is removed), so the announced id still describes what is served;
 * - once Route 53 accepted it, the old body is never put back (the new id announces the new
 *   body); a failed Update is repaired by the rollback's Update, which publishes the old body
 *   under a fresh id, and a failed Create removes its own record and file before it fails,
 *   because the entrypoint skips the Delete of a failed Create, and a failed Update that moved
 *   to a new zone or record name withdraws the old record, which no longer describes the body;
 * - a Create that finds a record announcing its own content id (Lambda retrying a run whose
 *   answer was lost) takes it over;
 * - the physical id depends on the domain only: a new zone or record name is an Update that
 *   writes the new record and then withdraws the old one, never a replacement whose cleanup would
 *   delete what the new publication wrote.
 *
 * Delete: remove the TXT record first (only when it is this library's), then the policy file
 * unless the bucket is retained; a zone, bucket or key that is already gone is no error.
 *
 * Every wait is bounded by the Lambda's remaining time, so the handler always answers before its
 * timeout. Bundled by projen (esbuild) into assets/handlers/publisher; the AWS SDK v3 comes from
 * the Lambda runtime.
 */
import { randomInt } from 'node:crypto';
import { PublisherAws, TxtRecordSet, isGone, normaliseName } from './aws';
import { contentIdOf, contentIdPartOf, nextPublicationId } from '../../core/policy-id';
import { PublicationAnswer, PublicationProperties, publicationPhysicalIdOf } from '../../core/publication';
import { parseStsRecord, renderStsRecord } from '../../core/sts-record';

/** A CloudFormation custom resource request, as the entrypoint passes it on. */
export interface PublicationEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly LogicalResourceId: string;
  readonly RequestId: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: PublicationProperties;
  readonly OldResourceProperties?: PublicationProperties;
}

/** The part of the Lambda context the handler reads. */
export interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

/** What a failed publication keeps for removing what it wrote, once every wait gave up. */
const CLEANUP_RESERVE_MS = 60_000;
/** What the last step keeps for answering CloudFormation. */
const ANSWER_RESERVE_MS = 10_000;

/** The Lambda entry point, called by aws-cdk-lib's custom resource entrypoint. */
export async function handler(event: PublicationEvent, context: LambdaContext): Promise<PublicationAnswer> {
  const timeLeft = () => context.getRemainingTimeInMillis();
  const publisher = new Publisher(new PublisherAws(timeLeft, CLEANUP_RESERVE_MS), new PublisherAws(timeLeft, ANSWER_RESERVE_MS));
  const props = event.ResourceProperties;
  log('info', { requestType: event.RequestType, logicalResourceId: event.LogicalResourceId, domain: props.DomainName, record: props.RecordName });
  try {
    if (event.RequestType === 'Delete') {
      await publisher.withdraw(props);
      return { PhysicalResourceId: event.PhysicalResourceId ?? publicationPhysicalIdOf(props.DomainName) };
    }
    const data = await publisher.publish(event.RequestType === 'Update' ? event.OldResourceProperties : undefined, props, event.RequestType === 'Create');
    log('info', { published: props.DomainName, policyId: data.PolicyId });
    // An Update keeps the physical id it has: CloudFormation never replaces a publication.
    return { PhysicalResourceId: (event.RequestType === 'Update' && event.PhysicalResourceId) || publicationPhysicalIdOf(props.DomainName), Data: data };
  } catch (error) {
    log('error', { requestType: event.RequestType, domain: props.DomainName, error: (error as Error).name, reason: (error as Error).message });
    throw error;
  }
}

class Publisher {
  /**
   * @param aws calls that leave time to clean up after them
   * @param cleanupAws calls that only leave time to answer
   */
  constructor(private readonly aws: PublisherAws, private readonly cleanupAws: PublisherAws) {}

  /** Create (`old` undefined) or Update: write the body, then announce it with a fresh id. */
  async publish(old: PublicationProperties | undefined, props: PublicationProperties, create: boolean) {
    if (contentIdOf(props.PolicyText) !== props.ContentId) {
      throw new Error(`ContentId ${props.ContentId} is not the content id of PolicyText (${contentIdOf(props.PolicyText)})`);
    }
    const zone = props.HostedZoneId;
    const name = normaliseName(props.RecordName);
    const moved = old === undefined || old.HostedZoneId !== zone || normaliseName(old.RecordName) !== name;
    const current = await this.aws.readTxt(zone, name);
    // A record at a new name must not be taken over silently, unless it announces this very
    // policy (a retried run) or the user opted in.
    if (moved && current !== undefined && !announces(current, props.ContentId) && props.ReplaceExistingRecord !== 'true') {
      throw new Error(`${name} already has a TXT record (${current.values.map(v => JSON.stringify(v)).join(' ')}) that this stack did not create. `
        + 'Delete it, or set `replaceExistingRecords: true` to let the construct replace it.');
    }

    // 1. The body. Until the record changes, the id announced now must keep describing what is served.
    const sameObject = old !== undefined && old.BucketName === props.BucketName && old.ObjectKey === props.ObjectKey;
    // The previous record (at the old name, when the publication moved) announces the old body of
    // the same object: that body goes back. A new object no record announces is removed.
    const putBack = async () => {
      if (sameObject) {
        await this.cleanupAws.putObject(old.BucketName, old.ObjectKey, old.PolicyText);
      } else if (current === undefined || !announces(current, props.ContentId)) {
        await this.cleanupAws.deleteObject(props.BucketName, props.ObjectKey);
      }
    };
    try {
      await this.aws.putObject(props.BucketName, props.ObjectKey, props.PolicyText);
    } catch (error) {
      await putBack().catch(cleanupError => log('error', { putBack: props.ObjectKey, error: String(cleanupError) }));
      throw error;
    }

    // 2. The record, with an id never announced before: its stamp is later than the current ones'.
    const currentIds = (current?.values ?? []).map(value => parseStsRecord(value).record?.id).filter((id): id is string => id !== undefined);
    const policyId = nextPublicationId(props.ContentId, new Date(), randomInt(1296), currentIds);
    const value = renderStsRecord(policyId);
    // Once the new record is accepted, a failing step of a moved publication withdraws the old
    // record too: it announces an id made for a body the object may no longer hold.
    const afterAcceptedFailure = async () => {
      if (create) {
        await this.undoCreate(props, value);
      } else if (old !== undefined && moved) {
        await this.withdrawRecord(old.HostedZoneId, normaliseName(old.RecordName), this.cleanupAws)
          .catch(cleanupError => log('error', { withdrawOld: old.RecordName, error: String(cleanupError) }));
      }
    };
    const ttl = Number(props.RecordTtl);
    let change;
    try {
      change = await this.aws.changeTxt(zone, 'UPSERT', name, [value], ttl);
    } catch (error) {
      // The id is new, so the record tells whether Route 53 took the change before the error.
      // When that cannot be read, it is taken as accepted: the new body then stays.
      const accepted = await this.cleanupAws.readTxt(zone, name).then(record => record?.values.includes(value) ?? false, () => true);
      if (!accepted) {
        await putBack().catch(cleanupError => log('error', { putBack: props.ObjectKey, error: String(cleanupError) }));
      } else {
        await afterAcceptedFailure();
      }
      throw error;
    }

    // 3. Wait until Route 53 serves it. From here on the new id announces the new body.
    try {
      await this.aws.waitInSync(change, `UPSERT ${name}`, CLEANUP_RESERVE_MS);
    } catch (error) {
      await afterAcceptedFailure();
      throw error;
    }

    // 4. A publication that moved withdraws what it announced and served before.
    if (old !== undefined && moved) {
      await this.withdrawRecord(old.HostedZoneId, normaliseName(old.RecordName), this.aws);
    }
    if (old !== undefined && !sameObject && old.RetainObject !== 'true') {
      await this.aws.deleteObject(old.BucketName, old.ObjectKey);
    }
    return { PolicyId: policyId, RecordValue: value };
  }

  /** Delete: the record first, then the file unless it is kept. */
  async withdraw(props: PublicationProperties): Promise<void> {
    await this.withdrawRecord(props.HostedZoneId, normaliseName(props.RecordName), this.cleanupAws);
    if (props.RetainObject !== 'true') {
      await this.cleanupAws.deleteObject(props.BucketName, props.ObjectKey);
    }
  }

  /**
   * Removes a failed Create's own record (when it still holds the value it wrote) and its file:
   * CloudFormation will not send a Delete for it.
   */
  private async undoCreate(props: PublicationProperties, value: string): Promise<void> {
    const zone = props.HostedZoneId;
    const name = normaliseName(props.RecordName);
    try {
      let record = await this.cleanupAws.readTxt(zone, name);
      if (record !== undefined && record.values.length === 1 && record.values[0] === value) {
        try {
          const change = await this.cleanupAws.changeTxt(zone, 'DELETE', name, record.values, record.ttl);
          await this.cleanupAws.waitInSync(change, `DELETE ${name}`, ANSWER_RESERVE_MS).catch(() => undefined);
        } catch (error) {
          // Route 53 may have applied the delete before the error: the record tells.
          log('error', { undoCreate: name, error: String(error) });
        }
        record = await this.cleanupAws.readTxt(zone, name);
      }
      // A file still announced by the record stays: the record must never announce a missing file.
      if (record === undefined || !record.values.includes(value)) {
        await this.cleanupAws.deleteObject(props.BucketName, props.ObjectKey);
      }
    } catch (error) {
      log('error', { undoCreate: name, error: String(error) });
    }
  }

  /**
   * Removes the TXT record at `name` when every value is an id of this library, and waits until
   * Route 53 has removed it. A zone that is gone, or a record that is, is no error.
   */
  private async withdrawRecord(zone: string, name: string, aws: PublisherAws): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let record: TxtRecordSet | undefined;
      try {
        record = await aws.readTxt(zone, name);
      } catch (error) {
        if (isGone(error)) {
          return;
        }
        throw error;
      }
      if (record === undefined || !isLibraryRecord(record)) {
        return;
      }
      try {
        // Route 53 deletes a record set only when name, type, TTL and values all match.
        const change = await aws.changeTxt(zone, 'DELETE', name, record.values, record.ttl);
        await aws.waitInSync(change, `DELETE ${name}`, ANSWER_RESERVE_MS);
        return;
      } catch (error) {
        // The record changed between the read and the delete: read it again.
        const changed = (error as { name?: string }).name === 'InvalidChangeBatch';
        if (isGone(error) || (changed && attempt >= 3)) {
          return;
        }
        if (!changed) {
          throw error;
        }
      }
    }
  }
}

/** Whether every value of the record is a policy record with an id of this library. */
function isLibraryRecord(record: TxtRecordSet): boolean {
  return record.values.length > 0 && record.values.every(value => {
    const id = parseStsRecord(value).record?.id;
    return id !== undefined && contentIdPartOf(id) !== undefined;
  });
}

/** Whether the record announces only ids made for the policy with this content id. */
function announces(record: TxtRecordSet, contentId: string): boolean {
  return record.values.length > 0 && record.values.every(value => {
    const id = parseStsRecord(value).record?.id;
    return id !== undefined && contentIdPartOf(id) === contentId;
  });
}

function log(level: 'info' | 'error', fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ level, ...fields }));
}
