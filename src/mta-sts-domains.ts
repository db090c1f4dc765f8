import { Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { MtaStsMode } from './mode';
import { PolicyDomain, PolicyDomainOptions, PolicyDomainProps, PolicyPublishingOptions } from './policy-domain';
import { tlsRptRecordWith } from './private/collector-link';
import { validateRecordTtl } from './private/defaults';
import { DomainField, DomainPlan, handOver, planPolicyDomain } from './private/domain-plan';
import { normaliseHostname, quote } from './private/hostname';
import { addMxDriftCheck } from './private/mx-drift';
import { addNagSuppressions } from './private/nag';
import { MAX_SHARDS, placeInShards, placeResources, shardOf } from './private/placement';
import { createOriginAccessControl, createPolicyBucket } from './private/policy-store';
import { throwIfProblems } from './private/problems';
import { registerPolicyDomain } from './private/registry';
import { addStackLimitChecks, MAX_STACK_OUTPUTS, MAX_STACK_RESOURCES } from './private/stack-limits';
import { TlsRptRecord, TlsRptRecordProps } from './tls-rpt';

/**
 * One policy domain of an MtaStsDomains construct. Policy fields left out take the
 * construct's defaults.
 */
export interface MtaStsDomainOptions extends PolicyDomainOptions {
  /**
   * The shard (stack) this domain lives in, when the construct has `shards`: any index from 0
   * to 49, including indices at or above `shards`, which make new stacks. Pinning new domains
   * to new shards is how a construct grows past its shards' room without moving any domain.
   *
   * @default - a hash of the domain name modulo `shards`, which never changes for the domain
   */
  readonly shard?: number;
}

/**
 * Properties of an MtaStsDomains construct.
 */
export interface MtaStsDomainsProps extends PolicyPublishingOptions {
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
  readonly tlsRpt?: TlsRptRecordProps;

  /**
   * Spread the domains over this many stacks ("shards"), each in us-east-1 beside the
   * construct's stack, named `<stack name>-<construct id>-Shard<index>`, with its own bucket,
   * origin access control and publisher. A domain's shard is a hash of its name modulo
   * `shards` (or its `shard`), so adding, removing or renaming a domain never moves another one.
   * A shard holds about 80 domains (CloudFormation's 500 resources per stack); choose about one
   * shard per 40 domains you expect, since changing `shards` later moves domains between stacks.
   * Requires hosted zones with literal ids. Deploy with `cdk deploy --all`.
   *
   * @default - no shards: every domain in the construct's stack (in its us-east-1 companion
   * stack when the stack is in another region), up to about 80 domains
   */
  readonly shards?: number;
}

/** Resources every site (the construct's stack, its companion or a shard) shares: bucket, bucket policy, origin access control, publisher function and role. */
const SHARED_RESOURCES = 5;

/** About how many domains to plan per shard: half of what fits, so hash placement leaves room. */
const PLANNED_DOMAINS_PER_SHARD = 40;

/** One domain, checked, with where it goes. */
interface Placed {
  readonly plan: DomainPlan;
  readonly options: MtaStsDomainOptions;
  readonly tlsRpt?: TlsRptRecord;
  /** The shard index, or undefined without shards. */
  readonly shard?: number;
  /** CloudFormation resources and outputs the domain takes. */
  readonly resources: number;
  readonly outputs: number;
}

/**
 * Publishes MTA-STS and TLS-RPT for many policy domains from one construct: one PolicyDomain per
 * domain (`domain(name)`), named after the domain. Domains may live in different hosted zones.
 *
 * Without `shards`, the domains share one bucket, one origin access control and the stack's one
 * publisher function, in the construct (or its us-east-1 companion stack). With `shards`, they
 * are spread by a hash of their names over that many us-east-1 stacks, each with its own bucket,
 * origin access control and publisher: a thousand domains take one construct and one
 * `cdk deploy --all`. Either way each domain has its own certificate, distribution, policy file,
 * publishing step and records, so adding, changing, renaming or removing one domain never
 * touches another's resources, and never moves another to a different stack.
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
  /** The shard stacks, by shard index; empty without `shards`. */
  public readonly shardStacks: Stack[];

  private readonly domainsByName = new Map<string, PolicyDomain>();

  /**
   * @param scope the parent construct
   * @param id the construct id; per-domain children are named after their domains
   * @param props the domains and their defaults
   * @throws Error listing every problem when a prop is invalid
   */
  constructor(scope: Construct, id: string, props: MtaStsDomainsProps) {
    super(scope, id);

    // Check everything first and throw once, before any resource exists.
    const problems = new Set<string>(validateRecordTtl(props.recordTtl));
    validateShards(props.shards).forEach(problem => problems.add(problem));
    if (props.domains.length === 0) {
      problems.add('`domains` must list at least one domain, got: []');
    }
    const placed = new Map<string, Placed>();
    const firstIndex = new Map<string, number>();
    props.domains.forEach((options, index) => {
      for (const problem of this.placeDomain(options, index, props, firstIndex, placed)) {
        problems.add(problem);
      }
    });
    const zones = props.domains.map((options, index) => ({ zone: options.hostedZone, prop: `domains[${index}].hostedZone` }));
    // Every shard up to the highest in use is a stack, even an empty one: a shard stack that
    // left the app would keep publishing the domains it held, since `cdk deploy` never touches it.
    const shardIndices = props.shards === undefined ? []
      : indicesUpTo(Math.max(props.shards - 1, ...[...placed.values()].map(domain => domain.shard!)));
    const shards = props.shards === undefined ? undefined : placeInShards(this, shardIndices, zones);
    const placement = shards ? undefined : placeResources(this, { zones, certificateSupplied: false });
    [...(shards ?? placement!).problems, ...capacityProblems(this, [...placed.values()], props.shards)].forEach(problem => problems.add(problem));
    throwIfProblems('MtaStsDomains', [...problems], this);

    this.domainNames = [...placed.keys()].sort();
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const sites = new Map<number | undefined, { scope: Construct; bucket: s3.Bucket; originAccessControl: cloudfront.IOriginAccessControl }>();
    const siteOf = (shard: number | undefined) => {
      let site = sites.get(shard);
      if (!site) {
        const where = shards ? shards.stack(shard!) : placement!.scope();
        site = {
          scope: where,
          bucket: createPolicyBucket(where, removalPolicy),
          originAccessControl: createOriginAccessControl(where, 'OriginAccessControl', `MTA-STS policy bucket access for ${where.node.path}`),
        };
        addStackLimitChecks(Stack.of(where));
        sites.set(shard, site);
      }
      return site;
    };
    this.shardStacks = shardIndices.map(index => Stack.of(siteOf(index).scope));
    for (const name of this.domainNames) {
      const domain = placed.get(name)!;
      const site = siteOf(domain.shard);
      const domainProps: PolicyDomainProps = {
        hostedZone: domain.options.hostedZone,
        domainName: name,
        mode: domain.plan.policy.mode,
        mx: domain.plan.policy.mx,
        tlsRpt: domain.tlsRpt && { rua: domain.tlsRpt.rua },
        certificate: domain.options.certificate,
        tlsRptCollector: props.tlsRptCollector,
        priceClass: props.priceClass,
        removalPolicy,
        recordTtl: props.recordTtl,
        replaceExistingRecords: props.replaceExistingRecords,
        outputs: props.outputs ?? false,
        bucket: site.bucket,
      };
      const handed = handOver(domainProps, {
        plan: domain.plan, tlsRpt: domain.tlsRpt, originAccessControl: site.originAccessControl, annotate: this,
      });
      this.domainsByName.set(name, new PolicyDomain(site.scope, name, handed));
    }
    sites.forEach(site => addNagSuppressions(site.scope));
    addMxDriftCheck(this);
  }

  /**
   * The PolicyDomain publishing a domain: its policy, id, records, distribution and certificate.
   *
   * @param domainName one of `domainNames` (normalised the same way, so `Example.COM.` finds `example.com`)
   * @throws Error when the construct does not publish the domain
   */
  public domain(domainName: string): PolicyDomain {
    const key = normaliseHostname(domainName).value;
    const domain = key === undefined ? undefined : this.domainsByName.get(key);
    if (!domain) {
      throw new Error(`\`domainName\` must be one of the domains of ${this.node.path}, got: ${quote(domainName)}`);
    }
    return domain;
  }

  /** Validates one domain; records where it goes when valid. Returns its problems. */
  private placeDomain(options: MtaStsDomainOptions, index: number, defaults: MtaStsDomainsProps, firstIndex: Map<string, number>,
    placed: Map<string, Placed>): string[] {
    const own = `domains[${index}].`;
    // What the domain leaves out comes from the defaults, and a problem there names the default.
    const merged: PolicyDomainOptions = {
      ...options,
      mode: options.mode ?? defaults.mode,
      mx: options.mx ?? defaults.mx,
      maxAge: options.maxAge ?? defaults.maxAge,
      tlsRpt: options.tlsRpt ?? defaults.tlsRpt,
    };
    const inherited = new Set(INHERITABLE.filter(field => options[field] === undefined));
    const result = planPolicyDomain(merged, own, inherited);
    const label = result.domainName ?? labelOf(options, index);
    // A problem in a domain's own field names the domain; one in a default is reported once.
    const problems = result.problems.map(problem =>
      (problem.startsWith(`\`${own}`) || problem.includes('must list at least one MX host') ? `${label}: ${problem}` : problem));
    problems.push(...validateShard(options.shard, `${own}shard`, defaults.shards).map(problem => `${label}: ${problem}`));
    if (result.domainName !== undefined) {
      const seen = firstIndex.get(result.domainName);
      if (seen !== undefined) {
        problems.push(`${label}: \`${own}domainName\` must not repeat \`domains[${seen}]\`, got: ${quote(result.domainName)}`);
      } else {
        firstIndex.set(result.domainName, index);
      }
    }
    const plan = result.plan;
    if (!plan || problems.length > 0) {
      return problems;
    }
    const duplicate = registerPolicyDomain(this, plan.domainName, plan.policy);
    if (duplicate) {
      return [`${label}: ${duplicate}`];
    }
    const tlsRpt = tlsRptRecordWith(this, merged.tlsRpt, defaults.tlsRptCollector);
    const outputs = (defaults.outputs ?? false) ? 3 + (tlsRpt ? 1 : 0) : 0;
    placed.set(plan.domainName, {
      plan,
      options,
      tlsRpt,
      shard: defaults.shards === undefined ? undefined : options.shard ?? shardOf(plan.domainName, defaults.shards),
      resources: 4 + (options.certificate ? 0 : 1) + (tlsRpt ? 1 : 0),
      outputs,
    });
    return [];
  }
}

