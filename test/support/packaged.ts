import { ChildProcess, fork } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { App } from 'aws-cdk-lib';

/**
 * Lambda functions as packaged: the code of each `AWS::Lambda::Function` of a synthesized
 * stack, from its asset directory in the cloud assembly, run by its template `Handler` in a
 * fresh Node.js process (test/support/lambda-host.js) the way the Lambda Node.js runtime runs
 * it, with the real AWS SDK pointed at an emulator (moto) through `AWS_ENDPOINT_URL`:
 * `invoke` (a cold sandbox per invocation), `invokeConcurrently` (one sandbox serving several
 * requests at once), `startWarmHost` (one sandbox serving requests one after another, module
 * state kept between them as in a reused Lambda execution environment).
 *
 * @example
 * const stack = openStack(synthesize(app), 'Stack', { refs: { CollectorBucket: 'my-bucket' } });
 * const fn = stack.findFunction('CollectorProcessor');
 * const run = await invoke(fn, sesReceiptEvent(...), { endpoint: moto.endpoint });
 * expect(run.error).toBeUndefined();
 */

/** One `AWS::Lambda::Function` of a synthesized stack. */
export interface PackagedFunction {
  readonly stackName: string;
  readonly logicalId: string;
  /** The template's `Handler` (`__entrypoint__.handler` for aws-cdk-lib's CustomResourceProvider). */
  readonly handler: string;
  /** The code: the asset's directory in the cloud assembly (or a directory holding inline `ZipFile` code as index.js). */
  readonly assetDir: string;
  /** `Environment.Variables` whose values resolved (literals, pseudo parameters, `refs`, the stack's functions). */
  readonly environment: Readonly<Record<string, string>>;
  /** Variables left out because their template value did not resolve: pass `refs` or `InvokeOptions.env`. */
  readonly unresolvedEnvironment: Readonly<Record<string, unknown>>;
  /** `Timeout`. @default 3 (Lambda's) */
  readonly timeoutSeconds: number;
  /** `MemorySize`. @default 128 */
  readonly memoryMb: number;
  /** `Runtime`, e.g. `nodejs22.x`. */
  readonly runtime: string;
  /** The name the function is given here: `<stack name>-<logical id>` (CloudFormation adds a random suffix). */
  readonly functionName: string;
  readonly functionArn: string;
  readonly account: string;
  readonly region: string;
}

export interface StackOptions {
  /**
   * Values of `Ref` and `Fn::GetAtt` by logical id (`{ CollectorBucket1A630927: 'my-bucket' }`)
   * or `<logical id>.<attribute>`; a key may be a prefix of the logical id (the construct path
   * part, e.g. `CollectorBucket`), the longest matching key wins.
   * `Ref`/`Arn` of the stack's own Lambda functions and pseudo parameters resolve without it.
   */
  readonly refs?: Readonly<Record<string, string>>;
}

/** Synthesizes the app and returns its cloud assembly directory (a temporary directory unless the app has an outdir). */
export function synthesize(app: App): string {
  return app.synth().directory;
}

/** Every Lambda function of a stack (by stack name, artifact id or hierarchical id). */
export function packagedFunctions(assemblyDir: string, stackName: string, options: StackOptions = {}): PackagedFunction[] {
  return openStack(assemblyDir, stackName, options).functions;
}

/** The one function whose logical id starts with `logicalIdPrefix`. */
export function findFunction(functions: readonly PackagedFunction[], logicalIdPrefix: string): PackagedFunction {
  const found = functions.filter(fn => fn.logicalId.startsWith(logicalIdPrefix));
  if (found.length !== 1) {
    throw new Error(`expected one function whose logical id starts with ${logicalIdPrefix}, found ${found.length}: `
      + `${(found.length ? found : functions).map(fn => fn.logicalId).join(', ') || 'none'}`);
  }
  return found[0];
}

/** A stack of a cloud assembly: its template, functions and custom resources. */
export interface PackagedStack {
  readonly stackName: string;
  readonly account: string;
  readonly region: string;
  readonly template: any;
  readonly functions: PackagedFunction[];
  findFunction(logicalIdPrefix: string): PackagedFunction;
  /** The one resource whose logical id starts with the prefix. */
  resource(logicalIdPrefix: string): { logicalId: string; type: string; properties: Record<string, unknown> };
  /** A template value resolved as `refs` allow; throws naming what did not resolve. */
  resolve(value: unknown): unknown;
  /**
   * The event CloudFormation sends for a custom resource of the template: its type, its
   * resolved properties as strings, the `ServiceToken` (the function's ARN).
   */
  customResourceEvent(logicalIdPrefix: string, requestType: CfnRequestType, options?: {
    oldProperties?: Record<string, unknown>; physicalId?: string;
  }): CloudFormationCustomResourceEvent;
}

