import { createHash } from 'node:crypto';
import {
  AspectPriority, Aspects, CliCredentialsStackSynthesizer, CliCredentialsStackSynthesizerProps, DefaultStackSynthesizer,
  DefaultStackSynthesizerProps, IAspect, IReusableStackSynthesizer, IStackSynthesizer, LegacyStackSynthesizer, Names,
  PERMISSIONS_BOUNDARY_CONTEXT_KEY, PermissionsBoundary, RemoveTag, Stack, StackProps, Tag, Token,
} from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { Construct, IConstruct } from 'constructs';
import { CLOUDFRONT_CERTIFICATE_REGION } from './certificate';
import { quote } from './hostname';

/** Where a construct's resources go: problems to report, or a way to get the scope. */
export interface Placement {
  readonly problems: string[];
  /** True when the resources go into the construct itself (its stack can hold them). */
  readonly inPlace: boolean;
  /** The scope to create the resources in; call only when there are no problems. */
  readonly scope: () => Construct;
}

export interface PlacementProps {
  /** The hosted zones the resources write to, each with the prop that gave it (`hostedZone`, `domains[2].hostedZone`). */
  readonly zones: ReadonlyArray<{ readonly zone: route53.IHostedZone; readonly prop: string }>;
  /** Whether the user supplied the certificate (then nothing needs us-east-1). */
  readonly certificateSupplied: boolean;
}

/**
 * The region the MTA-STS resources of `construct` go to: us-east-1 for a stack in another region
 * (its companion stack), else the stack's own region (a token when the stack has none).
 */
export function resourceRegionOf(construct: IConstruct): string {
  const region = Stack.of(construct).region;
  return Token.isUnresolved(region) ? region : CLOUDFRONT_CERTIFICATE_REGION;
}

/** What a companion stack's name and construct id end with. */
export const COMPANION_SUFFIX = '-MtaSts';

/** CloudFormation's limit on the length of a stack name. */
const MAX_STACK_NAME_LENGTH = 128;

/** Our companion stacks, each with the stack whose MTA-STS resources it holds. */
const OWNER_OF = new WeakMap<Stack, Stack>();
/** The companion stack of each stack that has one. */
const COMPANION_OF = new WeakMap<Stack, Stack>();

/**
 * Decides where an MTA-STS construct's resources live.
 *
 * - Stack in us-east-1: in the construct itself.
 * - Stack in another region: everything (bucket, certificates, distributions, records, the
 *   publisher) in ONE companion stack in us-east-1, named `<stack name>-MtaSts` and created on
 *   first use beside the stack, which depends on it (so `cdk deploy <stack>` deploys it first).
 *   CloudFront, ACM's CloudFront certificates and Route 53 are global or us-east-1 services;
 *   keeping them in one stack means no cross-region reference: adding, removing or renaming a
 *   domain is one stack update, with no export that changes or disappears while imported.
 * - Stack with no region: in place when the certificate is supplied, else an error.
 */
export function placeResources(construct: Construct, props: PlacementProps): Placement {
  const stack = Stack.of(construct);
  if (Token.isUnresolved(stack.region)) {
    if (props.certificateSupplied) {
      return { problems: [], inPlace: true, scope: () => construct };
    }
    return {
      inPlace: false,
      problems: [
        `\`certificate\` is required when the stack has no region: CloudFront needs a certificate in ${CLOUDFRONT_CERTIFICATE_REGION}, `
        + 'so give the stack an env with a region (the construct then creates the certificate) or pass a us-east-1 certificate, '
        + `got: stack ${quote(stack.stackName)} with an unresolved region`,
      ],
      scope: unreachable,
    };
  }
  if (stack.region === CLOUDFRONT_CERTIFICATE_REGION) {
    return { problems: [], inPlace: true, scope: () => construct };
  }
  const zoneProblems = literalZoneProblems(props.zones,
    `when the stack is outside ${CLOUDFRONT_CERTIFICATE_REGION}, since the construct's resources are then created in a companion stack `
    + `in ${CLOUDFRONT_CERTIFICATE_REGION}`, `stack ${quote(stack.stackName)} in ${stack.region}`);
  // A nested stack's resources go to the companion of the top-level stack that deploys it.
  const owner = topLevelStackOf(stack);
  return {
    inPlace: false,
    problems: [...zoneProblems, ...companionProblems(owner)],
    scope: () => new Construct(companionStack(owner), Names.uniqueId(construct)),
  };
}

