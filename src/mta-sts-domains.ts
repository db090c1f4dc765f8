import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { MtaStsMode } from './mode';
import { MtaStsPolicy } from './policy';
import { planCertificate } from './private/certificate';
import { DEFAULT_PRICE_CLASS, DEFAULT_RECORD_TTL, recordTtlProblems } from './private/defaults';
import { createPolicyDistribution } from './private/distribution';
import { resolveDomain } from './private/domain';
import { groupDomains } from './private/grouping';
import { normaliseHostname, quote } from './private/hostname';
import { recordPolicyDomain } from './private/metadata';
import { addMxDriftCheck } from './private/mx-drift';
import { addNagSuppressions } from './private/nag';
import { policyHostOf, policyUrlOf } from './private/names';
import { analysePolicy } from './private/policy-rules';
import { PolicyObject, createPolicyBucket } from './private/policy-store';
import { throwIfProblems } from './private/problems';
import { addDomainRecords, DomainRecords } from './private/records';
import { registerPolicyDomain } from './private/registry';
import { createRoutingFunction } from './private/routing';
import { tlsRptProblems } from './private/tls-rpt-rules';
import { TlsRptOptions, TlsRptRecord } from './tls-rpt';

/**
 * One policy domain of an MtaStsDomains construct. Policy fields left out take the
 * construct's defaults.
 */
export interface MtaStsDomainOptions {
  /** The hosted zone that holds this domain's records and certificate validation records. */
  readonly hostedZone: route53.IHostedZone;

  /**
   * The policy domain: the zone's name or a name below it. Must be known at synthesis time
   * (it selects the domain's group and construct ids).
   *
   * @default - the hosted zone's name
   */
  readonly domainName?: string;

  /**
   * The policy mode for this domain.
   *
   * @default - the construct's `mode`
   */
  readonly mode?: MtaStsMode;

  /**
   * The MX patterns for this domain.
   *
   * @default - the construct's `mx`
   */
  readonly mx?: string[];

  /**
   * The policy lifetime for this domain.
   *
   * @default - the construct's `maxAge`
   */
  readonly maxAge?: Duration;

  /**
   * TLS-RPT for this domain.
   *
   * @default - the construct's `tlsRpt`
   */
  readonly tlsRpt?: TlsRptOptions;
}

/**
 * Properties of an MtaStsDomains construct.
 */
export interface MtaStsDomainsProps {
  /** The policy domains. Each keeps its own records, `mta-sts.<domain>` name and policy. */
  readonly domains: MtaStsDomainOptions[];

  /**
   * The policy mode of domains that do not set one.
   *
   * @default MtaStsMode.TESTING
   * @see https://www.rfc-editor.org/rfc/rfc8461#section-5
   */
  readonly mode?: MtaStsMode;

  /**
   * The MX patterns of domains that do not set their own; see `MtaStsPolicyProps.mx`.
   *
   * @default - none: each domain must set `mx` unless its mode is NONE
   * @see https://www.rfc-editor.org/rfc/rfc8461#section-4.1
   */
  readonly mx?: string[];

  /**
   * The policy lifetime of domains that do not set one.
   *
   * @default Duration.days(7)
   */
  readonly maxAge?: Duration;

  /**
   * TLS-RPT of domains that do not set their own.
   *
   * @default - no `_smtp._tls` record for those domains, and a warning each
   */
  readonly tlsRpt?: TlsRptOptions;

  /**
   * How many `mta-sts.<domain>` names share one certificate and one distribution. ACM allows
   * 10 names per certificate by default (more on request); CloudFront allows 100 alternate
   * names per distribution. Domains are grouped by a hash of their name; see the README.
   *
   * @default 10
   */
  readonly certificateGroupSize?: number;

  /**
   * Which CloudFront edge locations serve the policies.
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
   * TTL of the TXT records.
   *
   * @default Duration.minutes(5)
   */
  readonly recordTtl?: Duration;
}

interface DomainPlan {
  readonly domainName: string;
  readonly options: MtaStsDomainOptions;
  readonly policy: MtaStsPolicy;
  readonly tlsRpt?: TlsRptRecord;
}

/** ACM's default quota of names per certificate. */
const DEFAULT_GROUP_SIZE = 10;
/** CloudFront's quota of alternate domain names per distribution. */
const MAX_GROUP_SIZE = 100;

