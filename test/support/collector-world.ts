/**
 * What the packaged collector tests share: moto on loopback with the fault proxy in front of it,
 * SDK clients that read moto directly, a collector stack synthesized and opened as packaged
 * (test/support/packaged.ts), and readers of what the functions stored and logged.
 */
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { SESClient } from '@aws-sdk/client-ses';
import { FaultProxy, startFaultProxy } from './aws-faults';
import { DUMMY_CREDENTIALS, Moto, startMoto } from './moto';
import { Invocation, PackagedStack, openStack, synthesize } from './packaged';
import { TlsRptCollector, TlsRptCollectorProps } from '../../src';
import { exampleStack } from '../fixtures';

/** The name the collector's rule set is given in moto (the template's is a token). */
export const RULE_SET = 'tlsrpt-collector-rule-set';
/** The collector's address in the example zone. */
export const ADDRESS = 'reports@tlsrpt.example.com';
/** The physical id aws-cdk-lib's entrypoint answers for a failed Create. */
export const CREATE_FAILED = 'AWSCDK::CustomResourceProviderFramework::CREATE_FAILED';

export interface CollectorWorld {
  readonly moto: Moto;
  readonly proxy: FaultProxy;
  /** Reads moto directly, not through the proxy. */
  readonly s3: S3Client;
  readonly ses: SESClient;
  /** A stack `Stack` (us-east-1) with a collector `Collector` in the example zone, as packaged. */
  collectorStack(props: Partial<TlsRptCollectorProps>): PackagedStack;
  /** Forgets everything in moto and the proxy's rules and log; creates the bucket again. */
  reset(): Promise<void>;
  /** The keys of the bucket, sorted; without `raw/` unless asked. */
  keys(options?: { raw?: boolean }): Promise<string[]>;
  text(key: string): Promise<string>;
  stop(): Promise<void>;
}

/** Starts moto and the proxy; the collector's bucket is called `bucket` there. */
export async function collectorWorld(bucket: string): Promise<CollectorWorld> {
  const moto = await startMoto();
  const proxy = await startFaultProxy(moto.endpoint);
  const config = { endpoint: moto.endpoint, region: 'us-east-1', credentials: DUMMY_CREDENTIALS };
  const s3 = new S3Client(config);
  const ses = new SESClient(config);
  const world: CollectorWorld = {
    moto,
    proxy,
    s3,
    ses,
    collectorStack(props) {
      const { app, stack, hostedZone } = exampleStack('us-east-1');
      new TlsRptCollector(stack, 'Collector', { hostedZone, ...props });
      return openStack(synthesize(app), 'Stack', { refs: { CollectorBucket: bucket, CollectorRuleSet: RULE_SET } });
    },
    async reset() {
      await moto.reset();
      proxy.clear();
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    },
    async keys(options = {}) {
      const found: string[] = [];
      let token: string | undefined;
      do {
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
        found.push(...(listed.Contents ?? []).map(object => object.Key!));
        token = listed.NextContinuationToken;
      } while (token);
      return found.filter(key => options.raw || !key.startsWith('raw/')).sort();
    },
    async text(key) {
      return (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
    },
    async stop() {
      s3.destroy();
      ses.destroy();
      await proxy.stop();
      await moto.stop();
    },
  };
  return world;
}

/** The JSON lines of invocations' logs (whole lines: EMF needs them unprefixed). */
export function logLines(...runs: Invocation[]): any[] {
  return runs.flatMap(run => run.stdout.split('\n').filter(line => line.startsWith('{')).map(line => JSON.parse(line)));
}

/**
 * The EMF metric values of invocations, `Name{Dim=value,...}` -> value, summed over lines, one
 * entry per dimension set of a line; every line in the TlsRpt namespace.
 */
export function metrics(...runs: Invocation[]): Record<string, number> {
  const values: Record<string, number> = {};
  for (const line of logLines(...runs).filter(l => l._aws)) {
    const directive = line._aws.CloudWatchMetrics[0];
    expect(directive.Namespace).toBe('TlsRpt');
    // Every dimension set of the line makes a metric of each value (EMF's DimensionSet array).
    for (const dimensionSet of directive.Dimensions) {
      const dimensions = dimensionSet.map((name: string) => `${name}=${line[name]}`).join(',');
      for (const metric of directive.Metrics) {
        const name = `${metric.Name}{${dimensions}}`;
        values[name] = (values[name] ?? 0) + line[metric.Name];
      }
    }
  }
  return values;
}
