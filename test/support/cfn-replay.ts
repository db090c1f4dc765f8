/**
 * A CloudFormation update replayer for MTA-STS stacks: the proof, without AWS, of the
 * library's two promises (issue 12).
 *
 * - **Invariant B** (checked after every step): while an id is announced in `_mta-sts.<d>`,
 *   `https://mta-sts.<d>/.well-known/mta-sts.txt` serves exactly the body that id was made
 *   for. Serving nothing, a 403 or a 404 while an id is announced violates it too. Steps are
 *   atomic: a publication that puts the body and then announces its id in one step passes;
 *   a body written by one resource and announced by another, later one does not. A violation
 *   is reported at the step it begins.
 * - **End state** (checked at the end of a deploy, and of every rollback): each domain the
 *   template (after, or before for a rollback) publishes is announced and served as it says.
 * - **Invariant A** (checked at the end of a deploy and at the end of every rollback): for
 *   each domain whose served body changed, the id announced at the end was first announced
 *   after the last change of the body (so it was never announced before), and is made for it.
 *   (Announced in the same step as the change counts as after: the publication's order.)
 *
 * Policy domains are the names of the templates' `mta-sts.<d>` A records (and any such A
 * record, or `_mta-sts.<d>` CNAME, found in the world). `replayScenario` refuses templates
 * that publish a domain in a way the model does not know, so no design passes by publishing
 * nothing it can see.
 *
 * How: `deploy(world, before, after)` replays CloudFormation's update of one stack from the
 * `before` template to the `after` template (both as synthesized) against `world`, a model of
 * the AWS resources that matter for what senders see (S3 objects and bucket policies,
 * CloudFront distributions and functions, ACM certificates, Route 53 records, SSM export
 * parameters). The replay follows CloudFormation's documented semantics:
 *
 * 1. Update phase, in dependency order (Ref, Fn::GetAtt, Fn::Sub and DependsOn of the `after`
 *    template): new logical ids are created; a resource whose resolved properties changed is
 *    updated, or replaced when an immutable property changed (a new physical resource is
 *    created now, the old one is deleted in cleanup). A resource whose properties resolve to
 *    the same values is left alone; one that references a replaced resource resolves to a new
 *    physical id and so is updated, as CloudFormation does.
 * 2. Cleanup phase: removed resources and replaced physical resources are deleted, in reverse
 *    dependency order of the `before` template.
 * 3. Rollback, when a failure is injected after step k of the update phase (or a modelled
 *    failure occurs, e.g. CloudFront's CNAMEAlreadyExists): every resource updated so far is
 *    updated back to its old properties in dependency order of the `before` template (custom
 *    resources receive an Update with the old properties), replaced resources switch back to
 *    their old physical resource, and then resources created so far (and the new physical
 *    resources of replacements) are deleted in reverse dependency order.
 *
 * A CloudFront distribution's create or update is complete, as in CloudFormation, only once it
 * is deployed to every edge, so its effect is applied at once when its step completes. Since
 * CloudFormation runs independent resources in parallel, any topological order may happen:
 * `ORDERS` gives four schedulers (template order, reverse template order, announcers as early
 * as possible, announcers as late as possible) and tests run all of them.
 *
 * What is served is derived for each domain from the world, the way a sender gets it: the A
 * alias record of `mta-sts.<d>` to a distribution; the distribution must have the alias and a
 * certificate covering it; its default behavior's origin is a bucket (OriginPath respected); a
 * viewer-request CloudFront Function is run on the request (the old design's ROUTES table);
 * the bucket policy must let that distribution read (a per-distribution `AWS:SourceArn` or an
 * account-wide `AWS:SourceAccount` statement); then the object in the modelled bucket.
 * What is announced is the `id` of the single `v=STSv1` TXT value at `_mta-sts.<d>` (a CNAME
 * there is followed). An id is "made for" a body when the step that wrote it said so (a
 * publication resource, see below), or else when the id is a prefix of the body's SHA-256 in
 * hex (the old design's ids, 32 hex characters of it).
 *
 * Resource effects modelled:
 * - `AWS::S3::Bucket`, `AWS::S3::BucketPolicy`, `AWS::CloudFront::Distribution`,
 *   `AWS::CloudFront::Function`, `AWS::CertificateManager::Certificate`,
 *   `AWS::Route53::RecordSet`, `Custom::CrossRegionExportWriter` / `...Reader`;
 * - aws-cdk-lib `AwsCustomResource`s (any custom type whose `Create`/`Update`/`Delete` are JSON
 *   SDK calls) doing S3 `putObject` / `deleteObject` (the old design's policy objects);
 * - `Custom::MtaStsPolicyPublication` (the new design), from its contract: on Create and on
 *   Update (rollbacks included) put `PolicyText` at `ObjectKey` in `BucketName`, then UPSERT
 *   the TXT at `RecordName` with `v=STSv1; id=<ContentId><16 fresh characters>`; on Delete,
 *   delete the TXT, then the object unless `RetainObject` is `'true'`;
 * - anything else (IAM, Lambda, origin access control, ...) is inert but gets a physical id
 *   and attributes, so references to it resolve.
 *
 * Modelled AWS failures, which make the deploy roll back by itself: an alias already on another
 * distribution (CNAMEAlreadyExists), a certificate not covering an alias, a record set created
 * where one exists, a put to a missing bucket.
 *
 * Not modelled: failures inside a rollback, IAM propagation, DNS TTLs and sender caches, ACM
 * validation (certificates are issued at once), CloudFront Function propagation (an in-place
 * function update is applied at once, which is kinder than reality), explicit Deny statements
 * of bucket policies, conditions (`Fn::If`), nested stacks, and several stacks at once (each
 * stack is replayed on its own; see day-two.test.ts for what crosses stacks).
 */
import { createHash } from 'node:crypto';
import * as vm from 'node:vm';

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

/** The empty template: `deploy(world, EMPTY_TEMPLATE, t)` is a stack create. */
export const EMPTY_TEMPLATE: CfnTemplate = { Resources: {} };

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
  'AWS::CloudFront::Function': ['Name'],
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
 * Every scheduler: tests replay each, since CloudFormation may pick any topological order.
 * 'announce-early' runs announcers and their (transitive) dependencies first and everything
 * else last; 'announce-late' runs announcers last.
 */