/** The policy fields a domain may leave to the construct's defaults. */
const INHERITABLE: readonly DomainField[] = ['mode', 'mx', 'maxAge', 'tlsRpt'];

/** 0, 1, ... `highest`. */
function indicesUpTo(highest: number): number[] {
  return Array.from({ length: highest + 1 }, (_, index) => index);
}

/** How a domain is named in a problem before its name is known to be valid. */
function labelOf(options: MtaStsDomainOptions, index: number): string {
  const given = options.domainName;
  return given !== undefined && typeof given === 'string' && !Token.isUnresolved(given) ? given : `domains[${index}]`;
}

/** `shards` must be a whole number from 1 to MAX_SHARDS. */
function validateShards(shards: number | undefined): string[] {
  if (shards === undefined || Token.isUnresolved(shards)) {
    return [];
  }
  return Number.isInteger(shards) && shards >= 1 && shards <= MAX_SHARDS ? []
    : [`\`shards\` must be a whole number from 1 to ${MAX_SHARDS}, got: ${quote(shards)}`];
}

/** `domains[i].shard` must be a whole number from 0 to MAX_SHARDS - 1, and needs `shards`. */
function validateShard(shard: number | undefined, prop: string, shards: number | undefined): string[] {
  if (shard === undefined) {
    return [];
  }
  if (shards === undefined) {
    return [`\`${prop}\` requires \`shards\`, since without it every domain lives in one stack, got: ${quote(shard)}`];
  }
  return Number.isInteger(shard) && shard >= 0 && shard < MAX_SHARDS ? []
    : [`\`${prop}\` must be a whole number from 0 to ${MAX_SHARDS - 1}, got: ${quote(shard)}`];
}