/** Problems of zones whose id is a token, where the resources go to another stack than the zone's. */
function literalZoneProblems(zones: PlacementProps['zones'], when: string, where: string): string[] {
  return zones.filter(({ zone }) => Token.isUnresolved(zone.hostedZoneId)).map(({ prop }) =>
    `\`${prop}\` must have a literal hosted zone id ${when}: import the zone with `
    + `HostedZone.fromHostedZoneAttributes, got: a zone whose id is an unresolved token (${where})`);
}

/** The most shards an MtaStsDomains construct may have. */
export const MAX_SHARDS = 50;

/**
 * The shard of a domain: the first 32 bits of the SHA-256 of its normalised name, modulo
 * `shards`. It depends on nothing but the name and `shards`, so it never changes while they do not.
 */
export function shardOf(domainName: string, shards: number): number {
  return createHash('sha256').update(domainName, 'utf8').digest().readUInt32BE(0) % shards;
}

/** The shard stacks of a construct, by index. */
export interface Shards {
  readonly problems: string[];
  /** The stack of shard `index`, created on first use; call only when there are no problems. */
  readonly stack: (index: number) => Stack;
}

/**
 * Places an MtaStsDomains construct's domains in shard stacks: sibling stacks of the
 * construct's top-level stack, all in us-east-1 (where CloudFront takes certificates from), one
 * per shard index, named `<stack name>-<construct id>-Shard<index>`. Each holds its own bucket,
 * origin access control, publisher function and the domains placed in it, and carries the
 * owner's synthesizer, termination protection, tags and permissions boundary. Nothing else
 * depends on a shard stack, nor a shard stack on another: each deploys and rolls back alone.
 */
export function placeInShards(construct: Construct, indices: readonly number[], zones: PlacementProps['zones']): Shards {
  const owner = topLevelStackOf(Stack.of(construct));
  const problems = literalZoneProblems(zones, 'when `shards` is set, since the domains are then created in shard stacks',
    `construct ${construct.node.path}`);
  problems.push(...synthesizerProblems(owner, 'shard stacks'));
  for (const index of indices) {
    const id = shardIdOf(owner, construct, index);
    const taken = owner.node.scope!.node.tryFindChild(id);
    if (taken && !SHARD_OF.has(taken)) {
      problems.push(`shard ${index} of ${construct.node.path} must be created as a stack with the construct id ${quote(id)} beside stack `
        + `${quote(owner.stackName)}: rename the construct that uses this id, got: a construct at ${taken.node.path} that this library did not create`);
    }
    problems.push(...nameClashes(owner, shardStackName(owner, construct, index), undefined, `shard ${index} of ${construct.node.path}`));
  }
  const made = new Map<number, Stack>();
  return {
    problems,
    stack: index => {
      let shard = made.get(index);
      if (!shard) {
        const name = shardStackName(owner, construct, index);
        shard = siblingStack(owner, shardIdOf(owner, construct, index), name,
          `MTA-STS policy hosting and records of shard ${index} of ${construct.node.path} (stack ${owner.stackName}), kept in ${CLOUDFRONT_CERTIFICATE_REGION}`);
        SHARD_OF.add(shard);
        const subject = `shard ${index} of ${construct.node.path}`;
        const self = shard;
        shard.node.addValidation({ validate: () => nameClashes(owner, self.stackName, self, subject) });
        made.set(index, shard);
      }
      return shard;
    },
  };
}

/** Our shard stacks. */
const SHARD_OF = new WeakSet<IConstruct>();

