import { CustomResource, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { PUBLICATION_ATTRIBUTES } from './core/publication';
import { MtaStsMode } from './mode';
import { MtaStsPolicy } from './policy';
import { certificateNameProblems } from './private/certificate';
import { tlsRptRecordWith } from './private/collector-link';
import { DEFAULT_PRICE_CLASS, DEFAULT_RECORD_TTL, recordTtlProblems } from './private/defaults';
import { resolveDomain } from './private/domain';
import { normaliseHostname, quote } from './private/hostname';
import { addMxDriftCheck } from './private/mx-drift';
import { addNagSuppressions } from './private/nag';
import { policyHostOf, policyUrlOf } from './private/names';
import { placeResources } from './private/placement';
import { PolicyDomainResources, publishPolicyDomain, recordNamesOf } from './private/policy-domain';
import { analysePolicy } from './private/policy-rules';
import { createOriginAccessControl, createPolicyBucket } from './private/policy-store';
import { throwIfProblems } from './private/problems';
import { registerPolicyDomain } from './private/registry';
import { addStackLimitChecks, MAX_STACK_RESOURCES } from './private/stack-limits';
import { tlsRptProblems } from './private/tls-rpt-rules';
import { TlsRptOptions, TlsRptRecord } from './tls-rpt';
import type { TlsRptCollector } from './tls-rpt-collector';

/**
 * One policy domain of an MtaStsDomains construct. Policy fields left out take the
 * construct's defaults.
 */
export interface MtaStsDomainOptions {
  /**
   * The hosted zone that holds this domain's records and certificate validation records: the
   * domain's zone (or a parent's), or a zone named exactly `mta-sts.<domainName>` delegated
   * from DNS outside Route 53.
   */
  readonly hostedZone: route53.IHostedZone;

  /**
   * The policy domain: the zone's name, a name below it, or the domain of a delegated
   * `mta-sts.<domain>` zone. Must be known at synthesis time (it names the domain's resources).
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
   * The MX patterns of domains that do not set their own (see `MtaStsPolicyProps.mx`).
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
   * A collector that receives the TLS-RPT reports of every domain: its address is put first in
   * each domain's `rua` list, then its HTTPS endpoint if it has one, then the domain's own (or
   * the default) `tlsRpt.rua`; and each domain is added to the collector with its mode.
   *
   * @default - no collector
   * @see https://www.rfc-editor.org/rfc/rfc8460#section-3
   */
  readonly tlsRptCollector?: TlsRptCollector;

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

  /**
   * Let the first deploy of a domain replace a `_mta-sts` TXT record that already exists and
   * was not written by this construct; see `MtaStsProps.replaceExistingRecords`.
   *
   * @default false
   */
  readonly replaceExistingRecords?: boolean;
}

interface DomainPlan {
  readonly domainName: string;
  readonly delegated: boolean;
  readonly options: MtaStsDomainOptions;
  readonly policy: MtaStsPolicy;
  readonly tlsRpt?: TlsRptRecord;
}

/** Resources shared by all domains: bucket, bucket policy, origin access control, publisher function and role. */
const SHARED_RESOURCES = 5;

/**
 * Publishes MTA-STS and TLS-RPT for many policy domains from one construct. The domains share
 * one bucket, one origin access control and the stack's one publisher function; each domain has
 * its own certificate, distribution, policy file, publishing step and records, all beneath a
 * construct named after the domain. So adding, changing, renaming or removing one domain never
 * touches another's resources. Domains may live in different hosted zones.
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
  /** The distributions, one per domain, in `domainNames` order. */
  public readonly distributions: cloudfront.Distribution[];
  /** The certificates, one per domain, in `domainNames` order. */
  public readonly certificates: acm.ICertificate[];

  private readonly plans = new Map<string, DomainPlan>();
  private readonly resourcesOf = new Map<string, PolicyDomainResources>();

  /**
   * @param scope the parent construct
   * @param id the construct id; per-domain children are named after their domains
   * @param props the domains and their defaults
   * @throws Error listing every problem when a prop is invalid
   */
  constructor(scope: Construct, id: string, props: MtaStsDomainsProps) {
    super(scope, id);

    // Check everything first and throw once, before any resource exists.
    const problems = new Set<string>();
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
    const resourceCount = SHARED_RESOURCES + [...this.plans.values()].reduce((sum, plan) => sum + 5 + (plan.tlsRpt ? 1 : 0), 0);
    if (resourceCount > MAX_STACK_RESOURCES) {
      problems.add(`\`domains\` must fit CloudFormation's ${MAX_STACK_RESOURCES} resources per stack (each domain takes 5, or 6 with TLS-RPT, plus ${SHARED_RESOURCES} shared); `
        + `split them over several stacks, got: ${this.plans.size} domains, ${resourceCount} resources`);
    }
    const placement = placeResources(this, {
      zones: props.domains.map((options, index) => ({ zone: options.hostedZone, prop: `domains[${index}].hostedZone` })),
      certificateSupplied: false,
    });
    placement.problems.forEach(problem => problems.add(problem));
    throwIfProblems(`MtaStsDomains configuration at ${this.node.path}`, [...problems]);

    this.domainNames = [...this.plans.keys()].sort();
    const where = placement.scope();
    addStackLimitChecks(Stack.of(where));
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const bucket = createPolicyBucket(where, removalPolicy);
    this.bucket = bucket;
    const originAccessControl = createOriginAccessControl(where, 'OriginAccessControl', `MTA-STS policy bucket access for ${where.node.path}`);

    this.distributions = [];
    this.certificates = [];
    for (const name of this.domainNames) {
      const plan = this.plans.get(name)!;
      const resources = publishPolicyDomain(new Construct(where, name), {
        domainName: name,
        zone: plan.options.hostedZone,
        names: recordNamesOf(name, plan.delegated),
        policy: plan.policy,
        tlsRpt: plan.tlsRpt,
        ttl: props.recordTtl ?? DEFAULT_RECORD_TTL,
        bucket,
        originAccessControl,
        priceClass: props.priceClass ?? DEFAULT_PRICE_CLASS,
        retainObject: removalPolicy !== RemovalPolicy.DESTROY,
        replaceExistingRecords: props.replaceExistingRecords ?? false,
        readAccess: bucket.policy ? [bucket.policy] : [],
        annotate: this,
      });
      this.resourcesOf.set(name, resources);
      props.tlsRptCollector?.addPolicyDomain(name, plan.policy.mode);
      this.distributions.push(resources.distribution);
      this.certificates.push(resources.certificate);
    }

    addNagSuppressions(where);
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

  /** The id published for a domain: made at deploy time, so a token at synthesis. */
  public policyIdFor(domainName: string): string {
    return this.publicationFor(domainName).getAttString(PUBLICATION_ATTRIBUTES.PolicyId);
  }

  /** The distribution serving a domain's `mta-sts.<domain>` host. */
  public distributionFor(domainName: string): cloudfront.Distribution {
    return this.resourcesOf.get(this.planOf(domainName).domainName)!.distribution;
  }

  /** The certificate of a domain's distribution. */
  public certificateFor(domainName: string): acm.ICertificate {
    return this.resourcesOf.get(this.planOf(domainName).domainName)!.certificate;
  }

  /** The step that writes a domain's policy file and then its `_mta-sts` TXT record. */
  public publicationFor(domainName: string): CustomResource {
    return this.resourcesOf.get(this.planOf(domainName).domainName)!.publication;
  }

  /** A domain's `_smtp._tls` TXT record, if it publishes TLS-RPT. */
  public tlsRptRecordFor(domainName: string): route53.TxtRecord | undefined {
    return this.resourcesOf.get(this.planOf(domainName).domainName)!.tlsRptRecord;
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
    if (domain.problems.length === 0) {
      const seen = firstIndex.get(domain.domainName);
      if (seen !== undefined) {
        problems.push(`${label}: \`${own}domainName\` must not repeat \`domains[${seen}]\`, got: ${quote(domain.domainName)}`);
      } else {
        firstIndex.set(domain.domainName, index);
      }
      problems.push(...certificateNameProblems(policyHostOf(domain.domainName), `${own}domainName`, domain.domainName).map(p => `${label}: ${p}`));
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
      const policy = new MtaStsPolicy(policyProps);
      const duplicate = registerPolicyDomain(this, domain.domainName, policy);
      if (duplicate) {
        return [`${label}: ${duplicate}`];
      }
      this.plans.set(domain.domainName, {
        domainName: domain.domainName,
        delegated: domain.delegated,
        options,
        policy,
        tlsRpt: tlsRptRecordWith(this, tlsRpt, defaults.tlsRptCollector),
      });
    }
    return problems;
  }
}
