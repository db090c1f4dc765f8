import { CfnOutput, Duration, Names, RemovalPolicy } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { MtaStsPolicy, MtaStsPolicyProps } from './policy';
import { planCertificate } from './private/certificate';
import { DEFAULT_PRICE_CLASS, DEFAULT_RECORD_TTL, recordTtlProblems } from './private/defaults';
import { createPolicyDistribution } from './private/distribution';
import { resolveDomain } from './private/domain';
import { recordPolicyDomain } from './private/metadata';
import { addMxDriftCheck } from './private/mx-drift';
import { addNagSuppressions } from './private/nag';
import { policyHostOf, policyUrlOf } from './private/names';
import { analysePolicy } from './private/policy-rules';
import { PolicyObject, createPolicyBucket } from './private/policy-store';
import { throwIfProblems } from './private/problems';
import { addDomainRecords } from './private/records';
import { registerPolicyDomain } from './private/registry';
import { tlsRptProblems } from './private/tls-rpt-rules';
import { TlsRptOptions, TlsRptRecord } from './tls-rpt';

/**
 * Properties of an MtaSts construct: the policy contents plus where and how to publish them.
 */
export interface MtaStsProps extends MtaStsPolicyProps {
  /**
   * The hosted zone that holds the domain's records. The `mta-sts`, `_mta-sts` and
   * `_smtp._tls` records and the certificate's validation records are written to it.
   */
  readonly hostedZone: route53.IHostedZone;

  /**
   * The policy domain: the domain in email addresses, the zone's name or a name below it.
   * Normalised like MX hosts (lower case, no trailing dot, A-labels). An unresolved token is
   * used as given, unchecked.
   *
   * @default - the hosted zone's name
   * @see https://www.rfc-editor.org/rfc/rfc8461#section-3.4
   */
  readonly domainName?: string;

  /**
   * Publish a TLS-RPT record so senders report failures.
   *
   * @default - no `_smtp._tls` record, and a warning at synthesis
   * @see https://www.rfc-editor.org/rfc/rfc8460#section-3
   */
  readonly tlsRpt?: TlsRptOptions;

  /**
   * The certificate for `mta-sts.<domain>`. Must be in us-east-1 (CloudFront's rule); one
   * whose region is known and differs is an error.
   *
   * @default - a DNS-validated certificate in `hostedZone`: created in the stack when the
   * stack is in us-east-1, else in a companion stack in us-east-1 (the stack must set
   * `crossRegionReferences: true`); a stack with no region must pass one
   */
  readonly certificate?: acm.ICertificate;

  /**
   * Which CloudFront edge locations serve the policy.
   *
   * @default cloudfront.PriceClass.PRICE_CLASS_100
   */
  readonly priceClass?: cloudfront.PriceClass;

  /**
   * What happens to the policy bucket when it leaves the stack.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * TTL of the `_mta-sts` and `_smtp._tls` TXT records. Short, so that a new policy id
   * reaches senders soon after it is deployed.
   *
   * @default Duration.minutes(5)
   */
  readonly recordTtl?: Duration;
}

/**
 * Publishes MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) for one mail domain.
 *
 * Creates a private S3 bucket holding `/.well-known/mta-sts.txt`, a CloudFront distribution on
 * `mta-sts.<domain>` with an ACM certificate and A/AAAA alias records, the `_mta-sts` TXT
 * record announcing the policy id, and (with `tlsRpt`) the `_smtp._tls` TXT record. The
 * `_mta-sts` record changes only after the new policy file is served.
 *
 * @example
 * declare const hostedZone: route53.IHostedZone;
 * new MtaSts(this, 'MtaSts', {
 *   hostedZone,
 *   mx: ['mx1.example.com', '*.mail.example.com'],
 *   tlsRpt: { rua: ['mailto:tls-reports@example.com'] },
 * });
 */
export class MtaSts extends Construct {
  /** The policy domain, normalised. */
  public readonly domainName: string;
  /** The validated, rendered policy. */
  public readonly policy: MtaStsPolicy;
  /** The id published in the `_mta-sts` TXT record. */
  public readonly policyId: string;
  /** The exact bytes served as the policy file. */
  public readonly policyText: string;
  /** The host serving the policy: `mta-sts.<domain>`. */
  public readonly policyHost: string;
  /** Where senders fetch the policy: `https://mta-sts.<domain>/.well-known/mta-sts.txt`. */
  public readonly policyUrl: string;
  /** The value of the `_mta-sts` TXT record. */
  public readonly policyRecordValue: string;
  /** The value of the `_smtp._tls` TXT record, when `tlsRpt` is given. */
  public readonly tlsRptRecordValue?: string;