/** The construct id of a shard stack, beside its owner: `<owner id>-<construct id>-Shard<index>`. */
function shardIdOf(owner: Stack, construct: Construct, index: number): string {
  return `${owner.node.id}-${construct.node.id}-Shard${index}`;
}

/**
 * The CloudFormation name of a shard stack: `<owner's stack name>-<construct id>-Shard<index>`,
 * with characters CloudFormation does not allow in a name dropped from the construct id, and
 * the hash of the whole in place of the middle when it would pass 128 characters.
 */
export function shardStackName(owner: Stack, construct: Construct, index: number): string {
  const suffix = `-Shard${index}`;
  const id = construct.node.id.replace(/[^A-Za-z0-9-]/g, '');
  return fitStackName(`${owner.stackName}-${id}`, suffix);
}

/** `<head><suffix>`, or, beyond CloudFormation's 128 characters, the first characters of head, a hash of it and the suffix. */
function fitStackName(head: string, suffix: string): string {
  const name = `${head}${suffix}`;
  if (name.length <= MAX_STACK_NAME_LENGTH) {
    return name;
  }
  const hash = createHash('sha256').update(head, 'utf8').digest('hex').slice(0, 8).toUpperCase();
  return `${head.slice(0, MAX_STACK_NAME_LENGTH - suffix.length - hash.length - 1)}-${hash}${suffix}`;
}

function unreachable(): never {
  throw new Error('unreachable: placement has problems');
}

function topLevelStackOf(stack: Stack): Stack {
  let top = stack;
  while (top.nestedStackParent) {
    top = top.nestedStackParent;
  }
  return top;
}

/**
 * The CloudFormation name of the companion stack of `owner`: `<owner's stack name>-MtaSts`, so
 * two apps, stages or environments that deploy stacks of different names to one account get
 * different companions, whatever their construct ids. `stackName` already carries a stage's prefix
 * (`Prod-Mail`). A name that would pass CloudFormation's 128 characters keeps its first characters
 * and a hash of the whole, so it stays unique and deterministic.
 */
export function companionStackName(owner: Stack): string {
  return fitStackName(owner.stackName, COMPANION_SUFFIX);
}

/** The construct id of the companion of `owner`, beside it: unique there because `owner`'s id is. */
function companionIdOf(owner: Stack): string {
  return `${owner.node.id}${COMPANION_SUFFIX}`;
}

/**
 * Why the companion of `owner` cannot be created: its construct id or its stack name is taken,
 * or `owner`'s synthesizer cannot be given to a second stack.
 */
function companionProblems(owner: Stack): string[] {
  if (COMPANION_OF.has(owner)) {
    return [];
  }
  const problems: string[] = [];
  const parent = owner.node.scope!;
  const id = companionIdOf(owner);
  const taken = parent.node.tryFindChild(id);
  if (taken) {
    problems.push(`the ${CLOUDFRONT_CERTIFICATE_REGION} companion stack of stack ${quote(owner.stackName)}, which holds the MTA-STS resources `
      + `of a stack outside ${CLOUDFRONT_CERTIFICATE_REGION}, must be created with the construct id ${quote(id)} beside it: rename the construct `
      + `that uses this id or deploy the stack in ${CLOUDFRONT_CERTIFICATE_REGION}, got: a ${Stack.isStack(taken) ? 'stack' : 'construct'} at ${taken.node.path} `
      + 'that this library did not create');
  }
  problems.push(...nameClashes(owner, companionStackName(owner), undefined));
  problems.push(...synthesizerProblems(owner, `${CLOUDFRONT_CERTIFICATE_REGION} companion stack, which holds the MTA-STS resources of a stack `
    + `outside ${CLOUDFRONT_CERTIFICATE_REGION},`));
  return problems;
}

