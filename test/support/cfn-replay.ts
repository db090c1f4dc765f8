/**
 * A CloudFormation deploy replayer for MTA-STS stacks: it deploys synthesized templates step by
 * step, the way CloudFormation does, runs every `Custom::MtaStsPolicyPublication` request through
 * a real publisher (the packaged Lambda handler, see replay-publisher.ts), keeps S3 and Route 53
 * in moto (replay-cloud.ts), and after every step checks what a sending mail server would see.
 *
 * What is checked, on moto's S3 and Route 53 and the model below:
 *
 * - **Invariant B** (after every step): while an id is announced in `_mta-sts.<d>`,
 *   `https://mta-sts.<d>/.well-known/mta-sts.txt` serves exactly the body that id was made for:
 *   the id's first 16 characters are the content id (SHA-256 prefix) of the body served, over
 *   the A and the AAAA alias alike. Serving nothing, a 403 or a 404 while an id is announced
 *   violates it too. A violation is reported at the step it begins.
 * - **No orphaned record** (after every step): every `v=STSv1` TXT record at a `_mta-sts.` name
 *   in Route 53 (but those the scenario wrote itself) is the record of a publication that exists
 *   in the stack's current state, at that publication's zone and record name. A publication
 *   whose Create failed does not exist (CloudFormation skips its Delete).
 * - **Route 53 as AWS has it** (after every step): no zone holds two record sets of one name and
 *   type, or a CNAME beside other records (moto accepts both; Route 53 refuses them).
 * - **The answer tells the truth** (after each publication request): a SUCCESS on Create or
 *   Update answers `Data.RecordValue` and `Data.PolicyId` as Route 53 now holds them, and an
 *   Update keeps the physical id (a new one would make CloudFormation delete the old one).
 * - **Invariant A** (at the end of each deploy, rollback and stack delete): for each domain
 *   whose served body changed, the id announced at the end was first announced after the last
 *   change of the body. (Announced in the same step as the change counts as after: the body is
 *   put, then the record written, in one request.)
 * - **End state** (at the end of a deploy and of a rollback): each publication of the template
 *   (after, or before for a rollback) has its record at its zone and name, announcing one id
 *   made for its PolicyText, its object holds PolicyText, and when senders can see an id for
 *   the domain it is that one and the body served is PolicyText.
 *
 * Steps are what CloudFormation sees: one resource operation each, including one whole
 * publication request (with the Lambda's retries). What happens between the publisher's own
 * calls within one request (the body is put, then the record written) is not observed; the
 * faults injected into those calls are how the replay reaches the states a failure in between
 * leaves.
 *
 * What a sender sees is derived from moto and the model, the way a sender gets it:
 * - DNS: the name is looked up in the deepest hosted zone that is delegated: a zone the
 *   registrar points at (`registrar`, by default the first zone of a name), or a zone whose
 *   name has an NS record in the delegated zone above it. CNAMEs are followed. Names in no
 *   delegated zone are looked up in `outside` (records at a DNS provider outside Route 53).
 * - `_mta-sts.<d>`: the `v=STSv1` TXT values found; exactly one must remain (RFC 8461 §3.1).
 * - `mta-sts.<d>`: the A (and AAAA) alias to a distribution; the distribution has the alias and
 *   a certificate covering it; its default behavior's origin is an existing bucket, read
 *   through an origin access control that the bucket policy lets this distribution use
 *   (`AWS:SourceArn` / `AWS:SourceAccount` conditions); the key is OriginPath plus the
 *   well-known path; then the object in moto.
 *
 * Stays a hand-written model, because no emulator runs it here: CloudFront distributions and
 * origin access controls (effects at once when the step completes, as CloudFormation waits for
 * the deployment; CNAMEAlreadyExists and a certificate not covering an alias fail the step),
 * ACM certificates (issued at once; DNS validation records are not written), bucket policies
 * (kept beside moto's bucket, evaluated as above: Allow statements only), IAM and Lambda (a
 * physical id and attributes, nothing else). Not modelled: IAM propagation, DNS TTLs and sender
 * caches, CloudFront's edge propagation of configuration changes, `Fn::If` conditions, nested
 * stacks, several stacks at once (day-two.test.ts checks what crosses stacks).
 *
 * CloudFormation's semantics followed:
 * 1. Update phase, in dependency order (Ref, Fn::GetAtt, Fn::Sub, DependsOn): new logical ids
 *    are created; a resource whose resolved properties changed is updated, or replaced when an
 *    immutable property changed (new physical resource now, old one deleted in cleanup), or
 *    when a custom resource answers a new physical id.
 * 2. Cleanup: removed resources and replaced physical resources are deleted, in reverse
 *    dependency order of the before template. A failed delete leaves the resource behind and the
 *    stack completes.
 * 3. Rollback, when a step fails (a FAILED answer, an AWS failure of the model or moto, or a
 *    failure injected after update step k, as if a later resource of the user failed): every
 *    resource updated so far (a failed one included) is updated back to its old properties in
 *    dependency order of the before template (a custom resource gets an Update whose
 *    ResourceProperties are the old properties and whose OldResourceProperties are those of the
 *    update, failed or not), replaced resources switch back, then what was created (a failed Create
 *    included: its Delete goes to the entrypoint, which skips it) is deleted in reverse order.
 *    A failed update back stops the rollback (UPDATE_ROLLBACK_FAILED); the replay checks that
 *    state, then continues the rollback as `continue-update-rollback` does (one more try).
 * 4. Stack delete: every resource in reverse dependency order, `DeletionPolicy: Retain` kept.
 *    A failed delete stops it (DELETE_FAILED) and is retried once.
 * 5. A lost answer (the handler did its work but CloudFormation never heard) is followed by
 *    Lambda's retry of the same event, whose answer counts.
 *
 * CloudFormation runs independent resources in parallel, so any topological order may happen:
 * `ORDERS` gives four schedulers (template order, reverse template order, announcers as early
 * as possible, announcers as late as possible).
 */
import { createHash } from 'node:crypto';
import type { CloudFormationCustomResourceEvent } from './packaged';
import { CloudFailure, CloudRecord, CloudState, ReadScope, RecordSetChange, ReplayCloud, ZoneSpec } from './replay-cloud';
import { txtValue } from './txt';

// ---------------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------------

/** A synthesized CloudFormation template, as far as the replay reads it. */
export interface CfnTemplate {
  readonly Resources?: Record<string, CfnResource>;
  readonly Parameters?: Record<string, { Default?: unknown }>;
  readonly Mappings?: Record<string, Record<string, Record<string, unknown>>>;
  readonly [key: string]: unknown;
}

/** One resource of a template. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: any;
  readonly DependsOn?: string | string[];
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
}

/** The empty template: deploying a template over it is a stack create. */
export const EMPTY_TEMPLATE: CfnTemplate = { Resources: {} };

/** The CloudFormation type of a publication (core/publication.ts). */
export const PUBLICATION_TYPE = 'Custom::MtaStsPolicyPublication';

/**
 * Properties that cannot change in place: a change replaces the resource (CloudFormation's
 * "Update requires: Replacement"). Custom resources are replaced when their handler returns a
 * new physical id instead.
 */
export const IMMUTABLE: Record<string, string[]> = {
  'AWS::CertificateManager::Certificate': ['DomainName', 'SubjectAlternativeNames', 'DomainValidationOptions', 'ValidationMethod', 'KeyAlgorithm', 'CertificateAuthorityArn'],
  'AWS::Route53::RecordSet': ['Name', 'Type', 'HostedZoneId', 'HostedZoneName'],
  'AWS::S3::Bucket': ['BucketName'],
  'AWS::S3::BucketPolicy': ['Bucket'],
  'AWS::Lambda::Function': ['FunctionName'],
  'AWS::IAM::Role': ['RoleName', 'Path'],
};

/** The logical ids a resource depends on: Ref, Fn::GetAtt, Fn::Sub references and DependsOn. */
export function dependenciesOf(template: CfnTemplate, logicalId: string): string[] {
  const resources = template.Resources ?? {};
  const resource = resources[logicalId];
  const found = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(visit);
    } else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'Ref' && typeof value === 'string') {
          found.add(value);
        } else if (key === 'Fn::GetAtt') {
          found.add(Array.isArray(value) ? String(value[0]) : String(value).split('.')[0]);
        } else if (key === 'Fn::Sub') {
          const text = Array.isArray(value) ? value[0] : value;
          for (const match of String(text).matchAll(/\$\{([^!}][^}]*)\}/g)) {
            found.add(match[1].split('.')[0]);
          }
          if (Array.isArray(value)) {
            visit(value[1]);
          }
        } else {
          visit(value);
        }
      }
    }
  };
  visit(resource.Properties);
  const dependsOn = resource.DependsOn === undefined ? [] : ([] as string[]).concat(resource.DependsOn);
  dependsOn.forEach(d => found.add(d));
  return [...found].filter(id => id in resources && id !== logicalId).sort();
}

/** Every logical id `logicalId` depends on, directly or through others. */
export function transitiveDependenciesOf(template: CfnTemplate, logicalId: string): Set<string> {
  const seen = new Set<string>();
  const stack = [logicalId];
  while (stack.length > 0) {
    for (const dep of dependenciesOf(template, stack.pop()!)) {
      if (!seen.has(dep)) {
        seen.add(dep);
        stack.push(dep);
      }
    }
  }
  return seen;
}

// ---------------------------------------------------------------------------------------------
// Schedules: CloudFormation may run independent resources in any order
// ---------------------------------------------------------------------------------------------

/** How ties between resources that are ready at the same time are broken. */
export type Order = 'template' | 'reverse-template' | 'announce-early' | 'announce-late';
/**
 * Every scheduler. 'announce-early' runs announcers and their (transitive) dependencies first
 * and everything else last; 'announce-late' runs announcers last.
 */