/**
 * Publishes MTA-STS and TLS-RPT for many policy domains from one construct, sharing what can
 * be shared: one bucket, one upload function per stack, one policy object per distinct policy
 * text, and one certificate and distribution per group of `certificateGroupSize` domains,
 * while each domain keeps its own `mta-sts.<domain>` name, `_mta-sts` and `_smtp._tls`
 * records, and policy. Domains may live in different hosted zones.
 *
 * A CloudFront Function on each distribution serves each host the policy of its own domain.
 * Construct ids of per-domain resources are derived from the domain name, and groups from a
 * hash of it, so adding or removing a domain leaves the other groups' resources alone.
 *
 * @example
 * declare const zoneA: route53.IHostedZone;
 * declare const zoneB: route53.IHostedZone;
 * new MtaStsDomains(this, 'MtaSts', {
 *   mx: ['*.mail.protection.outlook.com'],
 *   tlsRpt: { rua: ['mailto:tls-reports@example.com'] },
 *   domains: [
 *     { hostedZone: zoneA },
 *     { hostedZone: zoneB, mode: MtaStsMode.ENFORCE },
 *   ],
 * });
 */
export class MtaStsDomains extends Construct {
  /** The policy domains, normalised, sorted. */
  public readonly domainNames: string[];
  /** The private bucket holding every policy file. */
  public readonly bucket: s3.IBucket;
  /** The distributions, one per group of domains, in group order. */
  public readonly distributions: cloudfront.Distribution[];
  /** The certificates, one per group of domains, in group order. */
  public readonly certificates: acm.ICertificate[];

  private readonly plans = new Map<string, DomainPlan>();
  private readonly distributionOf = new Map<string, cloudfront.Distribution>();
  private readonly recordsOf = new Map<string, DomainRecords>();

  constructor(scope: Construct, id: string, props: MtaStsDomainsProps) {
    super(scope, id);

    // Check everything first and throw once, before any resource exists.
    const problems = new Set<string>();
    const groupSize = props.certificateGroupSize ?? DEFAULT_GROUP_SIZE;
    if (!Number.isInteger(groupSize) || groupSize < 1 || groupSize > MAX_GROUP_SIZE) {
      problems.add(`\`certificateGroupSize\` must be a whole number from 1 to ${MAX_GROUP_SIZE}, got: ${quote(groupSize)}`);
    }
    recordTtlProblems(props.recordTtl).forEach(problem => problems.add(problem));
    if (props.domains.length === 0) {
      problems.add('`domains` must list at least one domain, got: []');
    }
    const firstIndex = new Map<string, number>();
    props.domains.forEach((options, index) => {
      for (const problem of this.planDomain(options, index, props, firstIndex)) {
        problems.add(problem);
      }
    });
    throwIfProblems(`MtaStsDomains configuration at ${this.node.path}`, [...problems]);

    this.domainNames = [...this.plans.keys()].sort();
    const groups = groupDomains(this.domainNames, groupSize);
    const certificatePlans = [...groups.entries()].map(([key, members]) => ({
      key,
      members,
      plan: planCertificate(this, {
        names: members.map(policyHostOf),
        zones: members.map(name => this.plans.get(name)!.options.hostedZone),
        id: 'Certificate',
        companionId: `${this.node.addr}${groupId(key)}Certificate`,
      }),
    }));
    throwIfProblems(`MtaStsDomains configuration at ${this.node.path}`, [...new Set(certificatePlans.flatMap(g => g.plan.problems))]);

    const bucket = createPolicyBucket(this, props.removalPolicy ?? RemovalPolicy.RETAIN);
    this.bucket = bucket;
    const originAccessControl = new cloudfront.S3OriginAccessControl(this, 'OriginAccessControl', {
      description: `MTA-STS policy bucket access for ${this.node.path}`.slice(0, 256),
    });

    // One object per distinct policy text, keyed by its id; in domain-name order, so that the
    // order of `domains` does not change the template.
    const policyObjects = new Map<string, PolicyObject>();
    for (const plan of this.domainNames.map(name => this.plans.get(name)!)) {
      if (!policyObjects.has(plan.policy.id)) {
        policyObjects.set(plan.policy.id, new PolicyObject(this, `Policy${plan.policy.id}`, {
          bucket,
          key: policyKey(plan.policy),
          text: plan.policy.text,
        }));
      }
    }

    this.distributions = [];
    this.certificates = [];
    for (const { key, members, plan } of certificatePlans) {
      const group = new Construct(this, groupId(key));
      const certificate = plan.obtain(group);
      const routing = createRoutingFunction(group, 'Routing', Object.fromEntries(
        members.map(name => [policyHostOf(name), policyKey(this.plans.get(name)!.policy)]),
      ));
      const distribution = createPolicyDistribution(group, 'Distribution', {
        bucket,
        certificate,
        domainNames: members.map(policyHostOf),
        priceClass: props.priceClass ?? DEFAULT_PRICE_CLASS,
        originAccessControl,
        routing,
        comment: `MTA-STS policies for ${members.length} domains, group ${key || 'all'}`.slice(0, 128),
      });
      this.distributions.push(distribution);
      this.certificates.push(certificate);
      members.forEach(name => this.distributionOf.set(name, distribution));
    }

    for (const name of this.domainNames) {
      const plan = this.plans.get(name)!;
      const distribution = this.distributionOf.get(name)!;
      this.recordsOf.set(name, addDomainRecords(new Construct(this, name), {
        zone: plan.options.hostedZone,
        domainName: name,
        distribution,
        policy: plan.policy,
        tlsRpt: plan.tlsRpt,
        ttl: props.recordTtl ?? DEFAULT_RECORD_TTL,
        publishedBy: [policyObjects.get(plan.policy.id)!],
      }));
      recordPolicyDomain(this, {
        domainName: name,
        policy: plan.policy,
        policyRecordName: `_mta-sts.${name}`,
        tlsRptRecordName: plan.tlsRpt && `_smtp._tls.${name}`,
        tlsRptRecordValue: plan.tlsRpt?.value,
      });
    }

    addNagSuppressions(this);
    addMxDriftCheck(this);
  }