/** Why `owner`'s synthesizer cannot be given to the stacks that `what` names. */
function synthesizerProblems(owner: Stack, what: string): string[] {
  if (reusableSynthesizerOf(owner)) {
    return [];
  }
  return [`the synthesizer of stack ${quote(owner.stackName)} must be reusable (an IReusableStackSynthesizer such as `
    + `DefaultStackSynthesizer or CliCredentialsStackSynthesizer), since its ${what} must be synthesized with the same bootstrap settings: `
    + `pass a reusable synthesizer or deploy the stack in ${CLOUDFRONT_CERTIFICATE_REGION}, got: a ${owner.synthesizer.constructor.name}`];
}

/**
 * The stacks of the app, other than `except`, that CloudFormation would confuse with the
 * companion named `name` of `owner`: the same stack name in an account that is, or may be, the
 * same (any region: the name then means two things in one app).
 */
function nameClashes(owner: Stack, name: string, except: Stack | undefined, subject?: string): string[] {
  const what = subject ?? `the ${CLOUDFRONT_CERTIFICATE_REGION} companion stack of stack ${quote(owner.stackName)}, which holds the MTA-STS resources `
    + `of a stack outside ${CLOUDFRONT_CERTIFICATE_REGION},`;
  return owner.node.root.node.findAll()
    .filter((node): node is Stack => Stack.isStack(node) && node !== except && !node.nested)
    .filter(other => other.stackName === name && mayShareAccount(other, owner))
    .map(other => {
      const whose = OWNER_OF.get(other);
      const taken = whose ? `the companion stack of stack ${quote(whose.stackName)} (${whose.node.path})` : `a stack at ${other.node.path}`;
      return `${what} must have a stack name no other stack of the app uses in its account, `
        + `${quote(name)}, or one deploy would replace the other's resources: rename one of the stacks, got: ${taken} named ${quote(name)} `
        + `in ${Token.isUnresolved(other.region) ? 'an unresolved region' : other.region}`;
    });
}

function mayShareAccount(a: Stack, b: Stack): boolean {
  return Token.isUnresolved(a.account) || Token.isUnresolved(b.account) || a.account === b.account;
}

/**
 * The reusable synthesizer `owner` was given (or its app's default): aws-cdk-lib binds it to a
 * stack as a copy (`IReusableStackSynthesizer.reusableBind` makes it with `Object.create`), so a
 * stack's own synthesizer is that bound copy and its prototype is the original, unbound instance
 * holding the user's settings (qualifier, bucket, roles). Undefined for a synthesizer that is not
 * reusable: a bound synthesizer cannot be bound to a second stack.
 */
function reusableSynthesizerOf(owner: Stack): IReusableStackSynthesizer | undefined {
  const original: unknown = Object.getPrototypeOf(owner.synthesizer);
  const isInstance = typeof original === 'object' && original !== null && !Object.prototype.hasOwnProperty.call(original, 'constructor');
  return isInstance && typeof (original as Partial<IReusableStackSynthesizer>).reusableBind === 'function'
    ? original as IReusableStackSynthesizer
    : undefined;
}

/**
 * A synthesizer for the companion that makes the same choices as `owner`'s. For aws-cdk-lib's
 * own DefaultStackSynthesizer, CliCredentialsStackSynthesizer and LegacyStackSynthesizer: a new
 * instance of the same class with the same props, so the companion gets its own asset manifest
 * (the copies `reusableBind` makes share the original's, and a companion sharing it would also
 * publish its stack's assets). Any other reusable synthesizer (a subclass, another library's) is
 * given as is, to be bound to the companion the way an app's default synthesizer is bound to
 * each of its stacks. Undefined when `owner`'s synthesizer is not reusable.
 */
function synthesizerFor(owner: Stack): IStackSynthesizer | undefined {
  const original = reusableSynthesizerOf(owner);
  if (!original) {
    return undefined;
  }
  // The props the user gave the constructor (a private field of these classes, kept since CDK v1).
  const props: unknown = (original as { props?: unknown }).props;
  const sameProps = typeof props === 'object' && props !== null;
  switch (original.constructor) {
    case DefaultStackSynthesizer:
      return sameProps ? new DefaultStackSynthesizer(props as DefaultStackSynthesizerProps) : original;
    case CliCredentialsStackSynthesizer:
      return sameProps ? new CliCredentialsStackSynthesizer(props as CliCredentialsStackSynthesizerProps) : original;
    case LegacyStackSynthesizer:
      return new LegacyStackSynthesizer();
    default:
      return original;
  }
}