export const ORDERS: readonly Order[] = ['template', 'reverse-template', 'announce-early', 'announce-late'];

/** Resources that announce a policy id: `_mta-sts` TXT record sets and publication resources. */
function isAnnouncer(resource: CfnResource): boolean {
  if (resource.Type === 'Custom::MtaStsPolicyPublication') {
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
  // 'announce-early' runs announcers and what they depend on first, and everything else (that
  // they ought to depend on, but may not) as late as possible.
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
// The world
// ---------------------------------------------------------------------------------------------

/** The state CloudFormation keeps for one resource of the stack. */
interface ResourceState {
  readonly type: string;
  physicalId: string;
  /** The properties as last applied, intrinsics resolved. */
  props: any;
  attrs: Record<string, string>;
  readonly retain: boolean;
}

interface RecordData {
  readonly name: string;
  readonly type: string;
  readonly values?: string[];
  /** DNSName of an alias target, without trailing dot. */
  readonly alias?: string;
}

interface DistributionData {
  readonly id: string;
  readonly domainName: string;
  config: any;
}

/** What each domain's history holds, to check Invariant A. */
interface DomainHistory {
  /** Time of the last change of what is served, or -1. */
  lastChange: number;
  /** What was served after the last step (a served state, see `servedOf`). */
  served: string;
  /** Each id ever announced for the domain, with the time it was first announced. */
  firstAnnounced: Record<string, number>;
  /** The Invariant B violation that holds now (id and served state), reported once when it begins. */
  violating?: string;
}

/** A model of the AWS resources behind one stack (plain data, so it can be cloned). */
export interface World {
  readonly account: string;
  readonly region: string;
  counter: number;
  time: number;
  /** Logical id to CloudFormation's state of the resource. */
  stack: Record<string, ResourceState>;
  /** Bucket name to (key to body). */
  buckets: Record<string, Record<string, string>>;
  /** Bucket name to its (resolved) policy document. */
  bucketPolicies: Record<string, any>;
  distributions: Record<string, DistributionData>;
  /** Certificate ARN to the names it covers. */
  certificates: Record<string, string[]>;
  /** Function ARN to its code. */
  functions: Record<string, string>;
  /** `<zone>|<name.>|<type>` to the record. */
  records: Record<string, RecordData>;
  /** SSM parameters (cross-region exports). */
  ssm: Record<string, string>;
  /** Ids written by a publication, to the body they were made for. */
  idMadeFor: Record<string, string>;
  domains: Record<string, DomainHistory>;
}

/** A world with nothing deployed. */
export function emptyWorld(options: { account?: string; region?: string } = {}): World {
  return {
    account: options.account ?? '111111111111',
    region: options.region ?? 'us-east-1',
    counter: 0,
    time: 0,
    stack: {},
    buckets: {},
    bucketPolicies: {},
    distributions: {},
    certificates: {},
    functions: {},
    records: {},
    ssm: {},
    idMadeFor: {},
    domains: {},
  };
}

/** A failure AWS would report for a step (the step has no effect; the stack rolls back). */
class AwsFailure extends Error {}

// ---------------------------------------------------------------------------------------------
// Intrinsic functions
// ---------------------------------------------------------------------------------------------

const NO_VALUE = Symbol('AWS::NoValue');

/** Resolves intrinsics against the world's physical ids and attributes. */
function resolve(node: any, world: World, template: CfnTemplate): any {
  if (Array.isArray(node)) {
    return node.map(n => resolve(n, world, template)).filter(n => n !== NO_VALUE);
  }
  if (!node || typeof node !== 'object') {
    return node;
  }
  const keys = Object.keys(node);
  if (keys.length === 1) {
    const [key] = keys;
    const arg = node[key];
    switch (key) {
      case 'Ref': return ref(arg, world, template);
      case 'Fn::GetAtt': {
        const [id, attr] = Array.isArray(arg) ? [arg[0], resolve(arg[1], world, template)] : String(arg).split(/\.(.*)/s);
        return getAtt(id, attr, world);
      }
      case 'Fn::Join': {
        const [sep, list] = arg;
        return (resolve(list, world, template) as unknown[]).join(sep);
      }
      case 'Fn::Sub': {
        const [text, vars] = Array.isArray(arg) ? [arg[0], resolve(arg[1], world, template)] : [arg, {}];
        return String(text).replace(/\$\{(!?)([^}]*)\}/g, (_all, bang: string, name: string) => {
          if (bang) {
            return `\${${name}}`;
          }
          if (name in vars) {
            return String(vars[name]);
          }
          const [id, attr] = name.split(/\.(.*)/s);
          return attr === undefined ? String(ref(id, world, template)) : getAtt(id, attr, world);
        });
      }
      case 'Fn::Select': return resolve(arg[1], world, template)[Number(resolve(arg[0], world, template))];
      case 'Fn::Split': return String(resolve(arg[1], world, template)).split(arg[0]);
      case 'Fn::FindInMap': {
        const [map, top, second] = resolve(arg, world, template);
        return resolve(template.Mappings?.[map]?.[top]?.[second], world, template);
      }
      case 'Fn::Base64': return Buffer.from(String(resolve(arg, world, template))).toString('base64');
      case 'Fn::ImportValue': return `import:${resolve(arg, world, template)}`;
      default:
        if (key.startsWith('Fn::')) {
          throw new Error(`the replay does not model ${key}`);
        }
    }
  }
  const out: Record<string, any> = {};
  for (const [key, value] of Object.entries(node)) {
    const resolved = resolve(value, world, template);
    if (resolved !== NO_VALUE) {
      out[key] = resolved;
    }
  }
  return out;
}

function ref(id: string, world: World, template: CfnTemplate): any {
  switch (id) {
    case 'AWS::Partition': return 'aws';
    case 'AWS::AccountId': return world.account;
    case 'AWS::Region': return world.region;
    case 'AWS::URLSuffix': return 'amazonaws.com';
    case 'AWS::StackName': return 'Stack';
    case 'AWS::StackId': return `arn:aws:cloudformation:${world.region}:${world.account}:stack/Stack/1`;
    case 'AWS::NoValue': return NO_VALUE;
  }
  if (template.Parameters && id in template.Parameters) {
    return template.Parameters[id].Default ?? `parameter:${id}`;
  }
  const state = world.stack[id];
  if (!state) {
    throw new Error(`Ref to ${id}, which does not exist (yet)`);
  }
  return state.physicalId;
}

function getAtt(id: string, attr: string, world: World): string {
  const state = world.stack[id];
  if (!state) {
    throw new Error(`Fn::GetAtt ${id}.${attr}: ${id} does not exist (yet)`);
  }
  return state.attrs[attr] ?? `${state.physicalId}#${attr}`;
}

// ---------------------------------------------------------------------------------------------
// Resource effects
// ---------------------------------------------------------------------------------------------

interface Applied {
  readonly physicalId: string;
  readonly attrs?: Record<string, string>;
}

interface Effect {
  /** Creates the physical resource. */
  create(world: World, props: any, logicalId: string): Applied;
  /** Updates it in place (a custom resource may return a new physical id). */
  update(world: World, state: ResourceState, props: any): Applied;
  /** Deletes it (`state.props` are the properties it was last applied with). */
  delete(world: World, state: ResourceState): void;
}

function fresh(world: World): number {
  world.counter += 1;
  return world.counter;
}

const dotted = (name: string): string => (name.endsWith('.') ? name : `${name}.`).toLowerCase();
const recordKey = (zone: string, name: string, type: string): string => `${zone}|${dotted(name)}|${type}`;
const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

const inert: Effect = {
  create: (world, _props, logicalId) => {
    const physicalId = `${logicalId}-${fresh(world)}`;
    return { physicalId, attrs: { Arn: `arn:aws:modelled:${world.region}:${world.account}:${physicalId}` } };
  },
  update: (_world, state) => ({ physicalId: state.physicalId, attrs: state.attrs }),
  delete: () => undefined,
};

const bucket: Effect = {
  create: (world, props, logicalId) => {
    const name = props.BucketName ?? `${logicalId.toLowerCase()}-${fresh(world)}`;
    world.buckets[name] = {};
    return {
      physicalId: name,
      attrs: {
        Arn: `arn:aws:s3:::${name}`,
        DomainName: `${name}.s3.amazonaws.com`,
        RegionalDomainName: `${name}.s3.${world.region}.amazonaws.com`,
      },
    };
  },
  update: (_world, state) => ({ physicalId: state.physicalId, attrs: state.attrs }),
  delete: (world, state) => {
    if (!state.retain) {
      delete world.buckets[state.physicalId];
    }
  },
};

const bucketPolicy: Effect = {
  create: (world, props) => {
    world.bucketPolicies[props.Bucket] = props.PolicyDocument;
    return { physicalId: `policy:${props.Bucket}:${fresh(world)}` };
  },
  update: (world, state, props) => {
    world.bucketPolicies[props.Bucket] = props.PolicyDocument;
    return { physicalId: state.physicalId };
  },
  delete: (world, state) => {
    delete world.bucketPolicies[state.props.Bucket];
  },
};

const certificate: Effect = {
  create: (world, props) => {
    const arn = `arn:aws:acm:${world.region}:${world.account}:certificate/modelled-${fresh(world)}`;
    world.certificates[arn] = [props.DomainName, ...(props.SubjectAlternativeNames ?? [])].map((n: string) => n.toLowerCase());
    return { physicalId: arn };
  },
  update: (_world, state) => ({ physicalId: state.physicalId }),
  delete: (world, state) => {
    delete world.certificates[state.physicalId];
  },
};

function certificateCovers(world: World, arn: string | undefined, host: string): boolean {
  if (arn === undefined) {
    return false;
  }
  const names = world.certificates[arn];
  if (names === undefined) {
    // Not created by this stack (a supplied certificate): assume the user made it right.
    return true;
  }
  return names.some(n => n === host || (n.startsWith('*.') && host.slice(host.indexOf('.') + 1) === n.slice(2)));
}

/** CloudFront refuses an alias that another distribution holds, and a certificate that does not cover it. */
function checkDistribution(world: World, id: string, config: any): void {
  const aliases: string[] = (config.Aliases ?? []).map((a: string) => a.toLowerCase());
  for (const other of Object.values(world.distributions)) {
    const taken = aliases.find(a => other.id !== id && (other.config.Aliases ?? []).map((x: string) => x.toLowerCase()).includes(a));
    if (taken) {
      throw new AwsFailure(`CNAMEAlreadyExists: ${taken} is an alias of distribution ${other.id}`);
    }
  }
  const arn = config.ViewerCertificate?.AcmCertificateArn;
  const uncovered = aliases.find(a => !certificateCovers(world, arn, a));
  if (uncovered) {
    throw new AwsFailure(`InvalidViewerCertificate: the certificate does not cover ${uncovered}`);
  }
}

const distribution: Effect = {
  create: (world, props) => {
    const n = fresh(world);
    const id = `E${String(n).padStart(6, '0')}`;
    checkDistribution(world, id, props.DistributionConfig);
    const domainName = `d${n}.cloudfront.net`;
    world.distributions[id] = { id, domainName, config: props.DistributionConfig };
    return { physicalId: id, attrs: { Id: id, DomainName: domainName } };
  },
  update: (world, state, props) => {
    checkDistribution(world, state.physicalId, props.DistributionConfig);
    world.distributions[state.physicalId].config = props.DistributionConfig;
    return { physicalId: state.physicalId, attrs: state.attrs };
  },
  delete: (world, state) => {
    delete world.distributions[state.physicalId];
  },
};

const cloudfrontFunction: Effect = {
  create: (world, props) => {
    const arn = `arn:aws:cloudfront::${world.account}:function/${props.Name}`;
    world.functions[arn] = props.FunctionCode;
    return { physicalId: arn, attrs: { FunctionARN: arn, Stage: 'LIVE' } };
  },
  update: (world, state, props) => {
    world.functions[state.physicalId] = props.FunctionCode;
    return { physicalId: state.physicalId, attrs: state.attrs };
  },
  delete: (world, state) => {
    delete world.functions[state.physicalId];
  },
};

function recordOf(props: any): RecordData {
  return {
    name: dotted(props.Name),
    type: props.Type,
    values: props.ResourceRecords,
    alias: props.AliasTarget?.DNSName?.replace(/\.$/, '').toLowerCase(),
  };
}

const recordSet: Effect = {
  create: (world, props) => {
    const key = recordKey(props.HostedZoneId ?? props.HostedZoneName, props.Name, props.Type);
    if (world.records[key]) {
      throw new AwsFailure(`InvalidChangeBatch: ${props.Type} ${dotted(props.Name)} already exists`);
    }
    world.records[key] = recordOf(props);
    return { physicalId: dotted(props.Name) };
  },
  update: (world, state, props) => {
    world.records[recordKey(props.HostedZoneId ?? props.HostedZoneName, props.Name, props.Type)] = recordOf(props);
    return { physicalId: state.physicalId };
  },
  delete: (world, state) => {
    delete world.records[recordKey(state.props.HostedZoneId ?? state.props.HostedZoneName, state.props.Name, state.props.Type)];
  },
};

/** aws-cdk-lib AwsCustomResource: `Create`/`Update`/`Delete` are JSON SDK calls. */
function sdkCall(world: World, json: string | undefined): string | undefined {
  if (json === undefined) {
    return undefined;
  }
  const call = JSON.parse(json);
  const p = call.parameters ?? {};
  if (call.service === 'S3' && call.action === 'putObject') {
    const objects = world.buckets[p.Bucket];
    if (!objects) {
      throw new AwsFailure(`NoSuchBucket: ${p.Bucket}`);
    }
    objects[p.Key] = p.Body;
  } else if (call.service === 'S3' && call.action === 'deleteObject') {
    delete world.buckets[p.Bucket]?.[p.Key];
  }
  return call.physicalResourceId?.id;
}

const awsCustomResource: Effect = {
  create: (world, props, logicalId) => ({ physicalId: sdkCall(world, props.Create) ?? `${logicalId}-${fresh(world)}` }),
  update: (world, state, props) => ({ physicalId: sdkCall(world, props.Update) ?? state.physicalId }),
  delete: (world, state) => {
    sdkCall(world, state.props.Delete);
  },
};

/**
 * The new design's publication resource, from its contract (issue 12): put the body, then
 * UPSERT the TXT with a fresh id made of the content id and 16 new characters.
 */
function publish(world: World, props: any): Applied {
  const objects = world.buckets[props.BucketName];
  if (!objects) {
    throw new AwsFailure(`NoSuchBucket: ${props.BucketName}`);
  }
  if (props.ContentId !== sha256(props.PolicyText).slice(0, 16)) {
    throw new Error(`contract: ContentId ${props.ContentId} of ${props.DomainName} is not the first 16 hex of sha256(PolicyText)`);
  }
  objects[props.ObjectKey] = props.PolicyText;
  const id = `${props.ContentId}${'p'}${fresh(world).toString(36).padStart(15, '0')}`;
  world.idMadeFor[id] = props.PolicyText;
  world.records[recordKey(props.HostedZoneId, props.RecordName, 'TXT')] = {
    name: dotted(props.RecordName), type: 'TXT', values: [`"v=STSv1; id=${id}"`],
  };
  return { physicalId: `publication:${props.DomainName}` };
}

const publication: Effect = {
  create: (world, props) => publish(world, props),
  update: (world, _state, props) => publish(world, props),
  delete: (world, state) => {
    const p = state.props;
    delete world.records[recordKey(p.HostedZoneId, p.RecordName, 'TXT')];
    if (p.RetainObject !== 'true') {
      delete world.buckets[p.BucketName]?.[p.ObjectKey];
    }
  },
};

const exportsWriter: Effect = {
  create: (world, props, logicalId) => {
    Object.assign(world.ssm, props.WriterProps?.exports ?? {});
    return { physicalId: `${logicalId}-${fresh(world)}` };
  },
  update: (world, state, props) => {
    Object.keys(state.props.WriterProps?.exports ?? {}).forEach(k => delete world.ssm[k]);
    Object.assign(world.ssm, props.WriterProps?.exports ?? {});
    return { physicalId: state.physicalId };
  },
  delete: (world, state) => {
    Object.keys(state.props.WriterProps?.exports ?? {}).forEach(k => delete world.ssm[k]);
  },
};

const exportsReader: Effect = {
  create: (world, props, logicalId) => ({ physicalId: `${logicalId}-${fresh(world)}`, attrs: readExports(world, props) }),
  update: (world, state, props) => ({ physicalId: state.physicalId, attrs: readExports(world, props) }),
  delete: () => undefined,
};

function readExports(world: World, props: any): Record<string, string> {
  return Object.fromEntries(Object.keys(props.ReaderProps?.imports ?? {}).map(name => [name, world.ssm[name] ?? `unresolved-export:${name}`]));
}

function effectOf(type: string, props: any): Effect {
  switch (type) {
    case 'AWS::S3::Bucket': return bucket;
    case 'AWS::S3::BucketPolicy': return bucketPolicy;
    case 'AWS::CertificateManager::Certificate': return certificate;
    case 'AWS::CloudFront::Distribution': return distribution;
    case 'AWS::CloudFront::Function': return cloudfrontFunction;
    case 'AWS::Route53::RecordSet': return recordSet;
    case 'Custom::MtaStsPolicyPublication': return publication;
    case 'Custom::CrossRegionExportWriter': return exportsWriter;
    case 'Custom::CrossRegionExportReader': return exportsReader;
  }
  if ((type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource')
    && (typeof props?.Create === 'string' || typeof props?.Update === 'string')) {
    return awsCustomResource;
  }
  return inert;
}

// ---------------------------------------------------------------------------------------------
// What senders see
// ---------------------------------------------------------------------------------------------

/** A served state: `body:<text>` or `error:<why>`. */
type Served = string;

const WELL_KNOWN = '/.well-known/mta-sts.txt';
const functionCache = new Map<string, vm.Script>();

/** Runs a CloudFront Function's handler on a GET of the policy, as CloudFront would. */
function runViewerRequest(code: string, host: string, uri: string): any {
  let script = functionCache.get(code);
  if (!script) {
    script = new vm.Script(`${code}\n;result = handler(event);`);
    functionCache.set(code, script);
  }
  const sandbox: any = { event: { request: { method: 'GET', uri, headers: { host: { value: host } }, querystring: {} } } };
  script.runInNewContext(sandbox);
  return sandbox.result;
}

function findRecords(world: World, name: string, type: string): RecordData[] {
  return Object.values(world.records).filter(r => r.name === dotted(name) && r.type === type);
}

function asList<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : ([] as T[]).concat(value);
}

function globMatches(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map(s => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(value);
}

/** Does the bucket policy let this distribution (origin access control) read the key? */
function bucketLetsRead(world: World, bucketName: string, key: string, dist: DistributionData): boolean {
  const document = world.bucketPolicies[bucketName];
  const distributionArn = `arn:aws:cloudfront::${world.account}:distribution/${dist.id}`;
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
    const conditions = { ...(s.Condition?.StringEquals ?? {}), ...(s.Condition?.ArnLike ?? {}), ...(s.Condition?.ArnEquals ?? {}) };
    const sourceArn = conditions['AWS:SourceArn'] ?? conditions['aws:SourceArn'];
    const sourceAccount = conditions['AWS:SourceAccount'] ?? conditions['aws:SourceAccount'];
    if (sourceArn !== undefined && !asList<string>(sourceArn).some(a => globMatches(a, distributionArn))) {
      return false;
    }
    if (sourceAccount !== undefined && !asList(sourceAccount).includes(world.account)) {
      return false;
    }
    return true;
  });
}

