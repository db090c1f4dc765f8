import { CfnOutput, CustomResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { PUBLICATION_ATTRIBUTES } from './core/publication';
import { MtaStsPolicy, MtaStsPolicyProps } from './policy';
import { certificateNameProblems, suppliedCertificateProblems } from './private/certificate';
import { tlsRptRecordWith } from './private/collector-link';
import { DEFAULT_PRICE_CLASS, DEFAULT_RECORD_TTL, recordTtlProblems } from './private/defaults';
import { resolveDomain } from './private/domain';
import { addMxDriftCheck } from './private/mx-drift';
import { addNagSuppressions } from './private/nag';
import { policyHostOf, policyUrlOf } from './private/names';
import { placeResources } from './private/placement';
import { publishPolicyDomain, recordNamesOf } from './private/policy-domain';
import { analysePolicy } from './private/policy-rules';
import { createPolicyBucket, sharedOriginAccessControl } from './private/policy-store';
import { throwIfProblems } from './private/problems';
import { registerPolicyDomain } from './private/registry';
import { addStackLimitChecks } from './private/stack-limits';
import { tlsRptProblems } from './private/tls-rpt-rules';
import { TlsRptOptions } from './tls-rpt';
import type { TlsRptCollector } from './tls-rpt-collector';

/**
 * Properties of an MtaSts construct: the policy contents plus where and how to publish them.
 */
export interface MtaStsProps extends MtaStsPolicyProps {
  /**
   * The hosted zone that holds the domain's records: the domain's own zone (or a parent's), or
   * a zone named exactly `mta-sts.<domainName>` delegated from DNS outside Route 53, in which
   * case every record is written inside it (see the README's "DNS outside Route 53"). The
   * certificate's validation records are written to it too.
   */
  readonly hostedZone: route53.IHostedZone;

  /**
   * The policy domain: the domain in email addresses. The zone's name, a name below it, or,
   * with a delegated `mta-sts.<domain>` zone, the domain itself. Normalised like MX hosts (lower
   * case, no trailing dot, A-labels). Must be known at synthesis time: it names the domain's
   * resources.
   *
   * @default - the hosted zone's name
   * @see https://www.rfc-editor.org/rfc/rfc8461#section-3.4
   */
  readonly domainName?: string;

  /**
   * Publish a TLS-RPT record so senders report failures.
   *
   * @default - no `_smtp._tls` record, and a `cdk-mta-sts:noTlsRpt` warning at synthesis
   * @see https://www.rfc-editor.org/rfc/rfc8460#section-3
   */
  readonly tlsRpt?: TlsRptOptions;

  /**
   * A collector that receives this domain's TLS-RPT reports in the account: its address is put
   * first in the `rua` list (some senders report only to the first), then its HTTPS endpoint if
   * it has one, then `tlsRpt.rua`; and the domain is added to the collector's domains with its
   * mode. With a collector, `tlsRpt` is optional.
   *
   * @default - no collector: reports go only to `tlsRpt.rua`
   * @see https://www.rfc-editor.org/rfc/rfc8460#section-3
   */
  readonly tlsRptCollector?: TlsRptCollector;

  /**
   * The certificate for `mta-sts.<domain>`. Must be an ACM certificate in us-east-1
   * (CloudFront's rule): a literal ARN that is not one is an error, and so is a certificate
   * whose stack region is known and differs.
   *
   * @default - a DNS-validated certificate for `mta-sts.<domain>`, validated in `hostedZone`
   */
  readonly certificate?: acm.ICertificate;

  /**
   * Which CloudFront edge locations serve the policy.
   *
   * @default cloudfront.PriceClass.PRICE_CLASS_100
   */
  readonly priceClass?: cloudfront.PriceClass;

  /**
   * What happens to the policy bucket when it leaves the stack. With `RETAIN` the bucket keeps
   * its policy files; with `DESTROY` each file is deleted with its domain, so the emptied
   * bucket can be deleted.
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

  /**
   * Let the first deploy replace a `_mta-sts` TXT record that already exists in the zone and
   * was not written by this construct (for example one created by hand). Without it, such a
   * record makes the deploy fail with a message naming it, and nothing is changed.
   *
   * @default false
   */
  readonly replaceExistingRecords?: boolean;

  /**
   * Add stack outputs with the policy URL, the published policy id and the TXT records, so
   * `cdk deploy` prints them (the id is made at deploy time). Three or four outputs, of the 200
   * CloudFormation allows per stack.
   *
   * @default true
   */
  readonly outputs?: boolean;
}

/**
 * Publishes MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) for one mail domain.
 *
 * Creates a private S3 bucket holding the policy file, a CloudFront distribution on
 * `mta-sts.<domain>` with an ACM certificate and A/AAAA alias records, a publishing step that
 * writes the policy file and then the `_mta-sts` TXT record announcing it with a new id, and
 * (with `tlsRpt`) the `_smtp._tls` TXT record. Outside us-east-1 these resources live in a
 * companion stack in us-east-1.
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
  /**
   * The id published in the `_mta-sts` TXT record: made at deploy time (a token at synthesis),
   * it begins with `policyContentId` and is new on every publication.
   */
  public readonly policyId: string;
  /** The first 16 characters of every id published for this policy text: a hash of the text. */
  public readonly policyContentId: string;
  /** The exact bytes served as the policy file. */
  public readonly policyText: string;
  /** The host serving the policy: `mta-sts.<domain>`. */
  public readonly policyHost: string;
  /** Where senders fetch the policy: `https://mta-sts.<domain>/.well-known/mta-sts.txt`. */
  public readonly policyUrl: string;
  /** The value of the `_mta-sts` TXT record, `v=STSv1; id=<policyId>` (a token at synthesis). */
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
  /** The step that writes the policy file and then the `_mta-sts` TXT record (`Custom::MtaStsPolicyPublication`). */
  public readonly publication: CustomResource;
  /** The `_smtp._tls.<domain>` TXT record, when `tlsRpt` is given. */
  public readonly tlsRptRecord?: route53.TxtRecord;

  /**
   * @param scope the parent construct
   * @param id the construct id
   * @param props the policy and where to publish it
   * @throws Error listing every problem when a prop is invalid
   */
  constructor(scope: Construct, id: string, props: MtaStsProps) {
    super(scope, id);

    // Check everything first and throw once, before any resource exists.
    const domain = resolveDomain(props.hostedZone, props.domainName, '');
    const policyAnalysis = analysePolicy(props, '');
    const problems = [
      ...domain.problems,
      ...policyAnalysis.problems,
      ...(props.tlsRpt ? tlsRptProblems(props.tlsRpt, 'tlsRpt.') : []),
      ...recordTtlProblems(props.recordTtl),
      ...(props.certificate
        ? suppliedCertificateProblems(props.certificate, 'certificate')
        : domain.problems.length === 0 ? certificateNameProblems(policyHostOf(domain.domainName), 'domainName', domain.domainName) : []),
    ];
    const placement = placeResources(this, { zones: [{ zone: props.hostedZone, prop: 'hostedZone' }], certificateSupplied: props.certificate !== undefined });
    problems.push(...placement.problems);
    const policy = problems.length === 0 ? new MtaStsPolicy(props) : undefined;
    const duplicate = policy && registerPolicyDomain(this, domain.domainName, policy);
    problems.push(...(duplicate ? [duplicate] : []));
    throwIfProblems(`MtaSts configuration at ${this.node.path}`, problems);

    this.domainName = domain.domainName;
    this.policy = policy!;
    this.policyContentId = this.policy.contentId;
    this.policyText = this.policy.text;
    this.policyHost = policyHostOf(this.domainName);
    this.policyUrl = policyUrlOf(this.domainName);
    const tlsRpt = tlsRptRecordWith(this, props.tlsRpt, props.tlsRptCollector);
    this.tlsRptRecordValue = tlsRpt?.value;
    props.tlsRptCollector?.addPolicyDomain(this.domainName, this.policy.mode);

    const where = placement.scope();
    addStackLimitChecks(Stack.of(where));
    const originAccessControl = sharedOriginAccessControl(where);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const bucket = createPolicyBucket(where, removalPolicy);
    this.bucket = bucket;
    const names = recordNamesOf(this.domainName, domain.delegated);
    const resources = publishPolicyDomain(new Construct(where, this.domainName), {
      domainName: this.domainName,
      zone: props.hostedZone,
      names,
      policy: this.policy,
      tlsRpt,
      ttl: props.recordTtl ?? DEFAULT_RECORD_TTL,
      bucket,
      originAccessControl,
      certificate: props.certificate,
      priceClass: props.priceClass ?? DEFAULT_PRICE_CLASS,
      retainObject: removalPolicy !== RemovalPolicy.DESTROY,
      replaceExistingRecords: props.replaceExistingRecords ?? false,
      readAccess: bucket.policy ? [bucket.policy] : [],
      annotate: this,
    });
    this.certificate = resources.certificate;
    this.distribution = resources.distribution;
    this.aliasRecord = resources.aliasRecord;
    this.aliasRecordIpv6 = resources.aliasRecordIpv6;
    this.publication = resources.publication;
    this.tlsRptRecord = resources.tlsRptRecord;
    this.policyId = this.publication.getAttString(PUBLICATION_ATTRIBUTES.PolicyId);
    this.policyRecordValue = this.publication.getAttString(PUBLICATION_ATTRIBUTES.RecordValue);

    if (props.outputs ?? true) {
      const outputs = new Construct(where, 'Outputs');
      new CfnOutput(outputs, 'PolicyUrl', { value: this.policyUrl, description: `MTA-STS policy URL of ${this.domainName}` });
      new CfnOutput(outputs, 'PolicyId', { value: this.policyId, description: `MTA-STS policy id of ${this.domainName}, made at deploy` });
      new CfnOutput(outputs, 'PolicyRecord', {
        value: `${names.policyRecord} TXT "${this.policyRecordValue}"`,
        description: 'MTA-STS policy record',
      });
      if (this.tlsRptRecordValue) {
        new CfnOutput(outputs, 'TlsRptRecord', {
          value: `${names.tlsRptRecord} TXT "${this.tlsRptRecordValue}"`,
          description: 'TLS-RPT record',
        });
      }
    }

    addNagSuppressions(where);
    addMxDriftCheck(this);
  }
}