/**
 * The us-east-1 stack that holds the MTA-STS resources of `owner`, created on first use beside
 * it, with `owner`'s synthesizer, termination protection, tags and permissions boundary.
 */
function companionStack(owner: Stack): Stack {
  const known = COMPANION_OF.get(owner);
  if (known) {
    return known;
  }
  const companion = siblingStack(owner, companionIdOf(owner), companionStackName(owner),
    `MTA-STS policy hosting and records (CloudFront, ACM, Route 53) for stack ${owner.stackName}, kept in ${CLOUDFRONT_CERTIFICATE_REGION}`);
  OWNER_OF.set(companion, owner);
  COMPANION_OF.set(owner, companion);
  // A stack added to the app after the companion may still take its name.
  companion.node.addValidation({ validate: () => nameClashes(owner, companion.stackName, companion) });

  const reason = 'cdk-mta-sts: the MTA-STS resources of this stack live in its us-east-1 companion stack';
  // Newer aws-cdk-lib versions rename Stack.addDependency to addStackDependency (2.197.0 has only the first).
  const withNewName = owner as unknown as { addStackDependency?: (target: Stack, reason?: string) => void };
  if (typeof withNewName.addStackDependency === 'function') {
    withNewName.addStackDependency(companion, reason);
  } else {
    owner.addDependency(companion, reason);
  }
  return companion;
}

/**
 * A us-east-1 stack beside `owner` that holds MTA-STS resources of `owner`'s constructs, with
 * `owner`'s synthesizer, termination protection, tags and permissions boundary.
 */
function siblingStack(owner: Stack, id: string, stackName: string, description: string): Stack {
  const boundary = owner.node.tryGetContext(PERMISSIONS_BOUNDARY_CONTEXT_KEY) as { name?: string; arn?: string } | undefined;
  const stack = new CompanionStack(owner.node.scope!, id, owner, {
    stackName,
    env: { account: owner.account, region: CLOUDFRONT_CERTIFICATE_REGION },
    description,
    synthesizer: synthesizerFor(owner),
    // Tags given to `owner` directly; those added with Tags.of(owner) follow through InheritedTags.
    tags: owner.tags.tagValues(),
    permissionsBoundary: boundary?.name ? PermissionsBoundary.fromName(boundary.name)
      : boundary?.arn ? PermissionsBoundary.fromArn(boundary.arn) : undefined,
  });
  Aspects.of(stack).add(new InheritedTags(owner), { priority: AspectPriority.MUTATING });
  return stack;
}

/** A companion or shard stack: protected from termination whenever its owner is, unless set on it. */
class CompanionStack extends Stack {
  private ownProtection?: boolean;

  constructor(scope: Construct, id: string, private readonly owner: Stack, props: StackProps) {
    super(scope, id, props);
  }

  public get terminationProtection(): boolean {
    return this.ownProtection ?? this.owner.terminationProtection;
  }

  public set terminationProtection(value: boolean) {
    this.ownProtection = value;
  }
}

/**
 * Applies to the companion the tags that `Tags.of(owner)` adds or removes: aws-cdk-lib applies
 * them with aspects on `owner`, which do not reach a stack beside it. Tags added to an ancestor
 * (`Tags.of(app)`) reach the companion by themselves.
 */
class InheritedTags implements IAspect {
  constructor(private readonly owner: Stack) {}

  public visit(node: IConstruct): void {
    for (const aspect of Aspects.of(this.owner).all) {
      if (aspect instanceof Tag || aspect instanceof RemoveTag) {
        aspect.visit(node);
      }
    }
  }
}