/** What a sender gets from https://mta-sts.<domain>/.well-known/mta-sts.txt. */
export function servedOf(world: World, domain: string): Served {
  const host = `mta-sts.${domain}`;
  const alias = findRecords(world, host, 'A').find(r => r.alias !== undefined);
  if (!alias) {
    return `error:no A alias record for ${host}`;
  }
  const dist = Object.values(world.distributions).find(d => d.domainName === alias.alias);
  if (!dist) {
    return `error:the A record of ${host} points at ${alias.alias}, which is no distribution`;
  }
  const config = dist.config;
  if (!(config.Aliases ?? []).map((a: string) => a.toLowerCase()).includes(host)) {
    return `error:distribution ${dist.id} has no alias ${host} (403)`;
  }
  if (!certificateCovers(world, config.ViewerCertificate?.AcmCertificateArn, host)) {
    return `error:the certificate of distribution ${dist.id} does not cover ${host}`;
  }
  const behavior = config.DefaultCacheBehavior ?? {};
  const origin = asList<any>(config.Origins).find(o => o.Id === behavior.TargetOriginId);
  const bucketName = Object.keys(world.buckets).find(b =>
    origin && [`${b}.s3.amazonaws.com`, `${b}.s3.${world.region}.amazonaws.com`].includes(origin.DomainName));
  if (!bucketName) {
    return `error:the origin of distribution ${dist.id} is no modelled bucket`;
  }
  let uri = WELL_KNOWN;
  const association = asList<any>(behavior.FunctionAssociations).find(a => a.EventType === 'viewer-request');
  if (association) {
    const code = world.functions[association.FunctionARN];
    if (code === undefined) {
      return `error:the viewer-request function ${association.FunctionARN} of ${dist.id} does not exist`;
    }
    const result = runViewerRequest(code, host, uri);
    if (result?.statusCode !== undefined) {
      return `error:the viewer-request function of ${dist.id} answers ${result.statusCode}`;
    }
    uri = result.uri;
  }
  const key = `${origin.OriginPath ?? ''}${uri}`.replace(/^\//, '');
  if (!bucketLetsRead(world, bucketName, key, dist)) {
    return `error:the bucket policy does not let distribution ${dist.id} read ${key} (403)`;
  }
  const body = world.buckets[bucketName][key];
  return body === undefined ? `error:no object ${key} (404)` : `body:${body}`;
}

/** The id announced in `_mta-sts.<domain>`, if exactly one valid `v=STSv1` record is there. */
export function announcedOf(world: World, domain: string): string | undefined {
  let name = `_mta-sts.${domain}`;
  const cname = findRecords(world, name, 'CNAME')[0];
  if (cname?.values?.[0]) {
    name = cname.values[0];
  }
  const values = findRecords(world, name, 'TXT').flatMap(r => r.values ?? [])
    .map(v => v.replace(/^"|"$/g, '').replace(/" "/g, ''))
    .filter(v => v.startsWith('v=STSv1'));
  if (values.length !== 1) {
    return undefined;
  }
  return /(?:^|;)\s*id=([A-Za-z0-9]{1,32})\s*(?:;|$)/.exec(values[0])?.[1];
}

/** Whether `id` was made for `body`: as recorded by a publication, or as a SHA-256 prefix. */
function madeFor(world: World, id: string, body: string): boolean {
  const recorded = world.idMadeFor[id];
  if (recorded !== undefined) {
    return recorded === body;
  }
  return /^[0-9a-f]+$/.test(id) && sha256(body).startsWith(id);
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
  return `body sha256:${sha256(body).slice(0, 8)} (mode ${mode}, mx ${mx})`;
}

/**
 * The policy domains the world knows of: those of the templates deployed (their `mta-sts.<d>`
 * A records, registered by `deploy`), and any `mta-sts.<d>` A or `_mta-sts.<d>` CNAME record.
 * A `_mta-sts.` TXT name alone is not a domain: it may be the target of a CNAME in a delegated
 * zone.
 */
function domainsOf(world: World): string[] {
  const names = new Set(Object.keys(world.domains));
  for (const r of Object.values(world.records)) {
    const m = /^(_?)mta-sts\.(.+)\.$/.exec(r.name);
    if (m && ((m[1] === '' && r.type === 'A') || (m[1] === '_' && r.type === 'CNAME'))) {
      names.add(m[2]);
    }
  }
  return [...names].sort();
}

/** The policy domains of a template: names of its `mta-sts.<d>` A records. */
function templateDomainsOf(template: CfnTemplate): string[] {
  return Object.values(template.Resources ?? {}).flatMap((resource) => {
    const p = resource.Properties ?? {};
    const m = resource.Type === 'AWS::Route53::RecordSet' && p.Type === 'A' && typeof p.Name === 'string' ? /^mta-sts\.(.+)\.$/.exec(dotted(p.Name)) : null;
    return m ? [m[1]] : [];
  });
}

// ---------------------------------------------------------------------------------------------
// The replay
// ---------------------------------------------------------------------------------------------

/** Options of one replay. */
export interface ReplayOptions {
  /** Scheduler for resources ready at the same time. @default 'template' */
  readonly order?: Order;
  /**
   * Inject a failure after this many update-phase steps (0: before the first; the number of
   * steps: after the last one, before cleanup, e.g. a user's resource failing). The stack
   * then rolls back. @default - no injected failure
   */
  readonly failAfterStep?: number;
  /** A label for messages (e.g. 'initial deploy'). */
  readonly label?: string;
}

/** The outcome of one replay. */
export interface ReplayResult {
  /** The world after the deploy (or after its rollback). */
  readonly world: World;
  /** Every step, numbered, with phase, action, logical id and type. */
  readonly steps: string[];
  /** Invariant violations, each with the step it happened at. */
  readonly violations: string[];
  /** How many steps the update phase took (or took until it failed). */
  readonly updateSteps: number;
  /** The failure that caused a rollback, injected or modelled (e.g. CNAMEAlreadyExists). */
  readonly failure?: string;
  /** Whether the failure was a modelled AWS failure (the deploy itself cannot succeed). */
  readonly awsFailure: boolean;
}

type Journal =
  | { kind: 'create'; logicalId: string }
  | { kind: 'update'; logicalId: string; previous: ResourceState }
  | { kind: 'replace'; logicalId: string; previous: ResourceState };

/**
 * Replays CloudFormation's update of one stack from `before` to `after`, starting from `world`
 * (which must hold `before` deployed; use `EMPTY_TEMPLATE` and `emptyWorld()` for a create).
 * Does not modify `world`: the result holds a new one.
 */
export function deploy(initial: World, before: CfnTemplate, after: CfnTemplate, options: ReplayOptions = {}): ReplayResult {
  const world: World = structuredClone(initial);
  const startTime = world.time;
  for (const domain of [...templateDomainsOf(before), ...templateDomainsOf(after)]) {
    world.domains[domain] ??= { lastChange: -1, served: servedOf(world, domain), firstAnnounced: {} };
  }
  const order = options.order ?? 'template';
  const label = options.label ? `${options.label}: ` : '';
  const steps: string[] = [];
  const violations: string[] = [];
  const journal = new Map<string, Journal>();
  /** Physical resources to delete in cleanup (replaced ones), with their logical id. */
  const replacedOld: Array<{ logicalId: string; state: ResourceState }> = [];
  const beforeResources = before.Resources ?? {};
  const afterResources = after.Resources ?? {};

  /** Applies one step: logs it, advances time, checks Invariant B. */
  const step = (phase: string, action: string, logicalId: string, type: string, effect: () => void): void => {
    effect();
    world.time += 1;
    steps.push(`#${world.time} ${phase} ${action} ${logicalId} (${type})`);
    observe(world, (message) => violations.push(`${label}Invariant B after step ${steps[steps.length - 1]}: ${message}`));
  };

  const apply = (logicalId: string, resource: CfnResource, template: CfnTemplate, phase: 'update' | 'rollback'): void => {
    const props = resolve(resource.Properties ?? {}, world, template);
    const current = world.stack[logicalId];
    const effect = effectOf(resource.Type, props);
    const retain = resource.DeletionPolicy === 'Retain' || resource.DeletionPolicy === 'RetainExceptOnCreate';
    if (!current) {
      step(phase, 'create', logicalId, resource.Type, () => {
        const applied = effect.create(world, props, logicalId);
        world.stack[logicalId] = { type: resource.Type, physicalId: applied.physicalId, props, attrs: applied.attrs ?? {}, retain };
      });
      journal.set(logicalId, { kind: 'create', logicalId });
      return;
    }
    if (isDeepStrictEqual(current.props, props) && current.type === resource.Type) {
      return;
    }
    const immutable = IMMUTABLE[resource.Type] ?? [];
    const replace = current.type !== resource.Type
      || immutable.some(p => !isDeepStrictEqual(current.props[p], props[p]));
    if (replace) {
      step(phase, 'replace (create new)', logicalId, resource.Type, () => {
        const applied = effect.create(world, props, logicalId);
        replacedOld.push({ logicalId, state: current });
        journal.set(logicalId, { kind: 'replace', logicalId, previous: current });
        world.stack[logicalId] = { type: resource.Type, physicalId: applied.physicalId, props, attrs: applied.attrs ?? {}, retain };
      });
      return;
    }
    step(phase, 'update', logicalId, resource.Type, () => {
      const previous = structuredClone(current);
      const applied = effect.update(world, current, props);
      if (applied.physicalId !== current.physicalId) {
        // A custom resource that returns a new physical id is replaced: the old one is deleted in cleanup.
        replacedOld.push({ logicalId, state: previous });
      }
      if (!journal.has(logicalId)) {
        journal.set(logicalId, { kind: 'update', logicalId, previous });
      }
      current.physicalId = applied.physicalId;
      current.props = props;
      current.attrs = applied.attrs ?? current.attrs;
    });
  };

  // 1. Update phase.
  let failure: string | undefined;
  let awsFailure = false;
  let updateSteps = 0;
  for (const logicalId of topologicalOrder(after, order)) {
    if (options.failAfterStep === updateSteps) {
      failure = `failure injected after update step ${updateSteps}`;
      break;
    }
    const stepsBefore = steps.length;
    try {
      apply(logicalId, afterResources[logicalId], after, 'update');
    } catch (e) {
      if (!(e instanceof AwsFailure)) {
        throw e;
      }
      failure = `${logicalId} (${afterResources[logicalId].Type}) failed: ${e.message}`;
      awsFailure = true;
      steps.push(`   update FAILED: ${failure}`);
      break;
    }
    updateSteps += steps.length - stepsBefore;
  }
  if (failure === undefined && options.failAfterStep !== undefined && options.failAfterStep >= updateSteps) {
    failure = `failure injected after update step ${updateSteps} (the last)`;
  }

  if (failure === undefined) {
    // 2. Cleanup: removed resources and the old physical resources of replaced ones, in reverse
    // dependency order of the before template.
    for (const logicalId of topologicalOrder(before, order).reverse()) {
      if (!(logicalId in afterResources)) {
        const state = world.stack[logicalId];
        step('cleanup', 'delete', logicalId, state.type, () => {
          effectOf(state.type, state.props).delete(world, state);
          delete world.stack[logicalId];
        });
      }
      for (const { state } of replacedOld.filter(r => r.logicalId === logicalId)) {
        step('cleanup', 'delete old physical', logicalId, state.type, () => effectOf(state.type, state.props).delete(world, state));
      }
    }
    checkA(world, startTime, (message) => violations.push(`${label}Invariant A at the end of the deploy: ${message}`));
    checkEndState(world, after, (message) => violations.push(`${label}End state of the deploy: ${message}`));
  } else {
    steps.push(`   ROLLBACK: ${failure}`);
    /** New physical resources of replacements, deleted in the rollback's cleanup. */
    const rollbackDeletes: Array<{ logicalId: string; state: ResourceState }> = [];
    // 3a. Rollback: update back in dependency order of the before template.
    for (const logicalId of topologicalOrder(before, order)) {
      const entry = journal.get(logicalId);
      if (entry?.kind === 'update') {
        const resource = beforeResources[logicalId];
        const props = resolve(resource.Properties ?? {}, world, before);
        step('rollback', 'update back', logicalId, resource.Type, () => {
          const current = world.stack[logicalId];
          const applied = effectOf(resource.Type, props).update(world, current, props);
          if (applied.physicalId !== current.physicalId) {
            // The handler went back to another physical id: the one it leaves is deleted.
            rollbackDeletes.push({ logicalId, state: structuredClone(current) });
          }
          current.physicalId = applied.physicalId;
          current.props = props;
          current.attrs = applied.attrs ?? current.attrs;
        });
      } else if (entry?.kind === 'replace') {
        step('rollback', 'switch back to old physical', logicalId, entry.previous.type, () => {
          const created = world.stack[logicalId];
          world.stack[logicalId] = entry.previous;
          rollbackDeletes.push({ logicalId, state: created });
        });
      }
    }
    // 3b. Rollback cleanup: delete what was created, in reverse dependency order of the after template.
    for (const logicalId of topologicalOrder(after, order).reverse()) {
      const entry = journal.get(logicalId);
      if (entry?.kind === 'create') {
        const state = world.stack[logicalId];
        step('rollback cleanup', 'delete created', logicalId, state.type, () => {
          effectOf(state.type, state.props).delete(world, state);
          delete world.stack[logicalId];
        });
      }
      for (const { state } of rollbackDeletes.filter(r => r.logicalId === logicalId)) {
        step('rollback cleanup', 'delete new physical', logicalId, state.type, () => effectOf(state.type, state.props).delete(world, state));
      }
    }
    checkA(world, startTime, (message) => violations.push(`${label}Invariant A at the end of the rollback (${failure}): ${message}`));
    checkEndState(world, before, (message) => violations.push(`${label}End state of the rollback (${failure}): ${message}`));
  }
  return { world, steps, violations, updateSteps, failure, awsFailure };
}

function isDeepStrictEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Updates each domain's history after a step, and reports Invariant B violations. */
function observe(world: World, report: (message: string) => void): void {
  for (const domain of domainsOf(world)) {
    const history = world.domains[domain] ??= { lastChange: -1, served: 'error:never served', firstAnnounced: {} };
    const served = servedOf(world, domain);
    if (served !== history.served) {
      history.served = served;
      history.lastChange = world.time;
    }
    const id = announcedOf(world, domain);
    if (id !== undefined) {
      history.firstAnnounced[id] ??= world.time;
    }
    let violation: string | undefined;
    if (id !== undefined && !served.startsWith('body:')) {
      violation = `${domain} announces id=${id} but serves ${describe(served)}`;
    } else if (id !== undefined && !madeFor(world, id, served.slice('body:'.length))) {
      violation = `${domain} announces id=${id}, not made for what it serves: ${describe(served)}`;
    }
    // A violation is reported at the step it begins (or changes), not again at every step it lasts.
    if (violation !== undefined && violation !== history.violating) {
      report(violation);
    }
    history.violating = violation;
  }
}

/** What a template says a domain must end up with: the policy text, or the announced id. */
function expectedOf(template: CfnTemplate, domain: string): { text?: string; id?: string } | undefined {
  for (const resource of Object.values(template.Resources ?? {})) {
    const p = resource.Properties ?? {};
    if (resource.Type === 'Custom::MtaStsPolicyPublication' && String(p.DomainName).toLowerCase() === domain && typeof p.PolicyText === 'string') {
      return { text: p.PolicyText };
    }
    if (resource.Type === 'AWS::Route53::RecordSet' && p.Type === 'TXT' && typeof p.Name === 'string' && dotted(p.Name) === `_mta-sts.${domain}.`) {
      const value = (p.ResourceRecords ?? []).filter((v: unknown) => typeof v === 'string').join('').replace(/"/g, '');
      return { id: /id=([A-Za-z0-9]+)/.exec(value)?.[1] };
    }
  }
  return undefined;
}

/**
 * The end state: every domain the template publishes is served and announced as the template
 * says (so a design that publishes nothing, or leaves the old policy, cannot pass).
 */
export function endStateProblems(world: World, template: CfnTemplate): string[] {
  const problems: string[] = [];
  checkEndState(world, template, message => problems.push(message));
  return problems;
}

function checkEndState(world: World, template: CfnTemplate, report: (message: string) => void): void {
  for (const domain of domainsOf(world)) {
    const expected = expectedOf(template, domain);
    if (!expected) {
      continue;
    }
    const served = servedOf(world, domain);
    const id = announcedOf(world, domain);
    if (id === undefined) {
      report(`${domain} announces no id, serving ${describe(served)}`);
    } else if (expected.text !== undefined && served !== `body:${expected.text}`) {
      report(`${domain} serves ${describe(served)}, not its template's policy ${describe(`body:${expected.text}`)}`);
    } else if (expected.id !== undefined && id !== expected.id) {
      report(`${domain} announces id=${id}, not its template's id=${expected.id}`);
    }
  }
}

/** Invariant A, at the end of a deploy or rollback that started at time `since`. */
function checkA(world: World, since: number, report: (message: string) => void): void {
  for (const domain of domainsOf(world)) {
    const history = world.domains[domain];
    const id = announcedOf(world, domain);
    // Only domains whose served body changed during this replay; a domain with no id announced
    // at the end has no policy, which is a legal end state (e.g. a removed domain).
    if (!history || id === undefined || history.lastChange <= since) {
      continue;
    }
    const served = servedOf(world, domain);
    const first = history.firstAnnounced[id];
    // Equal times mean one step changed the body and then announced the id (a publication).
    if (first < history.lastChange) {
      report(`${domain} announces id=${id}, first announced at step #${first}, but what it serves last changed at step #${history.lastChange} `
        + `(now ${describe(served)}): a sender that fetched in between keeps what it got under this id`);
    } else if (!served.startsWith('body:') || !madeFor(world, id, served.slice('body:'.length))) {
      report(`${domain} announces id=${id} for ${describe(served)}, which it was not made for`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Scenarios: every scheduler, no failure and a failure after every step
// ---------------------------------------------------------------------------------------------

/** One replay that broke a promise. */
export interface ReplayProblem {
  /** Which replay: scheduler and failure point. */
  readonly run: string;
  /** Its violations, in order (the first may say why the deploy cannot succeed). */
  readonly violations: string[];
  /** Its steps, numbered. */
  readonly steps: string[];
}

/** What `replayScenario` found. */
export interface ScenarioOutcome {
  /** How many replays were run. */
  readonly runs: number;
  readonly problems: ReplayProblem[];
}

/**
 * Refuses a template whose policy domains the model cannot see announced: every domain with an
 * `mta-sts.<d>` A record must have a `_mta-sts.<d>` TXT record set or a publication resource,
 * so that a design announcing in some other way cannot pass by announcing nothing.
 */
function assertModelled(template: CfnTemplate): void {
  for (const domain of templateDomainsOf(template)) {
    if (expectedOf(template, domain) === undefined) {
      throw new Error(`the replay does not model how ${domain} is announced: no _mta-sts.${domain} TXT record set and no Custom::MtaStsPolicyPublication for it`);
    }
  }
}

/** Options of `replayScenario`. */
export interface ScenarioOptions {
  /** Schedulers to replay with. @default ORDERS */
  readonly orders?: readonly Order[];
  /** Region of the modelled world. @default 'us-east-1' */
  readonly region?: string;
  /** Templates deployed, in turn, before `before` (so ids announced then count as announced before). */
  readonly prior?: readonly CfnTemplate[];
}

/**
 * Deploys `before` on an empty world (checking the create too), then replays the update to
 * `after` with each scheduler: once with no failure (which must also not fail by itself, e.g.
 * with CNAMEAlreadyExists) and once with a failure injected after every update step.
 */
export function replayScenario(before: CfnTemplate, after: CfnTemplate, options: ScenarioOptions = {}): ScenarioOutcome {
  for (const template of [...(options.prior ?? []), before, after]) {
    assertModelled(template);
  }
  const problems: ReplayProblem[] = [];
  let runs = 0;
  const collect = (run: string, result: ReplayResult, mustSucceed: boolean): void => {
    runs += 1;
    const messages = [...(mustSucceed && result.failure ? [`the deploy cannot succeed: ${result.failure}`] : []), ...result.violations];
    if (messages.length > 0) {
      problems.push({ run, violations: messages, steps: result.steps });
    }
  };
  for (const order of options.orders ?? ORDERS) {
    let world = emptyWorld({ region: options.region });
    let deployed: CfnTemplate = EMPTY_TEMPLATE;
    for (const [i, template] of [...(options.prior ?? []), before].entries()) {
      const result = deploy(world, deployed, template, { order, label: `deploy ${i + 1} of the history` });
      collect(`${order}, deploy ${i + 1} of the history (the last is the before-template)`, result, true);
      world = result.world;
      deployed = template;
    }
    const initial = { world };
    const clean = deploy(initial.world, before, after, { order });
    collect(`${order}, update with no failure`, clean, true);
    for (let k = 0; k <= clean.updateSteps; k++) {
      collect(`${order}, failure after update step ${k}`, deploy(initial.world, before, after, { order, failAfterStep: k }), false);
    }
  }
  return { runs, problems };
}

/**
 * The kind of a violation: its text without step numbers, modelled physical ids and fresh id
 * suffixes, so that replays that broke a promise the same way are counted together.
 */
function kindOf(violation: string): string {
  return violation.replace(/#\d+/g, '#n').replace(/\bE\d{6}\b/g, 'E…').replace(/p0[0-9a-z]{14}\b/g, '…')
    .replace(/^deploy \d+ of the history: /, '').replace(/\((failure injected|\w+ \(AWS::[^)]*\) failed)[^:]*\):/, '(failure):');
}

/**
 * A failure message for a scenario: how many replays broke a promise, each distinct way with
 * an example and how many replays showed it, and the steps of the first broken replay.
 */
export function formatOutcome(outcome: ScenarioOutcome, maxKinds = 8): string {
  if (outcome.problems.length === 0) {
    return `all ${outcome.runs} replays kept invariants A and B`;
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
  // What the scenario's own update and rollbacks did first; what deploying the history did last.
  const ordered = [...kinds.values()].sort((a, b) => Number(a.run.includes('history')) - Number(b.run.includes('history')));
  for (const kind of ordered.slice(0, maxKinds)) {
    lines.push(`- [${kind.run}${kind.runs.size > 1 ? `, and ${kind.runs.size - 1} more replays` : ''}] ${kind.example}`);
  }
  if (kinds.size > maxKinds) {
    lines.push(`- ... and ${kinds.size - maxKinds} more ways`);
  }
  lines.push(`Steps of [${outcome.problems[0].run}]:`, ...outcome.problems[0].steps.map(s => `  ${s}`));
  return lines.join('\n');
}

/** Throws, with `formatOutcome`'s message, unless every replay kept both invariants. */
export function expectInvariantsKept(outcome: ScenarioOutcome): void {
  if (outcome.problems.length > 0 || outcome.runs === 0) {
    throw new Error(formatOutcome(outcome));
  }
}
