/**
 * The packaged publisher (the `cdk.out` asset of a synthesized MtaSts stack, run by its template
 * `Handler` through aws-cdk-lib's custom resource entrypoint) against moto on loopback, behind a
 * fault proxy, with helpers that read what moto's S3 and Route 53 hold.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ChangeResourceRecordSetsCommand, CreateHostedZoneCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { FaultProxy, startFaultProxy } from './aws-faults';
import { DUMMY_CREDENTIALS, Moto, startMoto } from './moto';
import { CfnRequestType, Invocation, InvokeOptions, PackagedFunction, cfnEvent, invoke, invokeConcurrently, openStack } from './packaged';
import { txtValue } from './txt';
import { MtaSts, MtaStsMode } from '../../src';
import { contentIdOf } from '../../src/core/policy-id';
import { PUBLICATION_RESOURCE_TYPE, PublicationProperties } from '../../src/core/publication';
import { exampleStack } from '../fixtures';

/** Timer delays in the function run this many times faster (its clock counts down as fast). */
export const TIME_SCALE = 40;

export const BUCKET = 'policy-bucket';

/** The physical id aws-cdk-lib's entrypoint answers for a failed Create; it skips the Delete that follows. */
export const CREATE_FAILED_MARKER = 'AWSCDK::CustomResourceProviderFramework::CREATE_FAILED';

/** The policy text of `example.com` in a mode (what MtaSts renders). */
export function policyText(mode: 'testing' | 'enforce', mx = 'mx1.example.com'): string {
  return `version: STSv1\r\nmode: ${mode}\r\nmx: ${mx}\r\nmax_age: 604800\r\n`;
}

export interface PublisherWorld {
  readonly moto: Moto;
  readonly proxy: FaultProxy;
  readonly fn: PackagedFunction;
  /** The publication's properties as synthesized, with the bucket and zone of this world. */
  readonly synthesized: PublicationProperties;
  /** Creates the bucket and a zone in moto, returning the zone id. */
  zone(name: string): Promise<string>;
  /** Forgets everything in moto and the proxy's rules and log; recreates the bucket. */
  reset(): Promise<void>;
  /** The publication's properties with a policy text (its content id follows). */
  props(text: string, extra?: Partial<PublicationProperties>): PublicationProperties;
  /** A request as CloudFormation sends it for the publication. */
  event(type: CfnRequestType, props: PublicationProperties, options?: RunOptions): unknown;
  /** Runs one request through the packaged function, as CloudFormation sends it. */
  run(type: CfnRequestType, props: PublicationProperties, options?: RunOptions): Promise<Invocation>;
  /** Runs many Creates at once in one sandbox. */
  runConcurrently(props: PublicationProperties[], options?: InvokeOptions): Promise<Invocation[]>;
  /** The TXT values at a name in a zone (unquoted, joined) and the TTL, or undefined. */
  txt(zoneId: string, name: string): Promise<{ values: string[]; ttl: number } | undefined>;
  /** Writes a TXT record directly (a record the library did not write). */
  putTxt(zoneId: string, name: string, value: string): Promise<void>;
  /** The object's body and headers, or undefined. */
  object(key: string, bucket?: string): Promise<{ body: string; contentType?: string; cacheControl?: string } | undefined>;
  putObject(key: string, body: string): Promise<void>;
  stop(): Promise<void>;
}

export interface RunOptions extends InvokeOptions {
  readonly old?: PublicationProperties;
  readonly physicalId?: string;
  /** The same request again (Lambda's retry): pass the event of an earlier run. */
  readonly event?: unknown;
}