export function openStack(assemblyDir: string, stackName: string, options: StackOptions = {}): PackagedStack {
  const artifact = findStack(resolve(assemblyDir), stackName);
  const template = JSON.parse(readFileSync(artifact.templateFile, 'utf8'));
  const resources: Record<string, any> = template.Resources ?? {};
  const env = /^aws:\/\/([^/]+)\/(.+)$/.exec(artifact.environment ?? '');
  const account = env && /^\d{12}$/.test(env[1]) ? env[1] : '111111111111';
  const region = env && !env[2].startsWith('unknown-') ? env[2] : 'us-east-1';
  const functionName = (logicalId: string) => `${artifact.stackName}-${logicalId}`.slice(0, 64);
  const functionArn = (logicalId: string) => `arn:aws:lambda:${region}:${account}:function:${functionName(logicalId)}`;
  const context: ResolveContext = {
    refs: options.refs ?? {},
    pseudo: {
      'AWS::Region': region,
      'AWS::AccountId': account,
      'AWS::Partition': 'aws',
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::StackName': artifact.stackName,
      'AWS::StackId': stackId(artifact.stackName, region, account),
    },
    functions: new Map(Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function')
      .map(([id]) => [id, { name: functionName(id), arn: functionArn(id) }])),
  };

  const functions = Object.entries(resources)
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
    .map(([logicalId, r]): PackagedFunction => {
      const props = r.Properties ?? {};
      const environment: Record<string, string> = {};
      const unresolvedEnvironment: Record<string, unknown> = {};
      for (const [name, value] of Object.entries<unknown>(props.Environment?.Variables ?? {})) {
        const resolved = resolveValue(value, context);
        if (resolved === UNRESOLVED) {
          unresolvedEnvironment[name] = value;
        } else {
          environment[name] = String(resolved);
        }
      }
      return {
        stackName: artifact.stackName,
        logicalId,
        handler: props.Handler,
        assetDir: codeDirectory(artifact, logicalId, r),
        environment,
        unresolvedEnvironment,
        timeoutSeconds: props.Timeout ?? 3,
        memoryMb: props.MemorySize ?? 128,
        runtime: props.Runtime,
        functionName: functionName(logicalId),
        functionArn: functionArn(logicalId),
        account,
        region,
      };
    });

  const stack: PackagedStack = {
    stackName: artifact.stackName,
    account,
    region,
    template,
    functions,
    findFunction: prefix => findFunction(functions, prefix),
    resource(prefix) {
      const found = Object.keys(resources).filter(id => id.startsWith(prefix));
      if (found.length !== 1) {
        throw new Error(`expected one resource whose logical id starts with ${prefix}, found ${found.length}: ${found.join(', ') || 'none'}`);
      }
      return { logicalId: found[0], type: resources[found[0]].Type, properties: resources[found[0]].Properties ?? {} };
    },
    resolve(value) {
      const missed: unknown[] = [];
      const resolved = resolveValue(value, { ...context, missed });
      if (resolved === UNRESOLVED) {
        throw new Error(`cannot resolve ${missed.map(m => JSON.stringify(m)).join(', ')}: give refs for them`);
      }
      return resolved;
    },
    customResourceEvent(prefix, requestType, eventOptions = {}) {
      const { logicalId, type, properties } = stack.resource(prefix);
      const { ServiceToken: token, ...rest } = stack.resolve(properties) as Record<string, unknown>;
      return cfnEvent(requestType, {
        logicalId,
        resourceType: type,
        serviceToken: String(token),
        properties: rest,
        oldProperties: eventOptions.oldProperties,
        physicalId: eventOptions.physicalId,
        stackName: artifact.stackName,
        region,
        account,
      });
    },
  };
  return stack;
}

// ---------------------------------------------------------------------------------------------
// Cloud assembly.

interface StackArtifact {
  readonly id: string;
  readonly stackName: string;
  readonly directory: string;
  readonly templateFile: string;
  readonly environment?: string;
  readonly assetManifests: string[];
}

function findStack(assemblyDir: string, name: string): StackArtifact {
  const stacks = stacksIn(assemblyDir, '');
  const found = stacks.filter(s => s.stackName === name || s.id === name);
  if (found.length !== 1) {
    throw new Error(`expected one stack named ${name} in ${assemblyDir}, found: ${stacks.map(s => s.stackName).join(', ') || 'none'}`);
  }
  return found[0];
}

function stacksIn(directory: string, prefix: string): StackArtifact[] {
  const manifest = JSON.parse(readFileSync(join(directory, 'manifest.json'), 'utf8'));
  const artifacts: Record<string, any> = manifest.artifacts ?? {};
  const stacks: StackArtifact[] = [];
  for (const [id, artifact] of Object.entries(artifacts)) {
    if (artifact.type === 'aws:cloudformation:stack') {
      stacks.push({
        id: prefix + id,
        stackName: artifact.properties?.stackName ?? id,
        directory,
        templateFile: join(directory, artifact.properties.templateFile),
        environment: artifact.environment,
        assetManifests: (artifact.dependencies ?? [])
          .filter((dep: string) => artifacts[dep]?.type === 'cdk:asset-manifest')
          .map((dep: string) => join(directory, artifacts[dep].properties.file)),
      });
    } else if (artifact.type === 'cdk:cloud-assembly') {
      stacks.push(...stacksIn(join(directory, artifact.properties.directoryName), `${prefix}${id}/`));
    }
  }
  return stacks;
}