  /** The private bucket holding the policy file. */
  public readonly bucket: s3.IBucket;
  /** The distribution serving `mta-sts.<domain>`. */
  public readonly distribution: cloudfront.Distribution;
  /** The certificate of the distribution, created or given. */
  public readonly certificate: acm.ICertificate;
  /** The A record for `mta-sts.<domain>`. */
  public readonly aliasRecord: route53.ARecord;
  /** The AAAA record for `mta-sts.<domain>`. */
  public readonly aliasRecordIpv6: route53.AaaaRecord;
  /** The `_mta-sts.<domain>` TXT record. */
  public readonly policyRecord: route53.TxtRecord;
  /** The `_smtp._tls.<domain>` TXT record, when `tlsRpt` is given. */
  public readonly tlsRptRecord?: route53.TxtRecord;

  constructor(scope: Construct, id: string, props: MtaStsProps) {
    super(scope, id);

    // Check everything first and throw once, before any resource exists.
    const domain = resolveDomain(props.hostedZone, props.domainName, '');
    const problems = [
      ...domain.problems,
      ...analysePolicy(props, '').problems,
      ...(props.tlsRpt ? tlsRptProblems(props.tlsRpt, 'tlsRpt.') : []),
      ...recordTtlProblems(props.recordTtl),
    ];
    const certificatePlan = planCertificate(this, {
      names: [policyHostOf(domain.domainName)],
      zones: [props.hostedZone],
      supplied: props.certificate,
      id: 'Certificate',
      companionId: `${Names.uniqueId(this)}Certificate`,
    });
    problems.push(...certificatePlan.problems);
    if (problems.length === 0) {
      problems.push(...[registerPolicyDomain(this, domain.domainName, new MtaStsPolicy(props))].filter((p): p is string => p !== undefined));
    }
    throwIfProblems(`MtaSts configuration at ${this.node.path}`, problems);

    this.domainName = domain.domainName;
    this.policy = new MtaStsPolicy(props);
    this.policyId = this.policy.id;
    this.policyText = this.policy.text;
    this.policyHost = policyHostOf(this.domainName);
    this.policyUrl = policyUrlOf(this.domainName);
    this.policyRecordValue = this.policy.recordValue;
    const tlsRpt = props.tlsRpt && new TlsRptRecord(props.tlsRpt);
    this.tlsRptRecordValue = tlsRpt?.value;

    const bucket = createPolicyBucket(this, props.removalPolicy ?? RemovalPolicy.RETAIN);
    this.bucket = bucket;
    const policyObject = new PolicyObject(this, 'PolicyObject', {
      bucket,
      key: MtaStsPolicy.WELL_KNOWN_PATH.slice(1),
      text: this.policyText,
    });

    this.certificate = certificatePlan.obtain();
    this.distribution = createPolicyDistribution(this, 'Distribution', {
      bucket,
      certificate: this.certificate,
      domainNames: [this.policyHost],
      priceClass: props.priceClass ?? DEFAULT_PRICE_CLASS,
      comment: `MTA-STS policy for ${this.domainName}`,
    });

    const records = addDomainRecords(this, {
      zone: props.hostedZone,
      domainName: this.domainName,
      distribution: this.distribution,
      policy: this.policy,
      tlsRpt,
      ttl: props.recordTtl ?? DEFAULT_RECORD_TTL,
      publishedBy: [policyObject],
    });
    this.aliasRecord = records.aliasRecord;
    this.aliasRecordIpv6 = records.aliasRecordIpv6;
    this.policyRecord = records.policyRecord;
    this.tlsRptRecord = records.tlsRptRecord;

    new CfnOutput(this, 'PolicyUrlOutput', { value: this.policyUrl, description: `MTA-STS policy URL of ${this.domainName}` });
    new CfnOutput(this, 'PolicyIdOutput', { value: this.policyId, description: `MTA-STS policy id of ${this.domainName}` });
    new CfnOutput(this, 'PolicyRecordOutput', {
      value: `_mta-sts.${this.domainName} TXT "${this.policyRecordValue}"`,
      description: 'MTA-STS policy record',
    });
    if (this.tlsRptRecordValue) {
      new CfnOutput(this, 'TlsRptRecordOutput', {
        value: `_smtp._tls.${this.domainName} TXT "${this.tlsRptRecordValue}"`,
        description: 'TLS-RPT record',
      });
    }

    recordPolicyDomain(this, {
      domainName: this.domainName,
      policy: this.policy,
      policyRecordName: `_mta-sts.${this.domainName}`,
      tlsRptRecordName: tlsRpt && `_smtp._tls.${this.domainName}`,
      tlsRptRecordValue: tlsRpt?.value,
    });
    addNagSuppressions(this);
    addMxDriftCheck(this);
  }
}