export const ORDERS: readonly Order[] = ['template', 'reverse-template', 'announce-early', 'announce-late'];

/** Resources that announce a policy id: publications, and `_mta-sts` TXT record sets of hand-made designs. */
function isAnnouncer(resource: CfnResource): boolean {
  if (resource.Type === PUBLICATION_TYPE) {
    return true;
  }
  const name = resource.Properties?.Name;
  return resource.Type === 'AWS::Route53::RecordSet' && resource.Properties?.Type === 'TXT'
    && typeof name === 'string' && name.startsWith('_mta-sts.');
}

/** A topological order of the template's resources (dependencies first), ties broken by `order`. */
export function topologicalOrder(template: CfnTemplate, order: Order): string[] {
  const resources = template.Resources ?? {};
  const ids = Object.keys(resources);
  const index = new Map(ids.map((id, i) => [id, i]));
  const neededToAnnounce = new Set(ids.filter(id => isAnnouncer(resources[id])).flatMap(id => [id, ...transitiveDependenciesOf(template, id)]));
  const rank = (id: string): number => {
    const i = index.get(id)!;
    switch (order) {
      case 'template': return i;
      case 'reverse-template': return -i;
      case 'announce-early': return (neededToAnnounce.has(id) ? 0 : 1e6) + i;
      case 'announce-late': return (isAnnouncer(resources[id]) ? 1e6 : 0) + i;
    }
  };
  const deps = new Map(ids.map(id => [id, new Set(dependenciesOf(template, id))]));
  const done = new Set<string>();
  const result: string[] = [];
  while (result.length < ids.length) {
    const ready = ids.filter(id => !done.has(id) && [...deps.get(id)!].every(d => done.has(d)));
    if (ready.length === 0) {
      throw new Error(`circular dependency among: ${ids.filter(id => !done.has(id)).join(', ')}`);
    }
    const next = ready.reduce((a, b) => (rank(b) < rank(a) ? b : a));
    done.add(next);
    result.push(next);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// The publisher: the one interface to the code under test
// ---------------------------------------------------------------------------------------------

/** A custom resource request, as CloudFormation sends it to the Lambda function. */
export type CustomResourceEvent = CloudFormationCustomResourceEvent;

/** The answer the function PUTs to the response URL. */
export interface CfnResponse {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason?: string;
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, unknown>;
}

/** One fault of an AWS call the publisher makes (see aws-faults.ts for what each does). */
export interface AwsFault {
  readonly service: 'route53' | 's3';
  /** @default - any operation of the service */
  readonly operation?: string;
  readonly fault: 'throttle' | 'server-error' | 'pending' | 'after-forward-error' | 'connection-reset' | 'prior-request-not-complete' | 'access-denied';
  /** How many requests it answers. @default 1 */
  readonly times?: number;
}

/** How one run of the publisher goes wrong. */
export interface RunOptions {
  /** Faults of the publisher's AWS calls, first match first. */
  readonly aws: readonly AwsFault[];
  /** Time the Lambda has left when the handler starts. @default - the function's timeout */
  readonly remainingMs?: number;
  /** The run does its work, but its answer never reaches CloudFormation. */
  readonly answerLost: boolean;
}

/**
 * Runs one publication request through a publisher: the packaged handler
 * (replay-publisher.ts), or a stand-in in the self-tests. Resolves to the answer, or to
 * undefined when there was none (the Lambda timed out or crashed).
 */
export type RunPublication = (event: CustomResourceEvent, options: RunOptions) => Promise<CfnResponse | undefined>;

/** Faults for one publication request of a deploy. */
export interface HandlerFaults {
  readonly aws?: readonly AwsFault[];
  /** The first run's answer is lost, and Lambda runs the same event again. */
  readonly loseAnswer?: boolean;
  readonly remainingMs?: number;
}

// ---------------------------------------------------------------------------------------------
// The world: the stack's state, the hand-written model, and what senders saw
// ---------------------------------------------------------------------------------------------

/** The state CloudFormation keeps for one resource of the stack. */
interface ResourceState {
  readonly type: string;
  physicalId: string;
  /** The properties as last applied, intrinsics resolved (zone ids as in the templates). */
  props: any;
  attrs: Record<string, string>;
  readonly deletionPolicy?: string;
  /** A publication whose Update failed may hold these properties too, until it is updated again. */
  limboProps?: any;
  /** A publication whose Create failed: it does not exist, its Delete is skipped. */
  createFailed?: boolean;
}

interface DistributionData {
  readonly id: string;
  readonly domainName: string;
  config: any;
}

/** What each domain's history holds. */
interface DomainHistory {
  /** Time of the last change of what is served, or -1. */
  lastChange: number;
  /** What was served after the last step. */
  served: Served;
  /** Each id ever announced for the domain, with the time it was first announced. */
  firstAnnounced: Record<string, number>;
  /** The Invariant B violation that holds now, reported once when it begins. */
  violating?: string;
}

/** The hand-written part of AWS: what no emulator runs here. */
interface Model {
  distributions: Record<string, DistributionData>;
  /** Certificate ARN to the names it covers. */
  certificates: Record<string, string[]>;
  /** Bucket name to its (resolved) policy document. */
  bucketPolicies: Record<string, any>;
  /** Origin access control ids. */
  originAccessControls: string[];
}

/** Everything the replay keeps besides moto (plain data, so it can be saved and restored). */
interface World {
  counter: number;
  time: number;
  /** Logical id to CloudFormation's state of the resource. */
  stack: Record<string, ResourceState>;
  /** The template the stack holds (EMPTY_TEMPLATE: no stack). */
  deployed: CfnTemplate;
  model: Model;
  domains: Record<string, DomainHistory>;
  /** Zone name to the template id of the zone the name servers of that name point at. */
  registrar: Record<string, string>;
  /** Records at a DNS provider outside Route 53. */
  outside: CloudRecord[];
  /** `<zone id>|<name>` of TXT records the scenario wrote itself (not the stack's). */
  foreign: string[];
}

function newState(resource: CfnResource, applied: { physicalId: string; attrs?: Record<string, string> }, props: any): ResourceState {
  return { type: resource.Type, physicalId: applied.physicalId, props, attrs: applied.attrs ?? {}, deletionPolicy: resource.DeletionPolicy };
}

/** A failure of one resource operation: the stack rolls back. */
class StepFailure extends Error {
  constructor(message: string, readonly physicalId?: string) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------
// Intrinsic functions
// ---------------------------------------------------------------------------------------------

const NO_VALUE = Symbol('AWS::NoValue');

interface Scope {
  readonly world: World;
  readonly template: CfnTemplate;
  readonly account: string;
  readonly region: string;
}

/** Resolves intrinsics against the stack's physical ids and attributes. */
function resolve(node: any, scope: Scope): any {
  if (Array.isArray(node)) {
    return node.map(n => resolve(n, scope)).filter(n => n !== NO_VALUE);
  }
  if (!node || typeof node !== 'object') {
    return node;
  }
  const keys = Object.keys(node);
  if (keys.length === 1) {
    const [key] = keys;
    const arg = node[key];
    switch (key) {
      case 'Ref': return ref(arg, scope);
      case 'Fn::GetAtt': {
        const [id, attr] = Array.isArray(arg) ? [arg[0], resolve(arg[1], scope)] : String(arg).split(/\.(.*)/s);
        return getAtt(id, attr, scope);
      }
      case 'Fn::Join': {
        const [sep, list] = arg;
        return (resolve(list, scope) as unknown[]).join(sep);
      }
      case 'Fn::Sub': {
        const [text, vars] = Array.isArray(arg) ? [arg[0], resolve(arg[1], scope)] : [arg, {}];
        return String(text).replace(/\$\{(!?)([^}]*)\}/g, (_all, bang: string, name: string) => {
          if (bang) {
            return `\${${name}}`;
          }
          if (name in vars) {
            return String(vars[name]);
          }
          const [id, attr] = name.split(/\.(.*)/s);
          return attr === undefined ? String(ref(id, scope)) : getAtt(id, attr, scope);
        });
      }
      case 'Fn::Select': return resolve(arg[1], scope)[Number(resolve(arg[0], scope))];
      case 'Fn::Split': return String(resolve(arg[1], scope)).split(arg[0]);
      case 'Fn::FindInMap': {
        const [map, top, second] = resolve(arg, scope);
        return resolve(scope.template.Mappings?.[map]?.[top]?.[second], scope);
      }
      case 'Fn::Base64': return Buffer.from(String(resolve(arg, scope))).toString('base64');
      default:
        if (key.startsWith('Fn::')) {
          throw new Error(`the replay does not model ${key}`);
        }
    }
  }
  const out: Record<string, any> = {};
  for (const [key, value] of Object.entries(node)) {
    const resolved = resolve(value, scope);
    if (resolved !== NO_VALUE) {
      out[key] = resolved;
    }
  }
  return out;
}

function ref(id: string, scope: Scope): any {
  switch (id) {
    case 'AWS::Partition': return 'aws';
    case 'AWS::AccountId': return scope.account;
    case 'AWS::Region': return scope.region;
    case 'AWS::URLSuffix': return 'amazonaws.com';
    case 'AWS::StackName': return 'Stack';
    case 'AWS::StackId': return `arn:aws:cloudformation:${scope.region}:${scope.account}:stack/Stack/1`;
    case 'AWS::NoValue': return NO_VALUE;
  }
  if (scope.template.Parameters && id in scope.template.Parameters) {
    return scope.template.Parameters[id].Default ?? `parameter:${id}`;
  }
  const state = scope.world.stack[id];
  if (!state) {
    throw new Error(`Ref to ${id}, which does not exist (yet)`);
  }
  return state.physicalId;
}

function getAtt(id: string, attr: string, scope: Scope): string {
  const state = scope.world.stack[id];
  if (!state) {
    throw new Error(`Fn::GetAtt ${id}.${attr}: ${id} does not exist (yet)`);
  }
  return state.attrs[attr] ?? `${state.physicalId}#${attr}`;
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

const dotted = (name: string): string => (name.endsWith('.') ? name : `${name}.`).toLowerCase();
const bare = (name: string): string => name.toLowerCase().replace(/\.$/, '');
const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
/** The content id of a policy file (core/policy-id.ts), recomputed here so the check does not trust the code under test. */
export const contentIdOf = (text: string): string => sha256(text).slice(0, 16);
const asList = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : ([] as T[]).concat(value));
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** The id of a `v=STSv1` record value, if it has a valid one (RFC 8461 §3.1). */
function idOf(value: string): string | undefined {
  return /(?:^|;)\s*id=([A-Za-z0-9]{1,32})\s*(?:;|$)/.exec(value)?.[1];
}

function globMatches(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map(s => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(value);
}

// ---------------------------------------------------------------------------------------------
// What senders see
// ---------------------------------------------------------------------------------------------

/** A served state: `body:<text>` or `error:<why>`. */
type Served = string;

const WELL_KNOWN = '/.well-known/mta-sts.txt';

/** DNS as senders see it: moto's delegated zones, then records outside Route 53. */
class Resolver {
  constructor(private readonly state: CloudState, private readonly world: World) {}

  /** Whether the name servers of `zone`'s name are the zone's: by the registrar, or by an NS record above. */
  delegated(zone: { templateId: string; name: string }): boolean {
    const sameName = this.state.zones.filter(z => z.name === zone.name);
    const chosen = this.world.registrar[zone.name] ?? sameName[0]?.templateId;
    if (chosen !== zone.templateId) {
      return false;
    }
    const parent = this.authoritative(zone.name.slice(zone.name.indexOf('.') + 1), true);
    if (parent === undefined || parent === 'outside') {
      // The zone above is not in Route 53: the registrar (or the DNS provider) points here.
      return parent === 'outside' ? this.world.registrar[zone.name] !== undefined || this.outsideDelegates(zone.name) : true;
    }
    return parent.records.some(r => r.type === 'NS' && r.name === dotted(zone.name));
  }

  private outsideDelegates(name: string): boolean {
    return this.world.outside.some(r => r.type === 'NS' && r.name === dotted(name));
  }

  /** The zone that answers for `name` (undefined: none in moto, and nothing outside). */
  authoritative(name: string, includeOutside = false): CloudState['zones'][number] | 'outside' | undefined {
    const n = bare(name);
    const candidates = this.state.zones
      .filter(z => n === z.name || n.endsWith(`.${z.name}`))
      .sort((a, b) => b.name.length - a.name.length);
    for (const zone of candidates) {
      if (this.delegated(zone)) {
        return zone;
      }
    }
    return includeOutside && this.world.outside.length > 0 ? 'outside' : undefined;
  }

  /** The record sets of `name` and `type`, following CNAMEs. */
  lookup(name: string, type: string, hops = 0): CloudRecord[] {
    const zone = this.authoritative(name);
    const records = zone === undefined ? this.world.outside : zone === 'outside' ? this.world.outside : zone.records;
    const here = records.filter(r => r.name === dotted(name));
    const cname = here.find(r => r.type === 'CNAME');
    if (cname && type !== 'CNAME' && hops < 8) {
      return this.lookup(cname.values[0] ?? '', type, hops + 1);
    }
    return here.filter(r => r.type === type);
  }
}

/** The id announced in `_mta-sts.<domain>`, if exactly one `v=STSv1` record with a valid id is there. */
function announcedOf(resolver: Resolver, domain: string): string | undefined {
  const values = resolver.lookup(`_mta-sts.${domain}`, 'TXT').flatMap(r => r.values).map(txtValue).filter(v => v.startsWith('v=STSv1'));
  return values.length === 1 ? idOf(values[0]) : undefined;
}

/** Does the bucket policy let this distribution (origin access control) read the key? */
function bucketLetsRead(model: Model, account: string, bucketName: string, key: string, dist: DistributionData): boolean {
  const document = model.bucketPolicies[bucketName];
  const distributionArn = `arn:aws:cloudfront::${account}:distribution/${dist.id}`;
  return asList<any>(document?.Statement).some(s => {
    if (s.Effect !== 'Allow' || !asList(s.Principal?.Service).includes('cloudfront.amazonaws.com')) {
      return false;
    }
    if (!asList<string>(s.Action).some(a => a === 's3:GetObject' || a === 's3:*' || a === '*')) {
      return false;
    }
    if (!asList<string>(s.Resource).some(r => globMatches(r, `arn:aws:s3:::${bucketName}/${key}`))) {
      return false;
    }
    const conditions = [s.Condition?.StringEquals, s.Condition?.StringLike, s.Condition?.ArnLike, s.Condition?.ArnEquals].filter(Boolean);
    return conditions.every((condition: Record<string, unknown>) => Object.entries(condition).every(([k, v]) => {
      const key_ = k.toLowerCase();
      if (key_ === 'aws:sourcearn') {
        return asList<string>(v as string).some(a => globMatches(a, distributionArn));
      }
      if (key_ === 'aws:sourceaccount') {
        return asList(v).includes(account);
      }
      return true;
    }));
  });
}

/** What a sender gets from https://mta-sts.<domain>/.well-known/mta-sts.txt over one alias record type. */
function servedVia(state: CloudState, resolver: Resolver, world: World, account: string, region: string, domain: string, type: 'A' | 'AAAA'): Served | undefined {
  const host = `mta-sts.${domain}`;
  const alias = resolver.lookup(host, type).find(r => r.alias !== undefined);
  if (!alias) {
    return undefined;
  }
  const model = world.model;
  const dist = Object.values(model.distributions).find(d => d.domainName === alias.alias);
  if (!dist) {
    return `error:the ${type} record of ${host} points at ${alias.alias}, which is no distribution`;
  }
  const config = dist.config;
  if (!asList<string>(config.Aliases).map(a => a.toLowerCase()).includes(host)) {
    return `error:distribution ${dist.id} has no alias ${host} (403)`;
  }
  if (!certificateCovers(model, config.ViewerCertificate?.AcmCertificateArn, host)) {
    return `error:the certificate of distribution ${dist.id} does not cover ${host}`;
  }
  const behavior = config.DefaultCacheBehavior ?? {};
  const origin = asList<any>(config.Origins).find(o => o.Id === behavior.TargetOriginId);
  const bucketName = origin && Object.keys(state.buckets).find(b =>
    [`${b}.s3.amazonaws.com`, `${b}.s3.${region}.amazonaws.com`].includes(origin.DomainName));
  if (!bucketName) {
    return `error:the origin of distribution ${dist.id} is no existing bucket`;
  }
  if (!model.originAccessControls.includes(origin.OriginAccessControlId)) {
    return `error:distribution ${dist.id} reads bucket ${bucketName} without an origin access control (403)`;
  }
  const key = `${origin.OriginPath ?? ''}${WELL_KNOWN}`.replace(/^\//, '');
  if (!bucketLetsRead(model, account, bucketName, key, dist)) {
    return `error:the bucket policy does not let distribution ${dist.id} read ${key} (403)`;
  }
  const body = state.buckets[bucketName][key];
  return body === undefined ? `error:no object ${key} in ${bucketName} (404)` : `body:${body}`;
}

function servedOf(state: CloudState, resolver: Resolver, world: World, account: string, region: string, domain: string): Served {
  const a = servedVia(state, resolver, world, account, region, domain, 'A');
  const aaaa = servedVia(state, resolver, world, account, region, domain, 'AAAA');
  if (a === undefined) {
    return aaaa === undefined ? `error:no alias record for mta-sts.${domain}` : `error:mta-sts.${domain} has an AAAA alias but no A alias`;
  }
  if (aaaa !== undefined && aaaa !== a) {
    return `error:over IPv4 ${describe(a)}, over IPv6 ${describe(aaaa)}`;
  }
  return a;
}

function certificateCovers(model: Model, arn: string | undefined, host: string): boolean {
  if (arn === undefined) {
    return false;
  }
  const names = model.certificates[arn];
  if (names === undefined) {
    // Not created by this stack (a supplied certificate): assume the user made it right.
    return !arn.includes(':modelled-');
  }
  return names.some(n => n === host || (n.startsWith('*.') && host.slice(host.indexOf('.') + 1) === n.slice(2)));
}

/** A short description of a served state for messages. */
function describe(served: Served | undefined): string {
  if (served === undefined) {
    return 'nothing';
  }
  if (served.startsWith('error:')) {
    return served.slice('error:'.length);
  }
  const body = served.slice('body:'.length);
  const mode = /mode: *(\w+)/.exec(body)?.[1];
  const mx = [...body.matchAll(/mx: *(\S+)/g)].map(m => m[1]).join(',');
  return `the body with content id ${contentIdOf(body)} (mode ${mode}, mx ${mx})`;
}

/** Whether `id` was made for `body`: its content part is the body's content id. */
function madeFor(id: string, body: string): boolean {
  return id.slice(0, 16) === contentIdOf(body);
}

// ---------------------------------------------------------------------------------------------
// The replay
// ---------------------------------------------------------------------------------------------

/** Where the replay runs: moto, the publisher under test, the stack's account and region. */
export interface ReplayEnvironment {
  readonly cloud: ReplayCloud;
  readonly publisher: RunPublication;
  /** @default '111111111111' */
  readonly account?: string;
  /** The stack's region. @default 'us-east-1' */
  readonly region?: string;
}

/** Options of one deploy. */
export interface DeployOptions {
  /** Scheduler for resources ready at the same time. @default 'template' */
  readonly order?: Order;
  /**
   * Fail the deploy after this many update-phase steps, as if a later resource failed (0:
   * before the first; the number of steps: after the last one, before cleanup).
   * @default - no injected failure
   */
  readonly failAfterStep?: number;
  /** Faults for the publication requests of this deploy, by their number (0: the first request). */
  readonly handlerFaults?: Readonly<Record<number, HandlerFaults>>;
}

/** One publication request made during an operation. */
export interface Invocation {
  /** Its number in the operation (what `handlerFaults` keys on). */
  readonly index: number;
  readonly phase: string;
  readonly requestType: 'Create' | 'Update' | 'Delete';
  readonly logicalId: string;
  readonly status: string;
}

/** The outcome of one operation (deploy, stack delete, or the user's own DNS change). */
export interface OperationResult {
  readonly steps: string[];
  readonly violations: string[];
  /** Update-phase steps taken (until the failure, if any). */
  readonly updateSteps: number;
  /** Why the deploy rolled back, or the stack delete failed. */
  readonly failure?: string;
  readonly invocations: Invocation[];
}

type Journal =
  | { kind: 'create'; logicalId: string }
  | { kind: 'update'; logicalId: string; previous: ResourceState }
  | { kind: 'replace'; logicalId: string; previous: ResourceState };

/** A saved point of a replay: the world and moto's state. */
export interface SavePoint {
  readonly world: World;
  readonly cloud: CloudState;
}

/** The user's own DNS changes between deploys (a runbook step), written to moto or outside. */
export interface UserDns {
  /** Writes a record set in a zone of the scenario (`zone`: its template id). */
  change(zone: string, action: 'CREATE' | 'UPSERT' | 'DELETE', record: { name: string; type: string; values: string[]; ttl?: number }): Promise<void>;
  /** Points the registrar of `name` at the scenario's zone `zone`. */
  register(name: string, zone: string): void;
  /** Sets the records at the DNS provider outside Route 53. */
  setOutside(records: Array<{ name: string; type: string; values: string[] }>): void;
}

/**
 * One replayed stack: deploy templates, delete the stack, make the user's DNS changes, save and
 * restore. Every operation checks the invariants and returns what it found.
 */
export class Replay {
  private world!: World;
  private state?: CloudState;
  /** What moto may hold differently from `state`. */
  private pending = { all: true, zones: new Set<string>(), buckets: new Set<string>(), bucketList: false };
  private readonly account: string;
  private readonly region: string;

  constructor(private readonly env: ReplayEnvironment) {
    this.account = env.account ?? '111111111111';
    this.region = env.region ?? 'us-east-1';
  }

  /** Starts a scenario: moto holds only its zones; no stack. */
  async start(zones: readonly ZoneSpec[], options: { registrar?: Record<string, string> } = {}): Promise<void> {
    await this.env.cloud.start(zones);
    this.world = {
      counter: 0,
      time: 0,
      stack: {},
      deployed: EMPTY_TEMPLATE,
      model: { distributions: {}, certificates: {}, bucketPolicies: {}, originAccessControls: [] },
      domains: {},
      registrar: { ...(options.registrar ?? {}) },
      outside: [],
      foreign: [],
    };
    this.markDirty();
  }

  /** The template the stack holds now. */
  get deployed(): CfnTemplate {
    return this.world.deployed;
  }

  async save(): Promise<SavePoint> {
    return { world: structuredClone(this.world), cloud: await this.env.cloud.snapshot() };
  }

  async restore(point: SavePoint): Promise<void> {
    await this.env.cloud.restore(point.cloud);
    this.world = structuredClone(point.world);
    this.markDirty();
  }

  /** What senders see for `domain` now: the announced id and the body served (or why none). */
  async senderView(domain: string): Promise<{ id?: string; served: string }> {
    const state = await this.read();
    const resolver = new Resolver(state, this.world);
    return { id: announcedOf(resolver, domain), served: servedOf(state, resolver, this.world, this.account, this.region, domain) };
  }

  /** The user's own DNS changes, checked like a step. */
  async userDns(label: string, change: (dns: UserDns) => Promise<void>): Promise<OperationResult> {
    const violations: string[] = [];
    const cloud = this.env.cloud;
    const world = this.world;
    await change({
      change: async (zone, action, record) => {
        this.markDirty({ zones: [zone] });
        await cloud.changeRecordSet({ action, zone, name: record.name, type: record.type, values: record.values, ttl: record.ttl });
        if (record.type === 'TXT') {
          world.foreign.push(`${cloud.zoneIdOf(zone)}|${dotted(record.name)}`);
        }
      },
      register: (name, zone) => {
        world.registrar[bare(name)] = zone;
      },
      setOutside: (records) => {
        world.outside = records.map(r => ({ name: dotted(r.name), type: r.type, values: r.values }));
      },
    });
    const steps = [`#${++world.time} user: ${label}`];
    await this.observe(steps[0], m => violations.push(m));
    return { steps, violations, updateSteps: 0, invocations: [] };
  }

  /** Replays CloudFormation's update of the stack from what it holds to `after` (a create when it holds nothing). */
  async deploy(after: CfnTemplate, options: DeployOptions = {}): Promise<OperationResult> {
    const run = new Operation(this, options.handlerFaults ?? {});
    const world = this.world;
    const before = world.deployed;
    const startTime = world.time;
    this.registerDomains(before);
    this.registerDomains(after);
    const order = options.order ?? 'template';
    const journal = new Map<string, Journal>();
    const replacedOld: Array<{ logicalId: string; state: ResourceState }> = [];
    const afterResources = after.Resources ?? {};
    const beforeResources = before.Resources ?? {};

    // 1. Update phase.
    let failure: string | undefined;
    let updateSteps = 0;
    for (const logicalId of topologicalOrder(after, order)) {
      if (options.failAfterStep === updateSteps) {
        failure = `failure injected after update step ${updateSteps}`;
        break;
      }
      const stepsBefore = run.steps.length;
      try {
        await this.apply(run, logicalId, afterResources[logicalId], after, 'update', journal, replacedOld);
      } catch (e) {
        if (!(e instanceof StepFailure)) {
          throw e;
        }
        failure = `${logicalId} (${afterResources[logicalId].Type}) failed: ${e.message}`;
        updateSteps += run.steps.length - stepsBefore;
        break;
      }
      updateSteps += run.steps.length - stepsBefore;
    }
    if (failure === undefined && options.failAfterStep !== undefined && options.failAfterStep >= updateSteps) {
      failure = `failure injected after update step ${updateSteps} (the last)`;
    }

    if (failure === undefined) {
      // 2. Cleanup, in reverse dependency order of the before template.
      for (const logicalId of topologicalOrder(before, order).reverse()) {
        if (!(logicalId in afterResources) && world.stack[logicalId]) {
          await this.remove(run, 'cleanup', 'delete', logicalId, beforeResources[logicalId], before);
        }
        for (const { state } of replacedOld.filter(r => r.logicalId === logicalId)) {
          await this.removeState(run, 'cleanup', 'delete old physical', logicalId, state, before);
        }
      }
      world.deployed = after;
      await this.checkEnd(run, startTime, after, 'the deploy');
    } else {
      run.note(`   ROLLBACK: ${failure}`);
      await this.rollback(run, before, after, order, journal);
      world.deployed = before;
      await this.checkEnd(run, startTime, before, `the rollback (${failure})`);
    }
    return { steps: run.steps, violations: run.violations, updateSteps, failure, invocations: run.invocations };
  }

  /** Replays a stack delete: every resource in reverse dependency order, retained ones kept. */
  async deleteStack(options: { order?: Order; handlerFaults?: Readonly<Record<number, HandlerFaults>> } = {}): Promise<OperationResult> {
    const run = new Operation(this, options.handlerFaults ?? {});
    const template = this.world.deployed;
    const startTime = this.world.time;
    let failure: string | undefined;
    for (let attempt = 1; attempt <= 2; attempt++) {
      failure = undefined;
      for (const logicalId of topologicalOrder(template, options.order ?? 'template').reverse()) {
        if (!this.world.stack[logicalId]) {
          continue;
        }
        const ok = await this.remove(run, 'stack delete', 'delete', logicalId, template.Resources![logicalId], template, false);
        if (!ok) {
          failure = `stack delete failed at ${logicalId}`;
          break;
        }
      }
      if (failure === undefined) {
        break;
      }
      run.note(`   DELETE_FAILED: ${failure}; ${attempt === 1 ? 'deleting the stack again' : 'giving up'}`);
      if (attempt === 2) {
        run.violations.push(`the stack cannot be deleted: ${failure}`);
      }
    }
    if (failure === undefined) {
      this.world.deployed = EMPTY_TEMPLATE;
    }
    await this.checkEnd(run, startTime, EMPTY_TEMPLATE, 'the stack delete');
    return { steps: run.steps, violations: run.violations, updateSteps: 0, failure, invocations: run.invocations };
  }

  // -------------------------------------------------------------------------------------------

  private scope(template: CfnTemplate): Scope {
    return { world: this.world, template, account: this.account, region: this.region };
  }

  private registerDomains(template: CfnTemplate): void {
    for (const resource of Object.values(template.Resources ?? {})) {
      const p = resource.Properties ?? {};
      if (resource.Type === PUBLICATION_TYPE && typeof p.DomainName === 'string') {
        this.world.domains[p.DomainName.toLowerCase()] ??= { lastChange: -1, served: 'error:never observed', firstAnnounced: {} };
      }
      const m = resource.Type === 'AWS::Route53::RecordSet' && p.Type === 'A' && typeof p.Name === 'string' ? /^mta-sts\.(.+)\.$/.exec(dotted(p.Name)) : null;
      if (m) {
        this.world.domains[m[1]] ??= { lastChange: -1, served: 'error:never observed', firstAnnounced: {} };
      }
    }
  }

  /** Creates, updates or replaces one resource as the update phase (or a rollback) does. */
  private async apply(run: Operation, logicalId: string, resource: CfnResource, template: CfnTemplate, phase: 'update' | 'rollback',
    journal: Map<string, Journal>, replacedOld: Array<{ logicalId: string; state: ResourceState }>): Promise<void> {
    const world = this.world;
    const props = resolve(resource.Properties ?? {}, this.scope(template));
    const current = world.stack[logicalId];
    const effect = effectOf(resource.Type);
    if (!current) {
      journal.set(logicalId, { kind: 'create', logicalId });
      await run.step(phase, 'create', logicalId, resource.Type, async () => {
        try {
          const applied = await effect.create(run.context(logicalId, resource.Type, phase), props, logicalId);
          world.stack[logicalId] = newState(resource, applied, props);
        } catch (e) {
          if (e instanceof StepFailure && e.physicalId !== undefined) {
            // A custom resource whose Create failed: CloudFormation keeps its physical id for the rollback's Delete.
            world.stack[logicalId] = { ...newState(resource, { physicalId: e.physicalId }, props), createFailed: true };
          }
          throw e;
        }
      });
      return;
    }
    if (same(current.props, props) && current.type === resource.Type && !current.limboProps) {
      return;
    }
    const immutable = IMMUTABLE[resource.Type] ?? [];
    if (current.type !== resource.Type || immutable.some(p => !same(current.props[p], props[p]))) {
      await run.step(phase, 'replace (create new)', logicalId, resource.Type, async () => {
        const applied = await effect.create(run.context(logicalId, resource.Type, phase), props, logicalId);
        replacedOld.push({ logicalId, state: current });
        journal.set(logicalId, { kind: 'replace', logicalId, previous: current });
        world.stack[logicalId] = newState(resource, applied, props);
      });
      return;
    }
    const previous = structuredClone(current);
    if (!journal.has(logicalId)) {
      journal.set(logicalId, { kind: 'update', logicalId, previous });
    }
    await run.step(phase, 'update', logicalId, resource.Type, async () => {
      try {
        const applied = await effect.update(run.context(logicalId, resource.Type, phase), current, props);
        if (applied.physicalId !== current.physicalId) {
          // A custom resource that answers a new physical id is replaced: the old one is deleted in cleanup.
          replacedOld.push({ logicalId, state: previous });
        }
        current.physicalId = applied.physicalId;
        current.props = props;
        current.attrs = applied.attrs ?? current.attrs;
        current.limboProps = undefined;
      } catch (e) {
        if (resource.Type === PUBLICATION_TYPE) {
          // CloudFormation takes the resource to have the new properties (a rollback's Update names
          // them as OldResourceProperties); its record may still be where the old ones put it.
          current.limboProps = current.props;
          current.props = props;
        }
        throw e;
      }
    });
  }

  /** Rolls back: update back, switch back, then delete what was created. */
  private async rollback(run: Operation, before: CfnTemplate, after: CfnTemplate, order: Order, journal: Map<string, Journal>): Promise<void> {
    const world = this.world;
    const beforeResources = before.Resources ?? {};
    const rollbackDeletes: Array<{ logicalId: string; state: ResourceState }> = [];
    for (const logicalId of topologicalOrder(before, order)) {
      const entry = journal.get(logicalId);
      if (entry?.kind === 'update') {
        const resource = beforeResources[logicalId];
        for (let attempt = 1; ; attempt++) {
          const current = world.stack[logicalId];
          const props = resolve(resource.Properties ?? {}, this.scope(before));
          const ok = await run.tryStep('rollback', attempt === 1 ? 'update back' : 'update back (continue-update-rollback)', logicalId, resource.Type, async () => {
            try {
              const applied = await effectOf(resource.Type).update(run.context(logicalId, resource.Type, 'rollback'), current, props);
              if (applied.physicalId !== current.physicalId) {
                rollbackDeletes.push({ logicalId, state: structuredClone(current) });
              }
              current.physicalId = applied.physicalId;
              current.props = props;
              current.attrs = applied.attrs ?? current.attrs;
              current.limboProps = undefined;
            } catch (e) {
              if (resource.Type === PUBLICATION_TYPE && !same(current.props, props)) {
                current.limboProps = props;
              }
              throw e;
            }
          });
          if (ok) {
            break;
          }
          if (attempt === 2) {
            run.violations.push(`the rollback cannot complete: ${logicalId} failed to update back twice`);
            break;
          }
          run.note(`   UPDATE_ROLLBACK_FAILED at ${logicalId}; continuing the rollback`);
        }
      } else if (entry?.kind === 'replace') {
        await run.step('rollback', 'switch back to old physical', logicalId, entry.previous.type, async () => {
          rollbackDeletes.push({ logicalId, state: world.stack[logicalId] });
          world.stack[logicalId] = entry.previous;
        });
      }
    }
    for (const logicalId of topologicalOrder(after, order).reverse()) {
      const entry = journal.get(logicalId);
      if (entry?.kind === 'create' && world.stack[logicalId]) {
        await this.remove(run, 'rollback cleanup', 'delete created', logicalId, after.Resources![logicalId], after);
      }
      for (const { state } of rollbackDeletes.filter(r => r.logicalId === logicalId)) {
        await this.removeState(run, 'rollback cleanup', 'delete new physical', logicalId, state, after);
      }
    }
  }

  /**
   * Deletes a resource of the stack. Retained resources are only forgotten. A failed delete
   * (DELETE_FAILED) leaves the resource behind: `dropOnFailure` forgets it (an update's cleanup
   * completes anyway), else it stays in the stack (a stack delete stops).
   */
  private async remove(run: Operation, phase: string, action: string, logicalId: string, resource: CfnResource | undefined,
    template: CfnTemplate, dropOnFailure = true): Promise<boolean> {
    const state = this.world.stack[logicalId];
    const retained = ['Retain', 'RetainExceptOnCreate', 'Snapshot'].includes(resource?.DeletionPolicy ?? state.deletionPolicy ?? '')
      && !(phase === 'rollback cleanup' && (resource?.DeletionPolicy ?? state.deletionPolicy) === 'RetainExceptOnCreate');
    if (retained) {
      await run.step(phase, `${action} (retained)`, logicalId, state.type, async () => {
        delete this.world.stack[logicalId];
      });
      return true;
    }
    const ok = await run.tryStep(phase, action, logicalId, state.type, async () => {
      await effectOf(state.type).delete(run.context(logicalId, state.type, phase), state, template);
    });
    if (ok || dropOnFailure) {
      delete this.world.stack[logicalId];
    }
    return ok;
  }

  private async removeState(run: Operation, phase: string, action: string, logicalId: string, state: ResourceState,
    template: CfnTemplate): Promise<void> {
    await run.tryStep(phase, action, logicalId, state.type, async () => {
      await effectOf(state.type).delete(run.context(logicalId, state.type, phase), state, template);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Observation and checks
  // -------------------------------------------------------------------------------------------

  /** Notes what moto may hold differently now (everything, without a scope). @internal */
  markDirty(scope?: ReadScope): void {
    if (!scope) {
      this.pending.all = true;
      return;
    }
    scope.zones?.forEach(z => this.pending.zones.add(z));
    scope.buckets?.forEach(b => this.pending.buckets.add(b));
    this.pending.bucketList ||= scope.bucketList ?? false;
  }

  /** @internal */
  get internals(): { world: World; cloud: ReplayCloud; publisher: RunPublication; account: string; region: string } {
    return { world: this.world, cloud: this.env.cloud, publisher: this.env.publisher, account: this.account, region: this.region };
  }

  /** What moto holds now, reading again only what may have changed. @internal */
  async read(): Promise<CloudState> {
    const p = this.pending;
    if (p.all || !this.state) {
      this.state = await this.env.cloud.read();
    } else if (p.zones.size > 0 || p.buckets.size > 0 || p.bucketList) {
      this.state = await this.env.cloud.read({ zones: [...p.zones], buckets: [...p.buckets], bucketList: p.bucketList });
    }
    this.pending = { all: false, zones: new Set(), buckets: new Set(), bucketList: false };
    return this.state;
  }

  /** Checks after a step: Invariant B per domain, no orphaned `_mta-sts` record, Route 53 as AWS has it. */
  async observe(step: string, report: (message: string) => void): Promise<void> {
    const world = this.world;
    const state = await this.read();
    const resolver = new Resolver(state, world);
    const names = new Set(Object.keys(world.domains));
    for (const zone of state.zones) {
      for (const r of zone.records) {
        const m = /^mta-sts\.(.+)\.$/.exec(r.name);
        if (m && r.type === 'A' && r.alias) {
          names.add(m[1]);
        }
      }
    }
    for (const domain of [...names].sort()) {
      const history = world.domains[domain] ??= { lastChange: -1, served: 'error:never observed', firstAnnounced: {} };
      const served = servedOf(state, resolver, world, this.account, this.region, domain);
      if (served !== history.served) {
        history.served = served;
        history.lastChange = world.time;
      }
      const id = announcedOf(resolver, domain);
      if (id !== undefined) {
        history.firstAnnounced[id] ??= world.time;
      }
      let violation: string | undefined;
      if (id !== undefined && !served.startsWith('body:')) {
        violation = `${domain} announces id=${id} but serves ${describe(served)}`;
      } else if (id !== undefined && !madeFor(id, served.slice('body:'.length))) {
        violation = `${domain} announces id=${id}, not made for what it serves: ${describe(served)}`;
      }
      if (violation !== undefined && violation !== history.violating) {
        report(`Invariant B after step ${step}: ${violation}`);
      }
      history.violating = violation;
    }

    // No `_mta-sts` record outlives its publication.
    const owners = Object.entries(world.stack)
      .filter(([, s]) => s.type === PUBLICATION_TYPE && !s.createFailed)
      .flatMap(([logicalId, s]) => [s.props, ...(s.limboProps ? [s.limboProps] : [])]
        .map(p => ({ logicalId, key: `${this.env.cloud.zoneIdOf(p.HostedZoneId)}|${dotted(p.RecordName)}` })));
    for (const zone of state.zones) {
      const seen = new Map<string, number>();
      for (const r of zone.records) {
        const key = `${r.name}|${r.type}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        if (seen.get(key) === 2) {
          report(`Route 53 after step ${step}: zone ${zone.templateId} (${zone.name}) holds two ${r.type} record sets at ${r.name}, which Route 53 refuses`);
        }
        if (r.type === 'CNAME' && zone.records.some(o => o.name === r.name && o.type !== 'CNAME')) {
          report(`Route 53 after step ${step}: zone ${zone.templateId} (${zone.name}) holds a CNAME beside other records at ${r.name}, which Route 53 refuses`);
        }
        const key2 = `${zone.id}|${r.name}`;
        if (r.type === 'TXT' && r.name.startsWith('_mta-sts.') && r.values.map(txtValue).some(v => v.startsWith('v=STSv1'))
          && !world.foreign.includes(key2) && !owners.some(o => o.key === key2)) {
          report(`Orphaned record after step ${step}: ${r.name} in zone ${zone.templateId} announces ${r.values.join(' ')}, `
            + 'but no publication of the stack owns it');
        }
      }
    }
  }

  /** Checks at the end of a deploy, rollback or stack delete: Invariant A and the end state. */
  private async checkEnd(run: Operation, since: number, template: CfnTemplate, what: string): Promise<void> {
    const world = this.world;
    const state = await this.read();
    const resolver = new Resolver(state, world);
    for (const [domain, history] of Object.entries(world.domains).sort()) {
      const id = announcedOf(resolver, domain);
      if (id === undefined || history.lastChange <= since) {
        continue;
      }
      const served = servedOf(state, resolver, world, this.account, this.region, domain);
      const first = history.firstAnnounced[id];
      if (first < history.lastChange) {
        run.violations.push(`Invariant A at the end of ${what}: ${domain} announces id=${id}, first announced at step #${first}, `
          + `but what it serves last changed at step #${history.lastChange} (now ${describe(served)}): a sender that fetched in between keeps what it got under this id`);
      }
    }
    for (const problem of endStateProblems(state, resolver, this, template)) {
      run.violations.push(`End state of ${what}: ${problem}`);
    }
  }
}

/** What a template says must hold once it is deployed (see the header). */
function endStateProblems(state: CloudState, resolver: Resolver, replay: Replay, template: CfnTemplate): string[] {
  const { world, account, region } = replay.internals;
  const problems: string[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
    if (resource.Type !== PUBLICATION_TYPE) {
      continue;
    }
    const p = world.stack[logicalId]?.props;
    if (!p) {
      problems.push(`${logicalId} is not in the stack`);
      continue;
    }
    const domain = String(p.DomainName).toLowerCase();
    const zone = state.zones.find(z => z.templateId === p.HostedZoneId);
    const values = (zone?.records ?? []).filter(r => r.name === dotted(p.RecordName) && r.type === 'TXT').flatMap(r => r.values).map(txtValue);
    const ids = values.filter(v => v.startsWith('v=STSv1')).map(idOf);
    const body = state.buckets[p.BucketName]?.[p.ObjectKey];
    const recordRight = ids.length === 1 && ids[0] !== undefined && madeFor(ids[0], p.PolicyText);
    if (!recordRight) {
      problems.push(`${bare(p.RecordName)} in zone ${p.HostedZoneId} holds [${values.join(' | ')}], not one id made for ${describe(`body:${p.PolicyText}`)}`);
    }
    if (body !== p.PolicyText) {
      problems.push(`s3://${p.BucketName}/${p.ObjectKey} holds ${body === undefined ? 'nothing' : describe(`body:${body}`)}, not ${describe(`body:${p.PolicyText}`)}`);
    }
    const seen = announcedOf(resolver, domain);
    if (recordRight && body === p.PolicyText && seen !== undefined) {
      // What senders see, when they see this domain at all (a delegated zone may not be linked yet).
      const served = servedOf(state, resolver, world, account, region, domain);
      if (seen !== ids[0]) {
        problems.push(`senders see ${domain} announce id=${seen}, not the publication's id=${ids[0]}`);
      } else if (served !== `body:${p.PolicyText}`) {
        problems.push(`${domain} serves ${describe(served)} to senders, not ${describe(`body:${p.PolicyText}`)}`);
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// One operation: its steps, its publication requests, what it found
// ---------------------------------------------------------------------------------------------

interface EffectContext {
  readonly world: World;
  readonly cloud: ReplayCloud;
  readonly account: string;
  readonly region: string;
  /** Runs a publication request (with this operation's faults) and checks its answer. */
  invoke(event: Omit<CustomResourceEvent, 'ResponseURL' | 'StackId' | 'RequestId' | 'ServiceToken' | 'LogicalResourceId' | 'ResourceType'> & { ServiceToken: string }): Promise<CfnResponse>;
  /** moto may have changed there: read it again before the next check. */
  touched(scope: ReadScope): void;
}

class Operation {
  readonly steps: string[] = [];
  readonly violations: string[] = [];
  readonly invocations: Invocation[] = [];
  private requests = 0;

  constructor(private readonly replay: Replay, private readonly faults: Readonly<Record<number, HandlerFaults>>) {}

  note(line: string): void {
    this.steps.push(line);
  }

  /** Runs one step, then checks; a failure is rethrown (after the check: a failed step may have changed things). */
  async step(phase: string, action: string, logicalId: string, type: string, effect: () => Promise<void>): Promise<void> {
    const { world } = this.replay.internals;
    let error: unknown;
    try {
      await effect();
    } catch (e) {
      error = e;
    }
    world.time += 1;
    const failed = error instanceof StepFailure ? ` FAILED: ${error.message.split('\n')[0].slice(0, 300)}` : '';
    const label = `#${world.time} ${phase} ${action} ${logicalId} (${type})${failed}`;
    this.steps.push(label);
    await this.replay.observe(label, m => this.violations.push(m));
    if (error !== undefined) {
      throw error;
    }
  }

  /** Like `step`, but a StepFailure is returned as false instead of thrown. */
  async tryStep(phase: string, action: string, logicalId: string, type: string, effect: () => Promise<void>): Promise<boolean> {
    try {
      await this.step(phase, action, logicalId, type, effect);
      return true;
    } catch (e) {
      if (e instanceof StepFailure) {
        return false;
      }
      throw e;
    }
  }

  context(logicalId: string, type: string, phase: string): EffectContext {
    const { world, cloud, publisher, account, region } = this.replay.internals;
    return {
      world,
      cloud,
      account,
      region,
      touched: (scope) => this.replay.markDirty(scope),
      invoke: async (request) => {
        const index = this.requests++;
        const faults = this.faults[index] ?? {};
        const event: CustomResourceEvent = {
          ...request,
          ResponseURL: 'https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/replay',
          StackId: `arn:aws:cloudformation:${region}:${account}:stack/Stack/1`,
          RequestId: `request-${world.time + 1}-${index}`,
          LogicalResourceId: logicalId,
          ResourceType: type,
        };
        const awsFaults = faults.aws ?? [];
        let answer: CfnResponse | undefined;
        if (faults.loseAnswer) {
          await publisher(event, { aws: awsFaults, remainingMs: faults.remainingMs, answerLost: true });
          answer = await publisher(event, { aws: [], answerLost: false });
        } else {
          answer = await publisher(event, { aws: awsFaults, remainingMs: faults.remainingMs, answerLost: false });
          // Lambda retries an asynchronous invocation that ended without an answer (a crash or a timeout), twice.
          for (let retry = 0; answer === undefined && retry < 2; retry++) {
            answer = await publisher(event, { aws: [], answerLost: false });
          }
        }
        const props = [event.ResourceProperties, event.OldResourceProperties ?? {}] as Array<Record<string, any>>;
        this.replay.markDirty({
          zones: props.map(p => cloud.templateIdOf(String(p.HostedZoneId))).filter((z): z is string => z !== undefined),
          buckets: props.map(p => p.BucketName).filter((b): b is string => typeof b === 'string'),
        });
        this.invocations.push({ index, phase, requestType: event.RequestType, logicalId, status: answer?.Status ?? 'no answer' });
        if (answer === undefined) {
          throw new StepFailure('the function never answered (CloudFormation times out)');
        }
        if (answer.Status !== 'SUCCESS') {
          throw new StepFailure(answer.Reason ?? '(no reason)', event.RequestType === 'Create' ? answer.PhysicalResourceId : undefined);
        }
        await this.checkAnswer(event, answer);
        return answer;
      },
    };
  }

  /** The answer of a successful request tells what Route 53 holds, and an Update keeps its physical id. */
  private async checkAnswer(event: CustomResourceEvent, answer: CfnResponse): Promise<void> {
    const what = `${event.RequestType} of ${event.LogicalResourceId}`;
    if (event.RequestType === 'Update' && answer.PhysicalResourceId !== event.PhysicalResourceId) {
      this.violations.push(`Answer of the ${what}: a new physical id ${answer.PhysicalResourceId} (was ${event.PhysicalResourceId}); CloudFormation will delete the old one in cleanup`);
    }
    if (event.RequestType === 'Delete' || event.ResourceType !== PUBLICATION_TYPE) {
      return;
    }
    const p = event.ResourceProperties;
    const state = await this.replay.read();
    const zone = state.zones.find(z => z.id === p.HostedZoneId);
    const values = (zone?.records ?? []).filter(r => r.type === 'TXT' && r.name === dotted(String(p.RecordName))).flatMap(r => r.values).map(txtValue);
    const data = answer.Data ?? {};
    if (values.length !== 1 || values[0] !== data.RecordValue || idOf(values[0]) !== data.PolicyId) {
      this.violations.push(`Answer of the ${what}: Data ${JSON.stringify(data)}, but ${p.RecordName} holds [${values.join(' | ')}]`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Resource effects
// ---------------------------------------------------------------------------------------------

interface Applied {
  readonly physicalId: string;
  readonly attrs?: Record<string, string>;
}

interface Effect {
  create(ctx: EffectContext, props: any, logicalId: string): Promise<Applied>;
  update(ctx: EffectContext, state: ResourceState, props: any): Promise<Applied>;
  delete(ctx: EffectContext, state: ResourceState, template: CfnTemplate): Promise<void>;
}

function fresh(world: World): number {
  world.counter += 1;
  return world.counter;
}

/** Runs a cloud call that may change `scope`; its failure fails the step. */
async function aws<T>(ctx: EffectContext, scope: ReadScope, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (e instanceof CloudFailure) {
      throw new StepFailure(e.message);
    }
    throw e;
  } finally {
    ctx.touched(scope);
  }
}

const inert: Effect = {
  create: async (ctx, _props, logicalId) => {
    const physicalId = `${logicalId}-${fresh(ctx.world)}`;
    return { physicalId, attrs: { Arn: `arn:aws:modelled:${ctx.region}:${ctx.account}:${physicalId}`, Id: physicalId } };
  },
  update: async (_ctx, state) => ({ physicalId: state.physicalId, attrs: state.attrs }),
  delete: async () => undefined,
};

/** `AWS::S3::Bucket`: a bucket in moto. */
const bucket: Effect = {
  create: async (ctx, props, logicalId) => {
    const name = props.BucketName ?? `stack-${logicalId.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 30)}-${fresh(ctx.world)}`;
    await aws(ctx, { bucketList: true, buckets: [name] }, () => ctx.cloud.createBucket(name));
    return {
      physicalId: name,
      attrs: { Arn: `arn:aws:s3:::${name}`, DomainName: `${name}.s3.amazonaws.com`, RegionalDomainName: `${name}.s3.${ctx.region}.amazonaws.com` },
    };
  },
  update: async (_ctx, state) => ({ physicalId: state.physicalId, attrs: state.attrs }),
  delete: async (ctx, state) => {
    await aws(ctx, { bucketList: true }, () => ctx.cloud.deleteBucket(state.physicalId));
  },
};

/** `AWS::S3::BucketPolicy`: modelled beside moto's bucket. */
const bucketPolicy: Effect = {
  create: async (ctx, props) => {
    ctx.world.model.bucketPolicies[props.Bucket] = props.PolicyDocument;
    return { physicalId: `policy:${props.Bucket}:${fresh(ctx.world)}` };
  },
  update: async (ctx, state, props) => {
    ctx.world.model.bucketPolicies[props.Bucket] = props.PolicyDocument;
    return { physicalId: state.physicalId };
  },
  delete: async (ctx, state) => {
    delete ctx.world.model.bucketPolicies[state.props.Bucket];
  },
};

/** `AWS::CertificateManager::Certificate`: modelled, issued at once. */
const certificate: Effect = {
  create: async (ctx, props) => {
    const arn = `arn:aws:acm:${ctx.region}:${ctx.account}:certificate/modelled-${fresh(ctx.world)}`;
    ctx.world.model.certificates[arn] = [props.DomainName, ...(props.SubjectAlternativeNames ?? [])].map((n: string) => n.toLowerCase());
    return { physicalId: arn };
  },
  update: async (_ctx, state) => ({ physicalId: state.physicalId }),
  delete: async (ctx, state) => {
    delete ctx.world.model.certificates[state.physicalId];
  },
};

/** CloudFront refuses an alias that another distribution holds, and a certificate that does not cover it. */
function checkDistribution(model: Model, id: string, config: any): void {
  const aliases: string[] = asList<string>(config.Aliases).map(a => a.toLowerCase());
  for (const other of Object.values(model.distributions)) {
    const taken = aliases.find(a => other.id !== id && asList<string>(other.config.Aliases).map(x => x.toLowerCase()).includes(a));
    if (taken) {
      throw new StepFailure(`CNAMEAlreadyExists: ${taken} is an alias of distribution ${other.id}`);
    }
  }
  const arn = config.ViewerCertificate?.AcmCertificateArn;
  const uncovered = aliases.find(a => !certificateCovers(model, arn, a));
  if (uncovered) {
    throw new StepFailure(`InvalidViewerCertificate: the certificate does not cover ${uncovered}`);
  }
}

/** `AWS::CloudFront::Distribution`: modelled, deployed when its step completes. */
const distribution: Effect = {
  create: async (ctx, props) => {
    const n = fresh(ctx.world);
    const id = `E${String(n).padStart(6, '0')}`;
    checkDistribution(ctx.world.model, id, props.DistributionConfig);
    const domainName = `d${n}.cloudfront.net`;
    ctx.world.model.distributions[id] = { id, domainName, config: props.DistributionConfig };
    return { physicalId: id, attrs: { Id: id, DomainName: domainName } };
  },
  update: async (ctx, state, props) => {
    checkDistribution(ctx.world.model, state.physicalId, props.DistributionConfig);
    ctx.world.model.distributions[state.physicalId].config = props.DistributionConfig;
    return { physicalId: state.physicalId, attrs: state.attrs };
  },
  delete: async (ctx, state) => {
    delete ctx.world.model.distributions[state.physicalId];
  },
};

/** `AWS::CloudFront::OriginAccessControl`: modelled. */
const originAccessControl: Effect = {
  create: async (ctx) => {
    const id = `OAC${fresh(ctx.world)}`;
    ctx.world.model.originAccessControls.push(id);
    return { physicalId: id, attrs: { Id: id } };
  },
  update: async (_ctx, state) => ({ physicalId: state.physicalId, attrs: state.attrs }),
  delete: async (ctx, state) => {
    ctx.world.model.originAccessControls = ctx.world.model.originAccessControls.filter(id => id !== state.physicalId);
  },
};

function recordChange(props: any): Omit<RecordSetChange, 'action'> {
  if (props.HostedZoneId === undefined) {
    throw new Error(`the replay needs HostedZoneId on record sets, got: ${JSON.stringify(props)}`);
  }
  return {
    zone: props.HostedZoneId,
    name: props.Name,
    type: props.Type,
    ttl: props.TTL === undefined ? undefined : Number(props.TTL),
    values: props.ResourceRecords,
    alias: props.AliasTarget ? { dnsName: props.AliasTarget.DNSName, hostedZoneId: props.AliasTarget.HostedZoneId } : undefined,
  };
}

/** `AWS::Route53::RecordSet`: a record set in moto. */
const recordSet: Effect = {
  create: async (ctx, props) => {
    await aws(ctx, { zones: [props.HostedZoneId] }, () => ctx.cloud.changeRecordSet({ action: 'CREATE', ...recordChange(props) }));
    return { physicalId: dotted(props.Name) };
  },
  update: async (ctx, state, props) => {
    await aws(ctx, { zones: [props.HostedZoneId] }, () => ctx.cloud.changeRecordSet({ action: 'UPSERT', ...recordChange(props) }));
    return { physicalId: state.physicalId };
  },
  delete: async (ctx, state) => {
    await aws(ctx, { zones: [state.props.HostedZoneId] }, () => ctx.cloud.changeRecordSet({ action: 'DELETE', ...recordChange(state.props) }));
  },
};

/** CloudFormation passes every scalar property of a custom resource as a string; zone ids become moto's. */
function customProperties(ctx: EffectContext, props: any): CustomResourceEvent['ResourceProperties'] {
  const zoneIds = new Set(ctx.cloud.zones.map(z => z.id));
  const convert = (node: any): any => {
    if (Array.isArray(node)) {
      return node.map(convert);
    }
    if (node && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, convert(v)]));
    }
    if (typeof node === 'string' && zoneIds.has(node)) {
      return ctx.cloud.zoneIdOf(node);
    }
    return typeof node === 'number' || typeof node === 'boolean' ? String(node) : node;
  };
  return convert(props);
}

/** `Custom::MtaStsPolicyPublication`: a request to the publisher under test. */
const publication: Effect = {
  create: async (ctx, props) => {
    const answer = await ctx.invoke({ RequestType: 'Create', ServiceToken: props.ServiceToken, ResourceProperties: customProperties(ctx, props) });
    return { physicalId: answer.PhysicalResourceId, attrs: stringAttrs(answer.Data) };
  },
  update: async (ctx, state, props) => {
    const answer = await ctx.invoke({
      RequestType: 'Update',
      ServiceToken: props.ServiceToken,
      PhysicalResourceId: state.physicalId,
      ResourceProperties: customProperties(ctx, props),
      OldResourceProperties: customProperties(ctx, state.props),
    });
    return { physicalId: answer.PhysicalResourceId, attrs: stringAttrs(answer.Data) };
  },
  delete: async (ctx, state) => {
    await ctx.invoke({
      RequestType: 'Delete',
      ServiceToken: state.props.ServiceToken,
      PhysicalResourceId: state.physicalId,
      ResourceProperties: customProperties(ctx, state.props),
    });
  },
};

function stringAttrs(data: Record<string, unknown> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [k, String(v)]));
}

function effectOf(type: string): Effect {
  switch (type) {
    case 'AWS::S3::Bucket': return bucket;
    case 'AWS::S3::BucketPolicy': return bucketPolicy;
    case 'AWS::CertificateManager::Certificate': return certificate;
    case 'AWS::CloudFront::Distribution': return distribution;
    case 'AWS::CloudFront::OriginAccessControl': return originAccessControl;
    case 'AWS::Route53::RecordSet': return recordSet;
    case PUBLICATION_TYPE: return publication;
  }
  if (type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource') {
    throw new Error(`the replay does not model the custom resource type ${type}`);
  }
  return inert;
}

// ---------------------------------------------------------------------------------------------
// Scenarios: sequences of operations, replayed with every scheduler, failures and handler faults
// ---------------------------------------------------------------------------------------------

/** One operation of a scenario. */
export type ScenarioStep = (
  | { readonly deploy: CfnTemplate; readonly failAfterStep?: number }
  | { readonly deleteStack: true }
  | { readonly userDns: (dns: UserDns) => Promise<void> }
) & {
  readonly label: string;
  /** Replay it again with failures and faults (as the plan says). @default true */
  readonly variants?: boolean;
};

/** A named set of faults for one publication request. */
export interface NamedFaults extends HandlerFaults {
  readonly name: string;
  /** Request types it is injected into. @default every type */
  readonly requestTypes?: ReadonlyArray<'Create' | 'Update' | 'Delete'>;
}

/** A scenario: its zones and its operations, in order. */
export interface Scenario {
  readonly zones: readonly ZoneSpec[];
  readonly registrar?: Record<string, string>;
  readonly steps: readonly ScenarioStep[];
}

/** How much of the scenario's combinations to replay. */
export interface ScenarioPlan {
  /** Schedulers for the whole sequence with no failure but those the scenario injects. @default ORDERS */
  readonly orders?: readonly Order[];
  /** The scheduler for the failure and fault runs. @default 'template' */
  readonly failureOrder?: Order;
  /** Inject a failure after every update step of every deploy. @default true */
  readonly failEveryStep?: boolean;
  /** Faults injected, one at a time, into each publication request of every operation. @default none */
  readonly handlerFaults?: readonly NamedFaults[];
  /**
   * Faults injected into the rollback's publication requests: each deploy that made a
   * publication request is failed after its last update step, and each request of the rollback
   * gets each of these. @default none
   */
  readonly rollbackFaults?: readonly NamedFaults[];
}

/** One replay that broke a promise. */
export interface ReplayProblem {
  readonly run: string;
  readonly violations: string[];
  readonly steps: string[];
}

/** What `replayScenario` found. */
export interface ScenarioOutcome {
  readonly runs: number;
  readonly requests: number;
  readonly problems: ReplayProblem[];
}

/**
 * Refuses a template that serves a policy domain (an `mta-sts.<d>` A record) without a
 * publication for it: the replay sees announcements only through publications, and a design
 * that announced some other way would pass by announcing nothing it can see.
 */
export function assertModelled(template: CfnTemplate): void {
  const resources = Object.values(template.Resources ?? {});
  const published = new Set(resources.filter(r => r.Type === PUBLICATION_TYPE).map(r => String(r.Properties?.DomainName).toLowerCase()));
  for (const resource of resources) {
    const p = resource.Properties ?? {};
    const m = resource.Type === 'AWS::Route53::RecordSet' && p.Type === 'A' && typeof p.Name === 'string' ? /^mta-sts\.(.+)\.$/.exec(dotted(p.Name)) : null;
    if (m && !published.has(m[1])) {
      throw new Error(`the replay does not model how ${m[1]} is announced: no ${PUBLICATION_TYPE} for it`);
    }
  }
}

const labelOf = (step: ScenarioStep, i: number): string => `step ${i + 1} (${step.label})`;

async function runStep(replay: Replay, step: ScenarioStep, options: DeployOptions): Promise<OperationResult> {
  if ('deploy' in step) {
    return replay.deploy(step.deploy, { failAfterStep: step.failAfterStep, ...options });
  }
  if ('deleteStack' in step) {
    return replay.deleteStack({ order: options.order, handlerFaults: options.handlerFaults });
  }
  return replay.userDns(step.label, step.userDns);
}

/**
 * Replays a scenario: the whole sequence with each scheduler; then, with the failure scheduler,
 * before each operation a save point, from which the operation is replayed with a failure after
 * each update step, with each handler fault in each publication request, and with each rollback
 * fault in each publication request of a rollback.
 */
export async function replayScenario(env: ReplayEnvironment, scenario: Scenario, plan: ScenarioPlan = {}): Promise<ScenarioOutcome> {
  for (const step of scenario.steps) {
    if ('deploy' in step) {
      assertModelled(step.deploy);
    }
  }
  const problems: ReplayProblem[] = [];
  let runs = 0;
  let requests = 0;
  const replay = new Replay(env);
  const collect = (run: string, result: OperationResult, mustSucceed: boolean): void => {
    runs += 1;
    requests += result.invocations.length;
    const messages = [...(mustSucceed && result.failure ? [`the operation cannot succeed: ${result.failure}`] : []), ...result.violations];
    if (messages.length > 0) {
      problems.push({ run, violations: messages, steps: result.steps });
    }
  };
  const failureOrder = plan.failureOrder ?? 'template';
  const orders = plan.orders ?? ORDERS;

  for (const order of orders) {
    await replay.start(scenario.zones, { registrar: scenario.registrar });
    for (const [i, step] of scenario.steps.entries()) {
      const result = await runStep(replay, step, { order });
      collect(`${order}, ${labelOf(step, i)}`, result, !('deploy' in step && step.failAfterStep !== undefined));
    }
  }

  const wantsVariants = (plan.failEveryStep ?? true) || (plan.handlerFaults ?? []).length > 0 || (plan.rollbackFaults ?? []).length > 0;
  if (!wantsVariants) {
    return { runs, requests, problems };
  }
  await replay.start(scenario.zones, { registrar: scenario.registrar });
  for (const [i, step] of scenario.steps.entries()) {
    const point = await replay.save();
    const clean = await runStep(replay, step, { order: failureOrder });
    if (!orders.includes(failureOrder)) {
      collect(`${failureOrder}, ${labelOf(step, i)}`, clean, !('deploy' in step && step.failAfterStep !== undefined));
    }
    if (step.variants === false) {
      continue;
    }
    const after = await replay.save();
    const variant = async (name: string, options: DeployOptions): Promise<OperationResult> => {
      await replay.restore(point);
      const result = await runStep(replay, step, { order: failureOrder, ...options });
      collect(`${failureOrder}, ${labelOf(step, i)}, ${name}`, result, false);
      return result;
    };
    if ('deploy' in step && step.failAfterStep === undefined && (plan.failEveryStep ?? true)) {
      for (let k = 0; k <= clean.updateSteps; k++) {
        await variant(`failure after update step ${k}`, { failAfterStep: k });
      }
    }
    for (const faults of plan.handlerFaults ?? []) {
      for (const invocation of clean.invocations) {
        if (faults.requestTypes && !faults.requestTypes.includes(invocation.requestType)) {
          continue;
        }
        await variant(`${faults.name} in request ${invocation.index} (${invocation.requestType} of ${invocation.logicalId}, ${invocation.phase})`,
          { handlerFaults: { [invocation.index]: faults }, failAfterStep: 'deploy' in step ? step.failAfterStep : undefined });
      }
    }
    if ('deploy' in step && (plan.rollbackFaults ?? []).length > 0 && clean.invocations.length > 0) {
      const failAfterStep = step.failAfterStep ?? clean.updateSteps;
      await replay.restore(point);
      const failed = await runStep(replay, step, { order: failureOrder, failAfterStep });
      const rollbackRequests = failed.invocations.filter(inv => inv.phase.startsWith('rollback'));
      for (const faults of plan.rollbackFaults ?? []) {
        for (const invocation of rollbackRequests) {
          if (faults.requestTypes && !faults.requestTypes.includes(invocation.requestType)) {
            continue;
          }
          await variant(`failure after update step ${failAfterStep}, ${faults.name} in rollback request ${invocation.index} (${invocation.requestType} of ${invocation.logicalId})`,
            { failAfterStep, handlerFaults: { [invocation.index]: faults } });
        }
      }
    }
    await replay.restore(after);
  }
  return { runs, requests, problems };
}

/**
 * The kind of a violation: its text without step numbers, physical ids and fresh ids, so that
 * replays that broke a promise the same way are counted together.
 */
function kindOf(violation: string): string {
  return violation.replace(/#\d+/g, '#n').replace(/\bE\d{6}\b/g, 'E…').replace(/id=[0-9a-z]{16,32}/g, 'id=…')
    .replace(/\((failure injected|\w+ \([^)]*\) failed)[^:]*\):/, '(failure):');
}

/** A failure message for a scenario: each distinct way a promise broke, with an example and the steps of the first broken replay. */
export function formatOutcome(outcome: ScenarioOutcome, maxKinds = 8): string {
  if (outcome.problems.length === 0) {
    return `all ${outcome.runs} replays kept every promise`;
  }
  const kinds = new Map<string, { example: string; run: string; runs: Set<string> }>();
  for (const problem of outcome.problems) {
    for (const violation of problem.violations) {
      const kind = kinds.get(kindOf(violation)) ?? { example: violation, run: problem.run, runs: new Set<string>() };
      kind.runs.add(problem.run);
      kinds.set(kindOf(violation), kind);
    }
  }
  const lines = [`${outcome.problems.length} of ${outcome.runs} replays broke a promise, in ${kinds.size} ways. An example of each way:`];
  for (const kind of [...kinds.values()].slice(0, maxKinds)) {
    lines.push(`- [${kind.run}${kind.runs.size > 1 ? `, and ${kind.runs.size - 1} more replays` : ''}] ${kind.example}`);
  }
  if (kinds.size > maxKinds) {
    lines.push(`- ... and ${kinds.size - maxKinds} more ways`);
  }
  lines.push(`Steps of [${outcome.problems[0].run}]:`, ...outcome.problems[0].steps.map(s => `  ${s}`));
  return lines.join('\n');
}

/** Throws, with `formatOutcome`'s message, unless every replay kept every promise. */
export function expectInvariantsKept(outcome: ScenarioOutcome): void {
  if (outcome.problems.length > 0 || outcome.runs === 0) {
    throw new Error(formatOutcome(outcome));
  }
}
