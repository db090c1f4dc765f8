import { CfnOutput, CustomResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { PUBLICATION_ATTRIBUTES } from './core/publication';
import { MtaStsMode } from './mode';
import { MtaStsPolicy } from './policy';
import { CLOUDFRONT_CERTIFICATE_REGION } from './private/certificate';
import { tlsRptRecordWith } from './private/collector-link';
import { DEFAULT_PRICE_CLASS, DEFAULT_RECORD_TTL, validateRecordTtl } from './private/defaults';
import { PlannedDomain, planPolicyDomain, takeHandedOver } from './private/domain-plan';
import { quote } from './private/hostname';
import { addMxDriftCheck } from './private/mx-drift';
import { addNagSuppressions } from './private/nag';
import { policyHostOf, policyUrlOf } from './private/names';
import { placeResources } from './private/placement';
import { publishPolicyDomain, recordNamesOf } from './private/policy-domain';
import { allowPolicyReads, createPolicyBucket, POLICY_PREFIX, sharedOriginAccessControl } from './private/policy-store';
import { throwIfProblems } from './private/problems';
import { registerPolicyDomain } from './private/registry';
import { addStackLimitChecks } from './private/stack-limits';
import { TlsRptRecordProps } from './tls-rpt';
import type { TlsRptCollector } from './tls-rpt-collector';

/**
 * What one policy domain publishes: its zone, name, policy, TLS-RPT record and certificate. The
 * settings an `MtaStsDomains` construct takes per domain; fields left out take its defaults.
 */
export interface PolicyDomainOptions {
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
   * The policy mode.
   *
   * @default MtaStsMode.TESTING - senders report failures but still deliver (in MtaStsDomains:
   * the construct's `mode`)
   * @see https://www.rfc-editor.org/rfc/rfc8461#section-5
   */
  readonly mode?: MtaStsMode;

  /**
   * The MX hosts senders may deliver to: hostnames, or `*.` followed by a hostname, which
   * matches exactly one extra leftmost label (`*.mail.example.com` matches
   * `mx1.mail.example.com`, not `mail.example.com` nor `a.b.mail.example.com`). Normalised like
   * `MtaStsPolicyProps.mx`; must be known at synthesis time.
   *
   * @default - none, which is an error unless `mode` is NONE (in MtaStsDomains: the
   * construct's `mx`)
   * @see https://www.rfc-editor.org/rfc/rfc8461#section-4.1
   */
  readonly mx?: string[];

  /**
   * How long senders may cache the policy: whole seconds, at most about one year.
   *
   * @default Duration.days(7) (in MtaStsDomains: the construct's `maxAge`)
   * @see https://www.rfc-editor.org/rfc/rfc8461#section-3.2
   */
  readonly maxAge?: Duration;

  /**
   * Publish a TLS-RPT record so senders report failures.
   *
   * @default - no `_smtp._tls` record, and a `cdk-mta-sts:noTlsRpt` warning at synthesis (in
   * MtaStsDomains: the construct's `tlsRpt`)
   * @see https://www.rfc-editor.org/rfc/rfc8460#section-3
   */
  readonly tlsRpt?: TlsRptRecordProps;

  /**
   * The certificate for `mta-sts.<domain>`. Must be an ACM certificate in us-east-1
   * (CloudFront's rule): a literal ARN that is not one is an error, and so is a certificate
   * whose stack region is known and differs.
   *
   * @default - a DNS-validated certificate for `mta-sts.<domain>`, validated in `hostedZone`
   */
  readonly certificate?: acm.ICertificate;
}

/**
 * How policy domains are published: what a PolicyDomain (or MtaSts) takes beside the domain's own
 * settings, and what an MtaStsDomains applies to every domain.
 */
export interface PolicyPublishingOptions {
  /**
   * A collector that receives the domains' TLS-RPT reports in the account: its address is put
   * first in each `rua` list (some senders report only to the first), then its HTTPS endpoint if
   * it has one, then the domain's `tlsRpt.rua`; and each domain is added to the collector's
   * domains with its mode. With a collector, `tlsRpt` is optional.
   *
   * @default - no collector: reports go only to `tlsRpt.rua`
   * @see https://www.rfc-editor.org/rfc/rfc8460#section-3
   */
  readonly tlsRptCollector?: TlsRptCollector;

  /**
   * Which CloudFront edge locations serve the policy.
   *
   * @default cloudfront.PriceClass.PRICE_CLASS_100
   */
  readonly priceClass?: cloudfront.PriceClass;

  /**
   * What happens to a policy file, and to the buckets the constructs create, when they leave
   * the stack. With `RETAIN` they are kept; with `DESTROY` each file is deleted with its domain,
   * so an emptied bucket can be deleted.
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
   * Let the first deploy of a domain replace a `_mta-sts` TXT record that already exists in the
   * zone and was not written by this library (for example one created by hand). Without it, such a
   * record makes the deploy fail with a message naming it, and nothing is changed.
   *
   * @default false
   */
  readonly replaceExistingRecords?: boolean;

  /**
   * Add stack outputs with each domain's policy URL, published policy id and TXT records, so
   * `cdk deploy` prints them (the id is made at deploy time). Three or four outputs per domain,
   * of the 200 CloudFormation allows per stack (so at most about 50 domains per stack).
   *
   * @default true for a PolicyDomain or MtaSts; false for MtaStsDomains
   */
  readonly outputs?: boolean;

}

/**
 * Properties of a PolicyDomain: the domain's settings, how to publish them, and optionally a
 * bucket shared with other domains.
 */
export interface PolicyDomainProps extends PolicyDomainOptions, PolicyPublishingOptions {
  /**
   * A bucket to keep the policy file in, shared with other domains (each has its own folder).
   * The PolicyDomain must then be in the bucket's stack, and that stack must be able to hold
   * CloudFront's certificate: in us-east-1, or with no region and a `certificate` given. Its
   * resources are created directly beneath the PolicyDomain.
   *
   * @default - a private bucket of its own, created with the domain's resources (in a us-east-1
   * companion stack when the PolicyDomain's stack is in another region)
   */
  readonly bucket?: s3.IBucket;
}

/**
 * Publishes MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) for one mail domain: the unit that both
 * `MtaSts` (one domain) and `MtaStsDomains` (many; `domain(name)` returns each) are built from.
 *
 * Creates a CloudFront distribution on `mta-sts.<domain>` with an ACM certificate and A/AAAA
 * alias records, serving the policy file from a private S3 bucket; a publishing step that writes
 * the policy file and then the `_mta-sts` TXT record announcing it with a new id; and (with
 * `tlsRpt` or a collector) the `_smtp._tls` TXT record. Child ids: `Certificate` (unless
 * given), `Distribution`, `AliasRecord`, `AliasRecordIpv6`, `Publication`, `TlsRptRecord`;
 * beneath the construct itself when it shares a `bucket`, else beneath a child named after the
 * domain, beside the construct's `Bucket` and `Outputs`.
 *
 * @example
 * declare const hostedZone: route53.IHostedZone;
 * new PolicyDomain(this, 'ExampleCom', {
 *   hostedZone,
 *   mx: ['mx1.example.com', '*.mail.example.com'],
 *   tlsRpt: { rua: ['mailto:tls-reports@example.com'] },
 * });
 */
export class PolicyDomain extends Construct {
  /** The policy domain, normalised. */
  public readonly domainName: string;
  /** The hosted zone holding the domain's records. */
  public readonly hostedZone: route53.IHostedZone;
  /** The validated, rendered policy: its `text` is the exact file served, its `contentId` begins every id published for it. */
  public readonly policy: MtaStsPolicy;
  /**
   * The id published in the `_mta-sts` TXT record: made at deploy time (a token at synthesis),
   * it begins with `policy.contentId` and is new on every publication.
   */
  public readonly policyId: string;
  /** The host serving the policy: `mta-sts.<domain>`. */
  public readonly policyHost: string;
  /** Where senders fetch the policy: `https://mta-sts.<domain>/.well-known/mta-sts.txt`. */
  public readonly policyUrl: string;
  /** The value of the `_mta-sts` TXT record, `v=STSv1; id=<policyId>` (a token at synthesis). */
  public readonly policyRecordValue: string;
  /** The value of the `_smtp._tls` TXT record, when the domain publishes TLS-RPT. */
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
  /** The `_smtp._tls.<domain>` TXT record, when the domain publishes TLS-RPT. */
  public readonly tlsRptRecord?: route53.TxtRecord;

  /**
   * @param scope the parent construct
   * @param id the construct id
   * @param props the domain's settings and how to publish them
   * @throws Error listing every problem when a prop is invalid
   */
  constructor(scope: Construct, id: string, props: PolicyDomainProps) {
    super(scope, id);
    // A parent (MtaStsDomains) hands over what it checked, and a shared bucket beside which the
    // resources go beneath this construct; else they go beside a bucket of their own, in this
    // construct or its companion stack.
    const handedOver = takeHandedOver(props);
    const { planned, site } = handedOver ? { planned: handedOver, site: this } : this.validate(props);
    const { plan } = planned;
    this.domainName = plan.domainName;
    this.hostedZone = props.hostedZone;
    this.policy = plan.policy;
    this.policyHost = policyHostOf(this.domainName);
    this.policyUrl = policyUrlOf(this.domainName);
    this.tlsRptRecordValue = planned.tlsRpt?.value;
    props.tlsRptCollector?.addPolicyDomain(this.domainName, this.policy.mode);

    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const bucket = props.bucket ?? createPolicyBucket(site, removalPolicy);
    this.bucket = bucket;
    addStackLimitChecks(Stack.of(site));
    const names = recordNamesOf(this.domainName, plan.delegated);
    const resources = publishPolicyDomain(props.bucket ? this : new Construct(site, this.domainName), {
      domainName: this.domainName,
      zone: props.hostedZone,
      names,
      policy: this.policy,
      tlsRpt: planned.tlsRpt,
      ttl: props.recordTtl ?? DEFAULT_RECORD_TTL,
      bucket,
      originAccessControl: planned.originAccessControl ?? sharedOriginAccessControl(site),
      certificate: props.certificate,
      priceClass: props.priceClass ?? DEFAULT_PRICE_CLASS,
      retainObject: removalPolicy !== RemovalPolicy.DESTROY,
      replaceExistingRecords: props.replaceExistingRecords ?? false,
      readAccess: bucket.policy ? [bucket.policy] : [],
      annotate: planned.annotate ?? this,
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
      const outputs = new Construct(site, 'Outputs');
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
    if (!handedOver) {
      addNagSuppressions(site);
      addMxDriftCheck(this);
    }
  }

  /**
   * Checks every prop and throws once; registers the domain in the app. Returns the plan and where
   * the resources go: this construct with a shared bucket, else the placement's scope.
   */
  private validate(props: PolicyDomainProps): { readonly planned: PlannedDomain; readonly site: Construct } {
    const kind = this.constructor.name;
    const result = planPolicyDomain(props, '');
    const problems = [...validateRecordTtl(props.recordTtl), ...result.problems];
    const placement = placeResources(this, {
      zones: [{ zone: props.hostedZone, prop: 'hostedZone' }],
      certificateSupplied: props.certificate !== undefined,
    });
    problems.push(...placement.problems);
    if (props.bucket && placement.problems.length === 0) {
      problems.push(...validateSharedBucket(this, props.bucket, placement.inPlace));
    }
    const duplicate = result.plan && registerPolicyDomain(this, result.plan.domainName, result.plan.policy);
    problems.push(...(duplicate ? [duplicate] : []));
    throwIfProblems(kind, problems, this);
    return {
      planned: { plan: result.plan!, tlsRpt: tlsRptRecordWith(this, props.tlsRpt, props.tlsRptCollector) },
      site: props.bucket ? this : placement.scope(),
    };
  }
}

/** A shared bucket must be in the PolicyDomain's stack, and that stack must hold CloudFront's resources. */
function validateSharedBucket(domain: PolicyDomain, bucket: s3.IBucket, inPlace: boolean): string[] {
  const stack = Stack.of(domain);
  if (!inPlace) {
    return [`\`bucket\` may be given only to a PolicyDomain in a stack in ${CLOUDFRONT_CERTIFICATE_REGION} (or with no region and a \`certificate\`), `
      + `since the domain's resources are created beside it and CloudFront takes certificates from ${CLOUDFRONT_CERTIFICATE_REGION} only, `
      + `got: stack ${quote(stack.stackName)} in ${stack.region}`];
  }
  if (Stack.of(bucket) !== stack) {
    return [`\`bucket\` must be in the PolicyDomain's stack ${quote(stack.stackName)}, since the domain's resources are created beside it, `
      + `got: a bucket of stack ${quote(Stack.of(bucket).stackName)} (${bucket.node.path})`];
  }
  if (!allowPolicyReads(bucket)) {
    return [`\`bucket\` must be a bucket whose policy this app sets (an s3.Bucket), since CloudFront's read of \`${POLICY_PREFIX}/*\` is granted `
      + `there, got: an imported bucket (${bucket.node.path})`];
  }
  return [];
}
