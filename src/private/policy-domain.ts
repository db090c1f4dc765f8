import { Annotations, CustomResource, Duration } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, IConstruct, IDependable } from 'constructs';
import { MtaStsMode } from '../mode';
import { MtaStsPolicy } from '../policy';
import { TlsRptRecord } from '../tls-rpt';
import { addInfoWithId, INFO_IDS, WARNING_IDS } from './annotations';
import { createPolicyHostCertificate } from './certificate';
import { createPolicyDistribution } from './distribution';
import { recordPolicyDomain } from './metadata';
import { policyHostOf } from './names';
import { originPathOf, policyKeyOf } from './policy-store';
import { createPublication } from './publisher';

/** Where one policy domain's records are written (see domain.ts for the delegated case). */
export interface RecordNames {
  /** `mta-sts.<domain>`: the A/AAAA alias records. */
  readonly policyHost: string;
  /** The `v=STSv1` TXT record: `_mta-sts.<domain>`, or its CNAME target in a delegated zone. */
  readonly policyRecord: string;
  /** The TLS-RPT TXT record: `_smtp._tls.<domain>`, or its CNAME target in a delegated zone. */
  readonly tlsRptRecord: string;
}

export interface PolicyDomainProps {
  /** The policy domain, normalised. */
  readonly domainName: string;
  readonly zone: route53.IHostedZone;
  readonly names: RecordNames;
  readonly policy: MtaStsPolicy;
  readonly tlsRpt?: TlsRptRecord;
  readonly ttl: Duration;
  readonly bucket: s3.IBucket;
  readonly originAccessControl: cloudfront.IOriginAccessControl;
  /** A certificate the user supplied; else one is created for `mta-sts.<domain>`. */
  readonly certificate?: acm.ICertificate;
  readonly priceClass: cloudfront.PriceClass;
  readonly retainObject: boolean;
  readonly replaceExistingRecords: boolean;
  /** What must be in place before the file can be served (the bucket policy). */
  readonly readAccess: IDependable[];
  /**
   * Where warnings about the domain are added: the MtaSts or MtaStsDomains construct, in the
   * user's own stack even when the resources are in the companion stack, so acknowledging a
   * warning on the construct or its stack silences it.
   */
  readonly annotate: IConstruct;
}

/** The resources of one policy domain, all beneath one construct named after the domain. */
export interface PolicyDomainResources {
  readonly certificate: acm.ICertificate;
  readonly distribution: cloudfront.Distribution;
  readonly aliasRecord: route53.ARecord;
  readonly aliasRecordIpv6: route53.AaaaRecord;
  readonly publication: CustomResource;
  readonly tlsRptRecord?: route53.TxtRecord;
}

/** One day: shorter policy lifetimes in enforce mode are legal but risky. */
const SHORT_MAX_AGE_SECONDS = 86_400;

/**
 * Creates everything that serves and announces one policy domain in `scope`, with fixed child
 * ids: `Certificate` (unless supplied), `Distribution`, `AliasRecord` and `AliasRecordIpv6`
 * (`mta-sts.<domain>`), `Publication` (writes the policy file, then the `_mta-sts` TXT record)
 * and, with TLS-RPT, `TlsRptRecord`.
 *
 * Each domain has its own certificate, distribution and object, so nothing of one domain
 * changes when another is added, changed or removed, and a policy change touches only the
 * domain's Publication. The Publication depends on the distribution, the alias records and the
 * bucket policy: CloudFormation runs it once the file can be served (publish before announce,
 * RFC 8461 §3.1) and, on removal, deletes it (and so the TXT record) before them.
 */