function codeDirectory(stack: StackArtifact, logicalId: string, resource: any): string {
  const code = resource.Properties?.Code ?? {};
  if (typeof code.ZipFile === 'string') {
    // CloudFormation writes inline Node.js code to index.js; kept beside the assets.
    const dir = join(stack.directory, `inline.${stack.stackName}.${logicalId}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'index.js'), code.ZipFile);
    return dir;
  }
  const hash = typeof code.S3Key === 'string' ? /([0-9a-f]{64})\.zip$/.exec(code.S3Key)?.[1] : undefined;
  for (const file of stack.assetManifests) {
    const source = hash ? JSON.parse(readFileSync(file, 'utf8')).files?.[hash]?.source : undefined;
    if (source?.path) {
      return directoryAsset(join(dirname(file), source.path), logicalId);
    }
  }
  const metadataPath = resource.Metadata?.['aws:asset:path'];
  if (typeof metadataPath === 'string') {
    return directoryAsset(resolve(stack.directory, metadataPath), logicalId);
  }
  throw new Error(`cannot find the code of ${logicalId}: Code is ${JSON.stringify(code)} and no asset manifest lists it`);
}

function directoryAsset(path: string, logicalId: string): string {
  if (!existsSync(path) || !statSync(path).isDirectory()) {
    throw new Error(`the code of ${logicalId} is ${path}, not a directory (zip file assets are not supported)`);
  }
  return path;
}

// ---------------------------------------------------------------------------------------------
// Template values.

const UNRESOLVED = Symbol('unresolved');

interface ResolveContext {
  readonly refs: Readonly<Record<string, string>>;
  readonly pseudo: Readonly<Record<string, string>>;
  readonly functions: ReadonlyMap<string, { name: string; arn: string }>;
  /** Collects the intrinsics that did not resolve. */
  readonly missed?: unknown[];
}

function lookup(refs: Readonly<Record<string, string>>, logicalId: string, attribute?: string): string | undefined {
  const wanted = attribute ? `${logicalId}.${attribute}` : logicalId;
  if (refs[wanted] !== undefined) {
    return refs[wanted];
  }
  let best: string | undefined;
  for (const key of Object.keys(refs)) {
    const [keyId, keyAttribute] = key.includes('.') ? [key.slice(0, key.indexOf('.')), key.slice(key.indexOf('.') + 1)] : [key, undefined];
    if (keyAttribute === attribute && logicalId.startsWith(keyId) && (!best || key.length > best.length)) {
      best = key;
    }
  }
  return best === undefined ? undefined : refs[best];
}

function resolveValue(value: unknown, context: ResolveContext): unknown {
  if (value === null || typeof value !== 'object') {
    return value;
  }
  if (Array.isArray(value)) {
    const items = value.map(item => resolveValue(item, context));
    return items.includes(UNRESOLVED) ? UNRESOLVED : items;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 1 && (entries[0][0] === 'Ref' || entries[0][0].startsWith('Fn::'))) {
    const resolved = resolveIntrinsic(entries[0][0], entries[0][1], context);
    if (resolved === UNRESOLVED && entries[0][0] !== 'Fn::Join' && entries[0][0] !== 'Fn::Select' && entries[0][0] !== 'Fn::Split') {
      context.missed?.push(value);
    }
    return resolved;
  }
  const resolved: Record<string, unknown> = {};
  for (const [key, item] of entries) {
    resolved[key] = resolveValue(item, context);
  }
  return Object.values(resolved).includes(UNRESOLVED) ? UNRESOLVED : resolved;
}

function resolveIntrinsic(name: string, argument: any, context: ResolveContext): unknown {
  const ref = (id: string, attribute?: string): string | typeof UNRESOLVED => {
    if (!attribute && context.pseudo[id] !== undefined) {
      return context.pseudo[id];
    }
    const given = lookup(context.refs, id, attribute);
    if (given !== undefined) {
      return given;
    }
    const fn = context.functions.get(id);
    if (fn && !attribute) {
      return fn.name;
    }
    if (fn && attribute === 'Arn') {
      return fn.arn;
    }
    return UNRESOLVED;
  };
  switch (name) {
    case 'Ref':
      return ref(String(argument));
    case 'Fn::GetAtt': {
      const [id, attribute] = Array.isArray(argument) ? argument : String(argument).split(/\.(.*)/);
      return ref(id, attribute);
    }
    case 'Fn::Join': {
      const parts = resolveValue(argument[1], context);
      return parts === UNRESOLVED ? UNRESOLVED : (parts as unknown[]).join(argument[0]);
    }
    case 'Fn::Select': {
      const list = resolveValue(argument[1], context);
      return list === UNRESOLVED ? UNRESOLVED : (list as unknown[])[Number(argument[0])];
    }
    case 'Fn::Split': {
      const text = resolveValue(argument[1], context);
      return text === UNRESOLVED ? UNRESOLVED : String(text).split(argument[0]);
    }
    case 'Fn::Sub': {
      const [text, variables] = typeof argument === 'string' ? [argument, {}] : argument;
      let failed = false;
      const result = String(text).replace(/\$\{([^}!][^}]*)\}/g, (_, expression: string) => {
        const local = variables[expression] !== undefined ? resolveValue(variables[expression], context) : undefined;
        const [id, attribute] = expression.includes('.') && !expression.startsWith('AWS::')
          ? [expression.slice(0, expression.indexOf('.')), expression.slice(expression.indexOf('.') + 1)] : [expression, undefined];
        const value = local ?? ref(id, attribute);
        failed ||= value === UNRESOLVED;
        return String(value === UNRESOLVED ? '' : value);
      });
      return failed ? UNRESOLVED : result;
    }
    default:
      return UNRESOLVED;
  }
}

// ---------------------------------------------------------------------------------------------
// Events.

export type CfnRequestType = 'Create' | 'Update' | 'Delete';

/** A custom resource request as CloudFormation sends it to the function. */
export interface CloudFormationCustomResourceEvent {
  readonly RequestType: CfnRequestType;
  readonly ServiceToken: string;
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly ResourceType: string;
  readonly ResourceProperties: Record<string, unknown> & { ServiceToken: string };
  readonly OldResourceProperties?: Record<string, unknown> & { ServiceToken: string };
  readonly PhysicalResourceId?: string;
}

export interface CfnEventOptions {
  readonly logicalId: string;
  /** `Custom::...` or `AWS::CloudFormation::CustomResource`. */
  readonly resourceType: string;
  /** The function's ARN. */
  readonly serviceToken: string;
  /** The resource's properties (without ServiceToken); numbers and booleans become strings, as CloudFormation passes them. */
  readonly properties: Record<string, unknown>;
  /** For Update: the properties before. @default - the same as `properties` */
  readonly oldProperties?: Record<string, unknown>;
  /** For Update and Delete: what the function answered on Create. @default - a CloudFormation-made id */
  readonly physicalId?: string;
  readonly stackName?: string;
  readonly region?: string;
  readonly account?: string;
  readonly requestId?: string;
}

/** The host of the pre-signed response URLs cfnEvent makes (lambda-host captures requests to it). */
export function responseHost(region: string): string {
  return `cloudformation-custom-resource-response-${region.replace(/-/g, '')}.s3.amazonaws.com`;
}

/** A custom resource request as CloudFormation sends it: every property value a string. */
export function cfnEvent(requestType: CfnRequestType, options: CfnEventOptions): CloudFormationCustomResourceEvent {
  const region = options.region ?? 'us-east-1';
  const account = options.account ?? '111111111111';
  const stackName = options.stackName ?? 'Stack';
  const requestId = options.requestId ?? randomUUID();
  const id = stackId(stackName, region, account);
  const date = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const responseUrl = `https://${responseHost(region)}/${encodeURIComponent(`${id}|${options.logicalId}|${requestId}`)}`
    + `?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=${date}&X-Amz-SignedHeaders=host&X-Amz-Expires=7199`
    + `&X-Amz-Credential=AKIA6GSNIFFEXAMPLE00%2F${date.slice(0, 8)}%2F${region}%2Fs3%2Faws4_request`
    + `&X-Amz-Signature=${randomBytes(32).toString('hex')}`;
  const properties = { ServiceToken: options.serviceToken, ...cfnStrings(options.properties) as Record<string, unknown> };
  return {
    RequestType: requestType,
    ServiceToken: options.serviceToken,
    ResponseURL: responseUrl,
    StackId: id,
    RequestId: requestId,
    LogicalResourceId: options.logicalId,
    ResourceType: options.resourceType,
    ResourceProperties: properties,
    ...(requestType === 'Update' ? {
      OldResourceProperties: {
        ServiceToken: options.serviceToken,
        ...cfnStrings(options.oldProperties ?? options.properties) as Record<string, unknown>,
      },
    } : {}),
    ...(requestType === 'Create' ? {} : {
      PhysicalResourceId: options.physicalId ?? `${stackName}-${options.logicalId}-${randomBytes(6).toString('hex').toUpperCase()}`,
    }),
  };
}

/** Scalars as CloudFormation passes them to custom resources: strings. */
function cfnStrings(value: unknown): unknown {
  if (typeof value === 'number' || typeof value === 'boolean') {
    return String(value);
  }
  if (Array.isArray(value)) {
    return value.map(cfnStrings);
  }
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, cfnStrings(v)]));
  }
  return value;
}