/** Synthesizes an MtaSts stack, starts moto and the proxy, and finds the publisher function. */
export async function publisherWorld(): Promise<PublisherWorld> {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-mta-sts-publisher-'));
  const { app, stack, hostedZone } = exampleStack('us-east-1', { outdir });
  new MtaSts(stack, 'MtaSts', { hostedZone, mode: MtaStsMode.TESTING, mx: ['mx1.example.com'], tlsRpt: { rua: ['mailto:tls@example.com'] } });
  const assembly = app.synth().directory;
  const packaged = openStack(assembly, 'Stack', { refs: { MtaStsBucket: BUCKET } });
  const fn = packaged.findFunction('MtaStsPolicyPublisher');
  const publication = Object.entries<any>(packaged.template.Resources).find(([, r]) => r.Type === PUBLICATION_RESOURCE_TYPE)!;
  const { ServiceToken: _token, DistributionId: _distribution, ...resolved } = packaged.resolve({
    ...publication[1].Properties, DistributionId: 'unused',
  }) as Record<string, string>;
  const synthesized = { ...resolved, DistributionId: 'E2EXAMPLE1' } as unknown as PublicationProperties;

  const moto = await startMoto();
  const proxy = await startFaultProxy(moto.endpoint, { timeScale: TIME_SCALE });
  const clientConfig = { endpoint: moto.endpoint, region: 'us-east-1', credentials: DUMMY_CREDENTIALS };
  const s3 = new S3Client({ ...clientConfig, forcePathStyle: true });
  const route53 = new Route53Client(clientConfig);
  let zones = new Map<string, string>();

  const world: PublisherWorld = {
    moto,
    proxy,
    fn,
    synthesized,
    async zone(name) {
      const known = zones.get(name);
      if (known) {
        return known;
      }
      const created = await route53.send(new CreateHostedZoneCommand({ Name: name, CallerReference: `${name}-${Date.now()}-${Math.random()}` }));
      const id = created.HostedZone!.Id!.replace('/hostedzone/', '');
      zones.set(name, id);
      return id;
    },
    async reset() {
      await moto.reset();
      proxy.clear();
      zones = new Map();
      await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    },
    props(text, extra = {}) {
      return { ...synthesized, PolicyText: text, ContentId: contentIdOf(text), ...extra };
    },
    event(type, props, options = {}) {
      return cfnEvent(type, {
        logicalId: publication[0],
        resourceType: PUBLICATION_RESOURCE_TYPE,
        serviceToken: fn.functionArn,
        properties: props as unknown as Record<string, unknown>,
        oldProperties: options.old as unknown as Record<string, unknown> | undefined,
        physicalId: options.physicalId,
      });
    },
    run(type, props, options = {}) {
      return invoke(fn, options.event ?? world.event(type, props, options), { endpoint: proxy.endpoint, timeScale: TIME_SCALE, ...options });
    },
    runConcurrently(all, options = {}) {
      const events = all.map((props, i) => cfnEvent('Create', {
        logicalId: `Publication${i}`,
        resourceType: PUBLICATION_RESOURCE_TYPE,
        serviceToken: fn.functionArn,
        properties: props as unknown as Record<string, unknown>,
      }));
      return invokeConcurrently(fn, events, { endpoint: proxy.endpoint, timeScale: TIME_SCALE, ...options });
    },
    async txt(zoneId, name) {
      const fqdn = `${name.replace(/\.$/, '')}.`;
      const found = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: fqdn, StartRecordType: 'TXT', MaxItems: 1 }));
      const set = found.ResourceRecordSets?.[0];
      if (!set || set.Type !== 'TXT' || set.Name !== fqdn) {
        return undefined;
      }
      return { values: (set.ResourceRecords ?? []).map(r => txtValue(r.Value ?? '')), ttl: set.TTL ?? 0 };
    },
    async putTxt(zoneId, name, value) {
      await route53.send(new ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        ChangeBatch: { Changes: [{ Action: 'UPSERT', ResourceRecordSet: { Name: `${name}.`, Type: 'TXT', TTL: 300, ResourceRecords: [{ Value: JSON.stringify(value) }] } }] },
      }));
    },
    async object(key, bucket = BUCKET) {
      try {
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return { body: await got.Body!.transformToString(), contentType: got.ContentType, cacheControl: got.CacheControl };
      } catch (error) {
        if ((error as Error).name === 'NoSuchKey' || (error as Error).name === 'NoSuchBucket') {
          return undefined;
        }
        throw error;
      }
    },
    async putObject(key, body) {
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    },
    async stop() {
      await proxy.stop();
      await moto.stop();
      fs.rmSync(outdir, { recursive: true, force: true });
    },
  };
  return world;
}