export function publishPolicyDomain(scope: Construct, props: PolicyDomainProps): PolicyDomainResources {
  const certificate = props.certificate ?? createPolicyHostCertificate(scope, 'Certificate', props.names.policyHost, props.zone);
  const distribution = createPolicyDistribution(scope, 'Distribution', {
    bucket: props.bucket,
    originPath: originPathOf(props.domainName),
    originAccessControl: props.originAccessControl,
    certificate,
    domainName: props.names.policyHost,
    priceClass: props.priceClass,
    comment: `MTA-STS policy for ${props.domainName}`.slice(0, 128),
  });

  const target = route53.RecordTarget.fromAlias(new targets.CloudFrontTarget(distribution));
  const aliasRecord = new route53.ARecord(scope, 'AliasRecord', { zone: props.zone, recordName: `${props.names.policyHost}.`, target });
  const aliasRecordIpv6 = new route53.AaaaRecord(scope, 'AliasRecordIpv6', { zone: props.zone, recordName: `${props.names.policyHost}.`, target });

  const publication = createPublication(scope, 'Publication', {
    domainName: props.domainName,
    policy: props.policy,
    bucket: props.bucket,
    objectKey: policyKeyOf(props.domainName),
    zone: props.zone,
    recordName: props.names.policyRecord,
    ttl: props.ttl,
    retainObject: props.retainObject,
    replaceExistingRecord: props.replaceExistingRecords,
    distributionId: distribution.distributionId,
    servedBy: [distribution, aliasRecord, aliasRecordIpv6, ...props.readAccess],
  });

  const tlsRptRecord = props.tlsRpt && new route53.TxtRecord(scope, 'TlsRptRecord', {
    zone: props.zone,
    recordName: `${props.names.tlsRptRecord}.`,
    values: [props.tlsRpt.value],
    ttl: props.ttl,
  });

  recordPolicyDomain(scope, {
    domainName: props.domainName,
    policy: props.policy,
    policyRecordName: props.names.policyRecord,
    tlsRptRecordName: props.tlsRpt && props.names.tlsRptRecord,
    tlsRptRecordValue: props.tlsRpt?.value,
  });
  addPolicyWarnings(props.annotate, props.domainName, props.policy, props.tlsRpt);
  if (props.names.policyRecord !== `_mta-sts.${props.domainName}`) {
    const runbook = delegationRunbook(props.domainName, props.zone, props.names, props.tlsRpt !== undefined);
    addInfoWithId(props.annotate, INFO_IDS.DELEGATED_ZONE_RECORDS, runbook);
  }
  return { certificate, distribution, aliasRecord, aliasRecordIpv6, publication, tlsRptRecord };
}

function addPolicyWarnings(scope: IConstruct, domainName: string, policy: MtaStsPolicy, tlsRpt?: TlsRptRecord): void {
  const annotations = Annotations.of(scope);
  if (!tlsRpt) {
    annotations.addWarningV2(WARNING_IDS.NO_TLS_RPT,
      `${domainName}: no \`tlsRpt\` given, so no _smtp._tls record is published and senders cannot report MTA-STS or TLS failures (RFC 8460).`);
  }
  if (policy.mode === MtaStsMode.NONE) {
    annotations.addWarningV2(WARNING_IDS.MODE_NONE,
      `${domainName}: mode "none" withdraws the policy; keep it published for at least the previous max_age before removing MTA-STS (RFC 8461 §8.3).`);
  }
  if (policy.mode === MtaStsMode.ENFORCE && policy.maxAgeSeconds < SHORT_MAX_AGE_SECONDS) {
    annotations.addWarningV2(WARNING_IDS.SHORT_MAX_AGE,
      `${domainName}: maxAge of ${policy.maxAgeSeconds} s in enforce mode gives little protection against downgrade attacks; RFC 8461 §3.2 recommends weeks.`);
  }
}

/**
 * The records to create once in the DNS outside Route 53 for a delegated `mta-sts.<domain>`
 * zone, in zone-file form.
 */
export function delegationRunbook(domainName: string, zone: route53.IHostedZone, names: RecordNames, tlsRpt: boolean): string {
  const lines = [
    `${domainName}: create these records once at the DNS provider of ${domainName} (zone-file form):`,
    `  ${names.policyHost}. NS <each name server of hosted zone ${zone.hostedZoneId}>`,
    `  _mta-sts.${domainName}. CNAME ${names.policyRecord}.`,
  ];
  if (tlsRpt) {
    lines.push(`  _smtp._tls.${domainName}. CNAME ${names.tlsRptRecord}.`);
  }
  lines.push('Create and delegate the zone before the first deploy: the certificate is validated in it, and the deploy waits until it is.');
  return lines.join('\n');
}

/** The names of the records of `domainName`; in a zone delegated for `mta-sts.<domain>` they all live inside it. */
export function recordNamesOf(domainName: string, delegated: boolean): RecordNames {
  const policyHost = policyHostOf(domainName);
  return delegated
    ? { policyHost, policyRecord: `_mta-sts.${policyHost}`, tlsRptRecord: `_smtp._tls.${policyHost}` }
    : { policyHost, policyRecord: `_mta-sts.${domainName}`, tlsRptRecord: `_smtp._tls.${domainName}` };
}