/** The same stack id for every event of a stack, as CloudFormation keeps it. */
function stackId(stackName: string, region: string, account: string): string {
  const hex = createHash('sha256').update(`${account}/${region}/${stackName}`).digest('hex');
  const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
  return `arn:aws:cloudformation:${region}:${account}:stack/${stackName}/${uuid}`;
}

export interface SesReceiptEventOptions {
  /** The raw message SES stored (headers are read from it, as SES reports them). */
  readonly raw: Buffer | string;
  readonly messageId: string;
  /** The receipt rule's recipients that matched. */
  readonly recipients: string[];
  /** The ARN of the function the Lambda action invokes. */
  readonly functionArn: string;
  /** @default 'PASS' */
  readonly dkim?: string;
  /** @default 'PASS' */
  readonly spf?: string;
  /** @default 'PASS' */
  readonly spam?: string;
  /** @default 'PASS' */
  readonly virus?: string;
  /** @default 'GRAY' */
  readonly dmarc?: string;
  /** @default 'Event' (the collector's receipt rule) */
  readonly invocationType?: 'Event' | 'RequestResponse';
  /** The envelope sender. @default - the address in From */
  readonly source?: string;
  /** @default - now */
  readonly timestamp?: Date;
}

/**
 * The event of an SES receipt rule's Lambda action, as SES sends it: one record with `mail`
 * (headers parsed from the raw message, `commonHeaders`) and `receipt` (verdicts, the Lambda
 * action). The S3 action's object key is not in it: SES stored the message at
 * `<objectKeyPrefix><messageId>`.
 * @see https://docs.aws.amazon.com/ses/latest/dg/receiving-email-action-lambda-event.html
 */