  /** The policy published for a domain. */
  public policyFor(domainName: string): MtaStsPolicy {
    return this.planOf(domainName).policy;
  }

  /** The URL senders fetch a domain's policy from. */
  public policyUrlFor(domainName: string): string {
    return policyUrlOf(this.planOf(domainName).domainName);
  }

  /** The distribution serving a domain's `mta-sts.<domain>` host. */
  public distributionFor(domainName: string): cloudfront.Distribution {
    return this.distributionOf.get(this.planOf(domainName).domainName)!;
  }

  /** A domain's `_mta-sts` TXT record. */
  public policyRecordFor(domainName: string): route53.TxtRecord {
    return this.recordsOf.get(this.planOf(domainName).domainName)!.policyRecord;
  }

  /** A domain's `_smtp._tls` TXT record, if it publishes TLS-RPT. */
  public tlsRptRecordFor(domainName: string): route53.TxtRecord | undefined {
    return this.recordsOf.get(this.planOf(domainName).domainName)!.tlsRptRecord;
  }

  private planOf(domainName: string): DomainPlan {
    const key = normaliseHostname(domainName).value;
    if (key === undefined || !this.plans.has(key)) {
      throw new Error(`\`domainName\` must be one of the domains of ${this.node.path}, got: ${quote(domainName)}`);
    }
    return this.plans.get(key)!;
  }

  /** Validates one domain; records its plan when valid. Returns its problems. */
  private planDomain(options: MtaStsDomainOptions, index: number, defaults: MtaStsDomainsProps, firstIndex: Map<string, number>): string[] {
    const own = `domains[${index}].`;
    const domain = resolveDomain(options.hostedZone, options.domainName, own);
    const label = domain.domainName && !Token.isUnresolved(domain.domainName) ? domain.domainName : `domains[${index}]`;
    const problems = domain.problems.map(p => `${label}: ${p}`);
    if (Token.isUnresolved(domain.domainName)) {
      problems.push(`${label}: \`${own}domainName\` must be known at synthesis time, since it selects the domain's group and ids, got: an unresolved token`);
    } else if (domain.problems.length === 0) {
      const seen = firstIndex.get(domain.domainName);
      if (seen !== undefined) {
        problems.push(`${label}: \`${own}domainName\` must not repeat \`domains[${seen}]\`, got: ${quote(domain.domainName)}`);
      } else {
        firstIndex.set(domain.domainName, index);
      }
    }

    const policyProps = {
      mode: options.mode ?? defaults.mode,
      mx: options.mx ?? defaults.mx ?? [],
      maxAge: options.maxAge ?? defaults.maxAge,
    };
    const fieldName = (field: 'mode' | 'mx' | 'maxAge') => (options[field] !== undefined ? `${own}${field}` : field);
    const policyProblems = analysePolicy(policyProps, fieldName).problems;
    const tlsRpt = options.tlsRpt ?? defaults.tlsRpt;
    const tlsRptIssues = tlsRpt ? tlsRptProblems(tlsRpt, options.tlsRpt ? `${own}tlsRpt.` : 'tlsRpt.') : [];
    // A problem in a domain's own field names the domain; one in a default is reported once.
    for (const problem of [...policyProblems, ...tlsRptIssues]) {
      const fromDefaults = !problem.startsWith(`\`${own}`) && !problem.includes('must list at least one MX host');
      problems.push(fromDefaults ? problem : `${label}: ${problem}`);
    }
    if (problems.length === 0) {
      const duplicate = registerPolicyDomain(this, domain.domainName, new MtaStsPolicy(policyProps));
      if (duplicate) {
        return [`${label}: ${duplicate}`];
      }
      this.plans.set(domain.domainName, {
        domainName: domain.domainName,
        options,
        policy: new MtaStsPolicy(policyProps),
        tlsRpt: tlsRpt && new TlsRptRecord(tlsRpt),
      });
    }
    return problems;
  }
}

function groupId(key: string): string {
  return key === '' ? 'Group' : `Group${key}`;
}

function policyKey(policy: MtaStsPolicy): string {
  return `mta-sts/${policy.id}.txt`;
}
