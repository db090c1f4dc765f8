import { Annotations, Duration } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import { Construct, IDependable } from 'constructs';
import { MtaStsMode } from '../mode';
import { MtaStsPolicy } from '../policy';
import { TlsRptRecord } from '../tls-rpt';
import { policyHostOf } from './names';

/** The records of one policy domain. */
export interface DomainRecords {
  readonly aliasRecord: route53.ARecord;
  readonly aliasRecordIpv6: route53.AaaaRecord;
  readonly policyRecord: route53.TxtRecord;
  readonly tlsRptRecord?: route53.TxtRecord;
}

export interface DomainRecordsProps {
  readonly zone: route53.IHostedZone;
  /** The policy domain, normalised. */
  readonly domainName: string;
  readonly distribution: cloudfront.IDistribution;
  readonly policy: MtaStsPolicy;
  readonly tlsRpt?: TlsRptRecord;
  readonly ttl: Duration;
  /** What must be live before the `_mta-sts` record may announce the policy id. */
  readonly publishedBy: IDependable[];
}

/** One day: shorter policy lifetimes in enforce mode are legal but risky. */
const SHORT_MAX_AGE_SECONDS = 86_400;

/**
 * Creates the records of one policy domain in `scope`, with fixed child ids:
 * `AliasRecord` and `AliasRecordIpv6` (mta-sts.<domain> to the distribution), `PolicyRecord`
 * (`_mta-sts.<domain>`) and, with TLS-RPT, `TlsRptRecord` (`_smtp._tls.<domain>`).
 *
 * The policy record depends on the alias records, the distribution and everything in
 * `publishedBy` (the uploaded policy object), so CloudFormation changes it only after the file
 * it announces is served: publish before announce (RFC 8461 §3.1: senders fetch
 * the policy when they see a new id and cache what they get for max_age).
 */
export function addDomainRecords(scope: Construct, props: DomainRecordsProps): DomainRecords {
  const target = route53.RecordTarget.fromAlias(new targets.CloudFrontTarget(props.distribution));
  const policyHost = policyHostOf(props.domainName);
  const aliasRecord = new route53.ARecord(scope, 'AliasRecord', { zone: props.zone, recordName: `${policyHost}.`, target });
  const aliasRecordIpv6 = new route53.AaaaRecord(scope, 'AliasRecordIpv6', { zone: props.zone, recordName: `${policyHost}.`, target });

  const policyRecord = new route53.TxtRecord(scope, 'PolicyRecord', {
    zone: props.zone,
    recordName: `_mta-sts.${props.domainName}.`,
    values: [props.policy.recordValue],
    ttl: props.ttl,
  });
  policyRecord.node.addDependency(aliasRecord, aliasRecordIpv6, props.distribution, ...props.publishedBy);

  const tlsRptRecord = props.tlsRpt && new route53.TxtRecord(scope, 'TlsRptRecord', {
    zone: props.zone,
    recordName: `_smtp._tls.${props.domainName}.`,
    values: [props.tlsRpt.value],
    ttl: props.ttl,
  });

  addPolicyWarnings(scope, props.domainName, props.policy, props.tlsRpt);
  return { aliasRecord, aliasRecordIpv6, policyRecord, tlsRptRecord };
}

function addPolicyWarnings(scope: Construct, domainName: string, policy: MtaStsPolicy, tlsRpt?: TlsRptRecord): void {
  const annotations = Annotations.of(scope);
  if (!tlsRpt) {
    annotations.addWarningV2('cdk-mta-sts:noTlsRpt',
      `${domainName}: no \`tlsRpt\` given, so no _smtp._tls record is published and senders cannot report MTA-STS or TLS failures (RFC 8460).`);
  }
  if (policy.mode === MtaStsMode.NONE) {
    annotations.addWarningV2('cdk-mta-sts:modeNone',
      `${domainName}: mode "none" withdraws the policy; keep it published for at least the previous max_age before removing MTA-STS (RFC 8461 §8.3).`);
  }
  if (policy.mode === MtaStsMode.ENFORCE && policy.maxAgeSeconds < SHORT_MAX_AGE_SECONDS) {
    annotations.addWarningV2('cdk-mta-sts:shortMaxAge',
      `${domainName}: maxAge of ${policy.maxAgeSeconds} s in enforce mode gives little protection against downgrade attacks; RFC 8461 §3.2 recommends weeks.`);
  }
}