export function sesReceiptEvent(options: SesReceiptEventOptions): any {
  const raw = Buffer.isBuffer(options.raw) ? options.raw.toString('latin1') : options.raw;
  const headerBlock = raw.split(/\r?\n\r?\n/)[0];
  const headers = headerBlock.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)
    .map(line => /^([^:\s]+):\s?(.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map(([, name, value]) => ({ name, value }));
  const header = (name: string) => headers.find(h => h.name.toLowerCase() === name.toLowerCase())?.value;
  const addresses = (value?: string) => (value ? value.split(',').map(s => s.trim()).filter(Boolean) : undefined);
  const from = addresses(header('From'));
  const source = options.source ?? /<([^>]+)>/.exec(from?.[0] ?? '')?.[1] ?? from?.[0] ?? 'unknown@example.net';
  const timestamp = (options.timestamp ?? new Date()).toISOString();
  const commonHeaders: Record<string, unknown> = {
    returnPath: header('Return-Path')?.replace(/^<|>$/g, '') ?? source,
    from,
    date: header('Date'),
    to: addresses(header('To')),
    cc: addresses(header('Cc')),
    messageId: header('Message-ID'),
    subject: header('Subject'),
  };
  return {
    Records: [{
      eventSource: 'aws:ses',
      eventVersion: '1.0',
      ses: {
        mail: {
          timestamp,
          source,
          messageId: options.messageId,
          destination: options.recipients,
          headersTruncated: false,
          headers,
          commonHeaders: Object.fromEntries(Object.entries(commonHeaders).filter(([, v]) => v !== undefined)),
        },
        receipt: {
          timestamp,
          processingTimeMillis: 412,
          recipients: options.recipients,
          spamVerdict: { status: options.spam ?? 'PASS' },
          virusVerdict: { status: options.virus ?? 'PASS' },
          spfVerdict: { status: options.spf ?? 'PASS' },
          dkimVerdict: { status: options.dkim ?? 'PASS' },
          dmarcVerdict: { status: options.dmarc ?? 'GRAY' },
          action: { type: 'Lambda', functionArn: options.functionArn, invocationType: options.invocationType ?? 'Event' },
        },
      },
    }],
  };
}

export interface FunctionUrlRequest {
  readonly method?: string;
  /** @default '/' */
  readonly path?: string;
  readonly query?: Record<string, string>;
  /** Header names are lower-cased, as function URLs pass them. */
  readonly headers?: Record<string, string>;
  readonly body?: Buffer | string;
  /**
   * Whether the body arrives base64-encoded.
   * @default - false for `text/*`, `application/json`, `application/xml`, `application/javascript`,
   * `application/x-www-form-urlencoded`; true otherwise
   */
  readonly base64?: boolean;
  readonly sourceIp?: string;
}

/**
 * A function URL request (payload format 2.0) as Lambda passes it, for `AuthType: NONE`.
 * @see https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads
 */
export function functionUrlEvent(fn: PackagedFunction, request: FunctionUrlRequest = {}): any {
  const urlId = createHash('sha256').update(fn.functionArn).digest('hex').slice(0, 32);
  const domainName = `${urlId}.lambda-url.${fn.region}.on.aws`;
  const now = new Date();
  const method = request.method ?? 'POST';
  const path = request.path ?? '/';
  const rawQueryString = new URLSearchParams(request.query ?? {}).toString();
  const sourceIp = request.sourceIp ?? '198.51.100.7';
  const headers: Record<string, string> = {
    'host': domainName,
    'x-amzn-tls-version': 'TLSv1.3',
    'x-amzn-tls-cipher-suite': 'TLS_AES_128_GCM_SHA256',
    'x-amzn-trace-id': `Root=1-${Math.floor(now.getTime() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`,
    'x-forwarded-proto': 'https',
    'x-forwarded-port': '443',
    'x-forwarded-for': sourceIp,
    'user-agent': 'tlsrpt-sender/1.0',
    ...Object.fromEntries(Object.entries(request.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
  };
  const contentType = (headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  const text = contentType.startsWith('text/')
    || ['application/json', 'application/xml', 'application/javascript', 'application/x-www-form-urlencoded'].includes(contentType);
  const base64 = request.base64 ?? !text;
  const bodyBytes = request.body === undefined ? undefined : Buffer.isBuffer(request.body) ? request.body : Buffer.from(request.body);
  if (bodyBytes) {
    headers['content-length'] = String(bodyBytes.length);
  }
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString,
    ...(rawQueryString ? { queryStringParameters: request.query } : {}),
    headers,
    requestContext: {
      accountId: 'anonymous',
      apiId: urlId,
      domainName,
      domainPrefix: urlId,
      http: { method, path, protocol: 'HTTP/1.1', sourceIp, userAgent: headers['user-agent'] },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString().replace(/^\w+, (\d+) (\w+) (\d+) ([\d:]+) GMT$/, '$1/$2/$3:$4 +0000'),
      timeEpoch: now.getTime(),
    },
    ...(bodyBytes ? { body: bodyBytes.toString(base64 ? 'base64' : 'utf8'), isBase64Encoded: base64 } : { isBase64Encoded: false }),
  };
}

// ---------------------------------------------------------------------------------------------
// Invocation.

export interface InvokeOptions {
  /** `AWS_ENDPOINT_URL` (moto, or a fault proxy in front of it). @default - a closed loopback port: every AWS call fails */
  readonly endpoint?: string;
  /** More environment variables (override the template's and the runtime's). */
  readonly env?: Readonly<Record<string, string>>;
  /** The response URL cannot be reached: every PUT to it fails (the entrypoint gives up after its retries, which are not slept). */
  readonly loseAnswer?: boolean;
  /** What `getRemainingTimeInMillis()` starts from, and when the invocation times out. @default timeoutSeconds * 1000 */
  readonly remainingMs?: number;
  /** k > 1: timer delays are divided by k and the remaining time counts down k times faster. @default 1 */
  readonly timeScale?: number;
  /** Run even though some template variables did not resolve (they are left out). @default false */
  readonly allowUnresolvedEnvironment?: boolean;
}

/** A request to the response URL: what the function told CloudFormation. */
export interface CfnResponseAttempt {
  readonly url: string;
  readonly method: string;
  /** The body, parsed (`Status`, `Reason`, `PhysicalResourceId`, `Data` ...). */
  readonly body: any;
  /** False when `loseAnswer` made it fail. */
  readonly delivered: boolean;
}

export interface Invocation {
  readonly requestId: string;
  /** The last body PUT to the response URL (also when it was lost: what the function tried to say). */
  readonly response?: any;
  /** Every request to the response URL, retries included. */
  readonly responses: CfnResponseAttempt[];
  /** What the handler returned, as JSON (null for undefined). */
  readonly result?: any;
  /** How the invocation failed, as Lambda reports it. */
  readonly error?: { errorType: string; errorMessage: string; trace?: string[] };
  /** The function's log: console lines (`<time>\t<request id>\t<LEVEL>\t<message>`) and raw writes. */
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

export interface SharedSandboxInvocations extends Array<Invocation> {
  /** Output written outside any invocation (module init, callbacks not tied to an invocation). */
  readonly sandbox: { stdout: string; stderr: string };
}

const HOST = join(__dirname, 'lambda-host.js');

/** Runs one invocation in a fresh process: a cold sandbox. */
export async function invoke(fn: PackagedFunction, event: unknown, options: InvokeOptions = {}): Promise<Invocation> {
  const [invocation] = await runSandbox(fn, [event], options);
  return invocation;
}

/**
 * Runs every event at once in ONE process, as one warm sandbox serving concurrent requests:
 * module state (SDK clients, caches, the entrypoint's `external`) is shared. Results are in the
 * order of `events`; each invocation's log holds what was written in its async context.
 */
export async function invokeConcurrently(
  fn: PackagedFunction, events: readonly unknown[], options: InvokeOptions = {},
): Promise<SharedSandboxInvocations> {
  return runSandbox(fn, events, options);
}

async function runSandbox(fn: PackagedFunction, events: readonly unknown[], options: InvokeOptions): Promise<SharedSandboxInvocations> {
  const env = sandboxEnvironment(fn, options);
  const scale = options.timeScale ?? 1;
  const remainingMs = options.remainingMs ?? fn.timeoutSeconds * 1000;
  const invocations = events.map((event): InvocationSpec => ({
    event,
    requestId: randomUUID(),
    remainingMs,
    loseAnswer: options.loseAnswer ?? false,
    responseHosts: responseHostsOf(event),
  }));

  const child = fork(HOST, [], { cwd: fn.assetDir, env, execArgv: [], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const raw = outputTail(child);

  const results: Array<Invocation | undefined> = new Array(events.length).fill(undefined);
  let sandbox = { stdout: '', stderr: '' };
  child.on('message', (message: any) => {
    if (message.type === 'result') {
      results[message.index] = answered(message, invocations[message.index].requestId);
    } else if (message.type === 'done') {
      sandbox = { stdout: message.stdout, stderr: message.stderr };
    }
  });

  const guardMs = remainingMs / scale + 20_000;
  const exitCode = await new Promise<number | null>((resolvePromise, reject) => {
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${fn.logicalId}: the sandbox did not finish within ${Math.round(guardMs)} ms: ${raw().trim()}`));
    }, guardMs);
    child.once('error', error => {
      clearTimeout(guard);
      reject(error);
    });
    child.once('exit', code => {
      clearTimeout(guard);
      resolvePromise(code);
    });
    child.send({ ...sandboxJob(fn, scale), invocations } satisfies SandboxJob);
  });

  const all = results.map((result, index): Invocation =>
    result ?? runtimeExited(invocations[index].requestId, exitCode, sandbox, raw()));
  return Object.assign(all, { sandbox });
}

// ---------------------------------------------------------------------------------------------
// Warm sandbox.

export interface WarmHostOptions {
  /** `AWS_ENDPOINT_URL` (moto, or a fault proxy in front of it). @default - a closed loopback port: every AWS call fails */
  readonly endpoint?: string;
  /** More environment variables (override the template's and the runtime's). */
  readonly env?: Readonly<Record<string, string>>;
  /** k > 1: timer delays are divided by k and the remaining time counts down k times faster. @default 1 */
  readonly timeScale?: number;
  /** Run even though some template variables did not resolve (they are left out). @default false */
  readonly allowUnresolvedEnvironment?: boolean;
}

/** What may differ between the invocations of one warm host: as `InvokeOptions`. */
export interface WarmInvokeOptions {
  /** The response URL cannot be reached for this invocation. @default false */
  readonly loseAnswer?: boolean;
  /** What `getRemainingTimeInMillis()` starts from in this invocation, and when it times out. @default timeoutSeconds * 1000 */
  readonly remainingMs?: number;
}

/**
 * ONE long-lived Node.js process serving invocations one after another, as a warm Lambda
 * execution environment does (see startWarmHost).
 */
export interface WarmHost {
  /**
   * The processes started so far: 1, plus one for each time the sandbox was reset (after a
   * timeout, a crash, a failed init, the process exiting).
   */
  readonly sandboxes: number;
  /**
   * Runs one invocation in the sandbox, after the ones asked for before it have finished
   * (invocations never overlap). Per invocation, everything is as with `invoke`: `loseAnswer`,
   * the remaining time and its countdown, the captured responses to CloudFormation, the log.
   */
  invoke(event: unknown, options?: WarmInvokeOptions): Promise<Invocation>;
  /** Ends the process (invocations still running fail with `Runtime.ExitError`). Idempotent; `invoke` throws after it. */
  stop(): Promise<void>;
}

/**
 * Starts a warm sandbox for `fn`: ONE long-lived process (test/support/lambda-host.js in server
 * mode) that loads the handler once and then runs every `invoke` in turn, about a millisecond of
 * overhead each instead of a process start (about 0.3 s).
 *
 * What Lambda does with a reused execution environment, this does too: module state is kept
 * between invocations (SDK clients and their connections, caches, module-level variables,
 * aws-cdk-lib's entrypoint's `external`), so a test can pass here that would fail in a cold
 * sandbox, and the other way round: use `invoke` to prove what must hold from a cold start.
 * Output written outside an invocation (init, callbacks left running) goes to the next
 * invocation's log. As Lambda resets the environment after a failed init, a timeout
 * (`Sandbox.Timedout`) or a crash (an uncaught exception, an unhandled rejection, the process
 * exiting), the next invocation then starts a new process (`sandboxes` counts them).
 * Unlike Lambda, the sandbox is not frozen between invocations: timers and sockets the function
 * left running go on.
 *
 * The process ends with `stop()`, and with the test process however it ends (it exits when its
 * IPC channel closes); it does not keep the test process alive while idle.
 *
 * @example
 * const host = await startWarmHost(fn, { endpoint: proxy.endpoint, timeScale: 200 });
 * try {
 *   const first = await host.invoke(event, { remainingMs: 30_000 });
 *   const second = await host.invoke(event, { loseAnswer: true });
 * } finally {
 *   await host.stop();
 * }
 */
export async function startWarmHost(fn: PackagedFunction, options: WarmHostOptions = {}): Promise<WarmHost> {
  const env = sandboxEnvironment(fn, options);
  const scale = options.timeScale ?? 1;
  let current: WarmSandbox | undefined;
  let sandboxes = 0;
  let stopped = false;
  let queue: Promise<unknown> = Promise.resolve();
  let nextIndex = 0;

  const sandbox = async (): Promise<WarmSandbox> => {
    if (current && !current.retired) {
      return current;
    }
    await current?.stop();
    current = new WarmSandbox(fn, env, scale);
    sandboxes += 1;
    await current.ready;
    return current;
  };

  const run = async (event: unknown, invokeOptions: WarmInvokeOptions): Promise<Invocation> => {
    if (stopped) {
      throw new Error(`${fn.logicalId}: the warm host was stopped`);
    }
    const warm = await sandbox();
    return warm.invoke({
      event,
      requestId: randomUUID(),
      remainingMs: invokeOptions.remainingMs ?? fn.timeoutSeconds * 1000,
      loseAnswer: invokeOptions.loseAnswer ?? false,
      responseHosts: responseHostsOf(event),
    }, nextIndex++);
  };

  await sandbox();
  return {
    invoke(event, invokeOptions = {}) {
      const result = queue.then(() => run(event, invokeOptions));
      queue = result.catch(() => undefined);
      return result;
    },
    get sandboxes() {
      return sandboxes;
    },
    async stop() {
      stopped = true;
      await current?.stop();
    },
  };
}

/** One process of a warm host. */
class WarmSandbox {
  /** Resolves once the handler is loaded (or failed to load: the first invocation says how). */
  readonly ready: Promise<void>;
  /** No more invocations here: the sandbox is ending or has ended. */
  retired = false;
  private readonly child: ChildProcess;
  private readonly raw: () => string;
  private readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;
  private sandbox = { stdout: '', stderr: '' };
  private running?: { index: number; requestId: string; resolve: (invocation: Invocation) => void };

  constructor(private readonly fn: PackagedFunction, env: Record<string, string>, private readonly scale: number) {
    this.child = fork(HOST, [], { cwd: fn.assetDir, env, execArgv: [], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    this.raw = outputTail(this.child);
    this.exited = new Promise(resolvePromise => {
      const ended = (code: number | null) => {
        if (this.exitCode !== undefined) {
          return;
        }
        this.exitCode = code;
        this.retired = true;
        this.idle();
        const running = this.running;
        this.running = undefined;
        running?.resolve(runtimeExited(running.requestId, code, this.sandbox, this.raw()));
        resolvePromise(code);
      };
      this.child.once('exit', ended);
      // A process that could not start, or whose channel broke: 'exit' may not follow.
      this.child.once('error', () => {
        this.child.kill('SIGKILL');
        ended(this.child.exitCode);
      });
    });
    this.ready = new Promise(resolvePromise => {
      this.child.on('message', (message: any) => {
        const running = this.running;
        if (message.type === 'ready') {
          this.idle();
          resolvePromise();
        } else if (message.type === 'result' && running && running.index === message.index) {
          this.running = undefined;
          this.retired ||= Boolean(message.sandboxEnds);
          this.idle();
          running.resolve(answered(message, running.requestId));
        } else if (message.type === 'done') {
          this.sandbox = { stdout: message.stdout, stderr: message.stderr };
        }
      });
      void this.exited.then(() => resolvePromise());
    });
    this.child.send({ ...sandboxJob(fn, scale), serve: true } satisfies SandboxJob);
  }

  invoke(spec: InvocationSpec, index: number): Promise<Invocation> {
    if (this.exitCode !== undefined || !this.child.connected) {
      return Promise.resolve(runtimeExited(spec.requestId, this.exitCode ?? null, this.sandbox, this.raw()));
    }
    const guardMs = spec.remainingMs / this.scale + 20_000;
    return new Promise<Invocation>((resolvePromise, reject) => {
      const guard = setTimeout(() => {
        this.running = undefined;
        this.retired = true;
        this.child.kill('SIGKILL');
        reject(new Error(`${this.fn.logicalId}: the invocation did not finish within ${Math.round(guardMs)} ms: ${this.raw().trim()}`));
      }, guardMs);
      this.running = {
        index,
        requestId: spec.requestId,
        resolve: invocation => {
          clearTimeout(guard);
          resolvePromise(invocation);
        },
      };
      this.busy();
      this.child.send({ type: 'invoke', index, spec });
    });
  }

  /** Ends the process: its IPC channel closes and it exits (SIGKILL after 5 s). */
  async stop(): Promise<void> {
    this.retired = true;
    if (this.exitCode === undefined) {
      if (this.child.connected) {
        this.child.disconnect();
      }
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      await this.exited;
      clearTimeout(timer);
    }
  }

  /** While an invocation runs, the process keeps the test process alive. */
  private busy(): void {
    this.child.ref();
    (this.child as { channel?: { ref?(): void } }).channel?.ref?.();
    (this.child.stdout as { ref?(): void } | null)?.ref?.();
    (this.child.stderr as { ref?(): void } | null)?.ref?.();
  }

  /** While idle, it does not. */
  private idle(): void {
    this.child.unref();
    (this.child as { channel?: { unref?(): void } }).channel?.unref?.();
    (this.child.stdout as { unref?(): void } | null)?.unref?.();
    (this.child.stderr as { unref?(): void } | null)?.unref?.();
  }
}

// ---------------------------------------------------------------------------------------------
// What the sandbox is told, and what it answers.

/** One invocation, as lambda-host.js receives it. */
interface InvocationSpec {
  readonly event: unknown;
  readonly requestId: string;
  readonly remainingMs: number;
  readonly loseAnswer: boolean;
  /** The hosts of the event's response URL: requests to them are captured. */
  readonly responseHosts: string[];
}

/** The job a lambda-host.js process receives first: invocations to run then exit, or `serve`. */
interface SandboxJob {
  readonly handler: string;
  readonly taskRoot: string;
  readonly functionName: string;
  readonly functionArn: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly timeScale: number;
  readonly invocations?: InvocationSpec[];
  /** Server mode: `invoke` messages follow, one at a time. */
  readonly serve?: boolean;
}

function sandboxJob(fn: PackagedFunction, scale: number): SandboxJob {
  return {
    handler: fn.handler,
    taskRoot: fn.assetDir,
    functionName: fn.functionName,
    functionArn: fn.functionArn,
    memoryMb: fn.memoryMb,
    timeoutSeconds: fn.timeoutSeconds,
    timeScale: scale,
  };
}

function responseHostsOf(event: unknown): string[] {
  const target = (event as { ResponseURL?: unknown } | null)?.ResponseURL;
  return typeof target === 'string' && /^https:\/\//.test(target) ? [new URL(target).hostname] : [];
}

/** An invocation from a `result` message. */
function answered(message: any, requestId: string): Invocation {
  const { index: _index, type: _type, sandboxEnds: _ends, ...rest } = message;
  const responses: CfnResponseAttempt[] = rest.responses ?? [];
  return {
    requestId,
    ...rest,
    responses,
    response: responses.length > 0 ? responses[responses.length - 1].body : undefined,
  };
}

/** An invocation the process ended without answering, as Lambda reports it. */
function runtimeExited(requestId: string, exitCode: number | null, sandbox: { stdout: string; stderr: string }, raw: string): Invocation {
  return {
    requestId,
    responses: [],
    error: {
      errorType: 'Runtime.ExitError',
      errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: exit status ${exitCode}`,
    },
    stdout: sandbox.stdout,
    stderr: `${sandbox.stderr}${raw}`,
    durationMs: 0,
  };
}

/** Keeps the last 16 kB the process wrote outside the capture (the host's own failures). */
function outputTail(child: ChildProcess): () => string {
  let raw = '';
  const keep = (chunk: Buffer) => {
    raw = (raw + chunk.toString('utf8')).slice(-16_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return () => raw;
}

/** The environment of the function's process: the template's, Lambda's, then `env`. */
function sandboxEnvironment(fn: PackagedFunction, options: InvokeOptions | WarmHostOptions): Record<string, string> {
  if (!/^nodejs\d+\.x$/.test(fn.runtime ?? '')) {
    throw new Error(`${fn.logicalId} runs ${fn.runtime}: only Node.js functions can be run here`);
  }
  const unresolved = Object.keys(fn.unresolvedEnvironment).filter(name => options.env?.[name] === undefined);
  if (unresolved.length > 0 && !options.allowUnresolvedEnvironment) {
    throw new Error(`${fn.logicalId}: environment variables ${unresolved.map(name =>
      `${name} (${JSON.stringify(fn.unresolvedEnvironment[name])})`).join(', ')} did not resolve: pass refs to openStack/packagedFunctions or env to invoke`);
  }
  assertNoNodeModulesAbove(fn.assetDir);
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    LANG: 'en_US.UTF-8',
    TZ: 'UTC',
    ...fn.environment,
    // Set by Lambda (reserved: the template cannot change them).
    LAMBDA_TASK_ROOT: fn.assetDir,
    _HANDLER: fn.handler,
    AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
    AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.functionName}`,
    AWS_REGION: fn.region,
    AWS_DEFAULT_REGION: fn.region,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_SESSION_TOKEN: 'testing',
    // Only the runtime's SDK resolves besides the bundle, as in /var/runtime/node_modules.
    NODE_PATH: runtimeModules(),
    // Nothing from the developer's ~/.aws, no instance metadata, nothing beyond loopback.
    AWS_CONFIG_FILE: join(tmpdir(), 'lambda-host-no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(tmpdir(), 'lambda-host-no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ENDPOINT_URL: options.endpoint ?? 'http://127.0.0.1:9',
    ...options.env,
  };
}

/**
 * A NODE_PATH directory holding only `@aws-sdk` (linked to this project's), like the runtime's
 * /var/runtime/node_modules. One per project checkout, reused across runs.
 */
function runtimeModules(): string {
  const sdk = dirname(dirname(require.resolve('@aws-sdk/client-s3/package.json')));
  const modules = join(tmpdir(), `lambda-runtime-${createHash('sha256').update(sdk).digest('hex').slice(0, 12)}`, 'node_modules');
  const link = join(modules, '@aws-sdk');
  if (!existsSync(link)) {
    mkdirSync(modules, { recursive: true });
    try {
      symlinkSync(sdk, link, 'dir');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw error;
      }
    }
  }
  return modules;
}

/** A bundle below a node_modules directory could load packages the Lambda runtime does not have. */
function assertNoNodeModulesAbove(dir: string): void {
  for (let current = resolve(dir); ; current = dirname(current)) {
    if (existsSync(join(current, 'node_modules'))) {
      throw new Error(`${dir} is below ${join(current, 'node_modules')}: its code could load packages the Lambda runtime does not have; `
        + 'synthesize into a temporary directory (new App() without outdir does)');
    }
    if (dirname(current) === current) {
      return;
    }
  }
}