/**
 * Each site (the construct's stack or each shard) must fit CloudFormation's 500 resources and 200
 * outputs. A shard that would overflow is an error, never a reason to move domains elsewhere.
 */
function capacityProblems(construct: Construct, domains: Placed[], shards: number | undefined): string[] {
  const bySite = new Map<number | undefined, Placed[]>();
  for (const domain of domains) {
    const members = bySite.get(domain.shard) ?? [];
    members.push(domain);
    bySite.set(domain.shard, members);
  }
  const problems: string[] = [];
  for (const [shard, members] of [...bySite.entries()].sort(([a], [b]) => (a ?? 0) - (b ?? 0))) {
    const resources = SHARED_RESOURCES + members.reduce((sum, domain) => sum + domain.resources, 0);
    const outputs = members.reduce((sum, domain) => sum + domain.outputs, 0);
    if (resources <= MAX_STACK_RESOURCES && outputs <= MAX_STACK_OUTPUTS) {
      continue;
    }
    const load = `${members.length} domains, ${resources} resources, ${outputs} outputs`;
    const limits = `CloudFormation's ${MAX_STACK_RESOURCES} resources and ${MAX_STACK_OUTPUTS} outputs per stack (each domain takes 5 resources, `
      + `6 with TLS-RPT, 1 fewer with a given certificate, plus ${SHARED_RESOURCES} shared; and 3 or 4 outputs with \`outputs\`)`;
    if (shard === undefined) {
      const suggested = Math.max(2, Math.ceil(domains.length / PLANNED_DOMAINS_PER_SHARD));
      problems.push(`\`domains\` must fit ${limits}; set \`shards\` (about one per ${PLANNED_DOMAINS_PER_SHARD} domains you expect, `
        + `e.g. ${suggested}) to spread them over several stacks, got: ${load} in the stack of ${construct.node.path}`);
    } else {
      problems.push(`shard ${shard} of \`domains\` must fit ${limits}; placement never moves a domain, so give the newest of its domains `
        + `an explicit \`shard\` (an index from ${shards} up makes a new stack; changing \`shards\` would move domains between stacks), `
        + `got: ${load} in shard ${shard}`);
    }
  }
  return problems;
}
