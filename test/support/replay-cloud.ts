/**
 * The part of AWS the CloudFormation replay (cfn-replay.ts) keeps in moto: S3 buckets and objects,
 * Route 53 hosted zones and record sets. The replay writes CloudFormation's own resources
 * (`AWS::S3::Bucket`, `AWS::Route53::RecordSet`) here, the packaged publisher writes the policy
 * files and `_mta-sts` records here (through the fault proxy), and the checks read everything
 * back from here after every step, so the handler and the checks see one S3 and one Route 53.
 *
 * Hosted zones: templates name zones by the ids given to `HostedZone.fromHostedZoneAttributes`;
 * moto picks its own ids (it cannot be told one). Each scenario resets moto and creates its
 * zones; `zoneIdOf` maps a template's id to moto's, and the replay maps every zone id it writes
 * to moto or passes to the publisher. `snapshot` and `restore` put a scenario back to a saved
 * point: restore changes only what differs (records, objects, buckets), so the zones keep their
 * ids.
 *
 * Route 53 checks that moto does not make are made here for CloudFormation's record sets: a
 * CREATE of a record set that exists fails, as in Route 53 (moto would add a second one, or
 * refuse a new one wrongly: its check looks at its change journal and at every record set sorted
 * after the name). Two moto gaps remain for the publisher's own calls: a DELETE is accepted when
 * its values match any earlier version of the record set (Route 53 wants the current values), and
 * a DELETE of a missing record set succeeds (Route 53 answers InvalidChangeBatch).
 */
import { ChangeResourceRecordSetsCommand, CreateHostedZoneCommand, ListResourceRecordSetsCommand, ResourceRecordSet, Route53Client } from '@aws-sdk/client-route-53';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand, ListBucketsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

/** A hosted zone of a scenario: the id the templates use and the zone's name. */
export interface ZoneSpec {
  /** The id in the templates (`HostedZone.fromHostedZoneAttributes`). */
  readonly id: string;
  /** The zone's name, without trailing dot. */
  readonly name: string;
}

/** A record set as read back, names lower case with a trailing dot. */
export interface CloudRecord {
  readonly name: string;
  readonly type: string;
  readonly ttl?: number;
  /** Values as Route 53 holds them (TXT values quoted). */
  readonly values: string[];
  /** DNSName of an alias target, lower case, without trailing dot. */
  readonly alias?: string;
}

/** A hosted zone as read back. */
export interface CloudZone {
  /** The id in the templates. */
  readonly templateId: string;
  /** moto's id. */
  readonly id: string;
  /** Lower case, without trailing dot. */
  readonly name: string;
  /** Every record set but the zone's own SOA and apex NS. */
  readonly records: CloudRecord[];
}

/** What S3 and Route 53 hold. */
export interface CloudState {
  readonly zones: CloudZone[];
  /** Bucket name to (key to body). */
  readonly buckets: Record<string, Record<string, string>>;
}

/** A record set change as CloudFormation (or a user) makes it. */
export interface RecordSetChange {
  readonly action: 'CREATE' | 'UPSERT' | 'DELETE';
  /** Zone id as in the templates. */
  readonly zone: string;
  readonly name: string;
  readonly type: string;
  readonly ttl?: number;
  readonly values?: string[];
  readonly alias?: { readonly dnsName: string; readonly hostedZoneId: string };
}

/** What may have changed since the last read. */
export interface ReadScope {
  /** Zones, by template id. */
  readonly zones?: readonly string[];
  /** Buckets whose objects may have changed. */
  readonly buckets?: readonly string[];
  /** Whether buckets may have been created or deleted. */
  readonly bucketList?: boolean;
}

/** A failure AWS reports for a CloudFormation resource operation. */
export class CloudFailure extends Error {}

export interface ReplayCloud {
  /** moto's endpoint. */
  readonly endpoint: string;
  /** The scenario's zones. */
  readonly zones: readonly ZoneSpec[];
  /** Forgets everything and creates the scenario's zones (same ids every time for the same zones). */
  start(specs: readonly ZoneSpec[]): Promise<void>;
  /** moto's id of a zone the templates name `templateId`. */
  zoneIdOf(templateId: string): string;
  /** The template id of moto's zone `id`, if it is one of the scenario's. */
  templateIdOf(id: string): string | undefined;
  changeRecordSet(change: RecordSetChange): Promise<void>;
  createBucket(name: string): Promise<void>;
  /** Deletes a bucket; fails with BucketNotEmpty as S3 does. A missing bucket is no error. */
  deleteBucket(name: string): Promise<void>;
  /**
   * What S3 and Route 53 hold. With a scope, only those zones and buckets (and the list of
   * buckets) are read again, the rest comes from the last read; without, everything is read.
   */
  read(scope?: ReadScope): Promise<CloudState>;
  snapshot(): Promise<CloudState>;
  restore(state: CloudState): Promise<void>;
}

const CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing', sessionToken: 'testing' };
/** Any fixed number: what matters is that every start of a scenario seeds the same. */
const SEED = 1_201;

const dotted = (name: string): string => (name.endsWith('.') ? name : `${name}.`).toLowerCase();
const bare = (name: string): string => name.toLowerCase().replace(/\.$/, '');

/** A cloud in moto at `endpoint` (a moto server of test/support/moto.ts, never through the fault proxy). */
export function motoCloud(endpoint: string): ReplayCloud {
  const route53 = new Route53Client({ endpoint, region: 'us-east-1', credentials: CREDENTIALS, maxAttempts: 1 });
  const s3 = new S3Client({ endpoint, region: 'us-east-1', credentials: CREDENTIALS, forcePathStyle: true, maxAttempts: 1 });
  let zones: ZoneSpec[] = [];
  let ids = new Map<string, string>();

  const post = async (path: string): Promise<void> => {
    const response = await fetch(`${endpoint}${path}`, { method: 'POST' });
    if (!response.ok) {
      throw new Error(`moto ${path} answered ${response.status}`);
    }
  };

  const start = async (specs: readonly ZoneSpec[]): Promise<void> => {
    await post('/moto-api/reset');
    // Seeded, moto gives a scenario's zones the same ids every time: messages can be compared across runs.
    await post(`/moto-api/seed?a=${SEED}`);
    cache = { zones: new Map(), buckets: new Map() };
    zones = [...specs];
    ids = new Map();
    for (const [i, spec] of specs.entries()) {
      const created = await route53.send(new CreateHostedZoneCommand({ Name: spec.name, CallerReference: `replay-${i}-${spec.id}` }));
      ids.set(spec.id, created.HostedZone!.Id!.replace(/^\/hostedzone\//, ''));
    }
  };

  const zoneIdOf = (templateId: string): string => {
    const id = ids.get(templateId);
    if (id === undefined) {
      throw new Error(`no hosted zone ${templateId} in the scenario (zones: ${zones.map(z => `${z.id} ${z.name}`).join(', ')})`);
    }
    return id;
  };

  const listRecords = async (zoneId: string): Promise<ResourceRecordSet[]> => {
    const sets: ResourceRecordSet[] = [];
    let next: { name?: string; type?: string } = {};
    for (;;) {
      const page = await route53.send(new ListResourceRecordSetsCommand({
        HostedZoneId: zoneId, StartRecordName: next.name, StartRecordType: next.type as any,
      }));
      sets.push(...(page.ResourceRecordSets ?? []));
      if (!page.IsTruncated) {
        return sets;
      }
      next = { name: page.NextRecordName, type: page.NextRecordType };
    }
  };

  const recordOf = (set: ResourceRecordSet): CloudRecord => ({
    name: dotted(set.Name ?? ''),
    type: set.Type ?? '',
    ttl: set.TTL,
    values: (set.ResourceRecords ?? []).map(r => r.Value ?? ''),
    alias: set.AliasTarget?.DNSName ? bare(set.AliasTarget.DNSName) : undefined,
  });

  const toResourceRecordSet = (change: Omit<RecordSetChange, 'action' | 'zone'>): ResourceRecordSet => ({
    Name: dotted(change.name),
    Type: change.type as any,
    ...(change.alias
      ? { AliasTarget: { DNSName: change.alias.dnsName, HostedZoneId: change.alias.hostedZoneId, EvaluateTargetHealth: false } }
      : { TTL: change.ttl ?? 300, ResourceRecords: (change.values ?? []).map(Value => ({ Value })) }),
  });

  /** The last read: records by zone (template id), objects by bucket with their ETags. */
  type Objects = Map<string, { etag: string; body: string }>;
  let cache: { zones: Map<string, CloudZone>; buckets: Map<string, Objects> } = { zones: new Map(), buckets: new Map() };

  const readZone = async (spec: ZoneSpec): Promise<void> => {
    const id = zoneIdOf(spec.id);
    const records = (await listRecords(id)).map(recordOf)
      .filter(r => !(r.name === dotted(spec.name) && (r.type === 'SOA' || r.type === 'NS')));
    cache.zones.set(spec.id, { templateId: spec.id, id, name: bare(spec.name), records });
  };

  const readBucket = async (name: string): Promise<void> => {
    const before: Objects = cache.buckets.get(name) ?? new Map();
    const objects: Objects = new Map();
    let token: string | undefined;
    try {
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: name, ContinuationToken: token }));
        for (const object of page.Contents ?? []) {
          const known = before.get(object.Key!);
          if (known && known.etag === object.ETag) {
            objects.set(object.Key!, known);
          } else {
            const got = await s3.send(new GetObjectCommand({ Bucket: name, Key: object.Key! }));
            objects.set(object.Key!, { etag: object.ETag ?? '', body: await got.Body!.transformToString('utf8') });
          }
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      cache.buckets.set(name, objects);
    } catch (error) {
      if ((error as Error).name !== 'NoSuchBucket') {
        throw error;
      }
      cache.buckets.delete(name);
    }
  };

  const read = async (scope?: ReadScope): Promise<CloudState> => {
    const zonesToRead = scope ? zones.filter(z => scope.zones?.includes(z.id)) : zones;
    for (const spec of zonesToRead) {
      await readZone(spec);
    }
    let bucketsToRead = scope?.buckets ?? [];
    if (!scope || scope.bucketList) {
      const names = ((await s3.send(new ListBucketsCommand({}))).Buckets ?? []).map(b => b.Name!);
      for (const name of [...cache.buckets.keys()].filter(n => !names.includes(n))) {
        cache.buckets.delete(name);
      }
      bucketsToRead = scope ? [...new Set([...bucketsToRead, ...names.filter(n => !cache.buckets.has(n))])] : names;
    }
    for (const name of bucketsToRead) {
      await readBucket(name);
    }
    return {
      zones: zones.map(z => cache.zones.get(z.id)!).filter(Boolean),
      buckets: Object.fromEntries([...cache.buckets.entries()]
        .map(([name, objects]) => [name, Object.fromEntries([...objects.entries()].map(([k, o]) => [k, o.body]))])),
    };
  };

  return {
    endpoint,
    start,
    zoneIdOf,
    templateIdOf: (id: string) => [...ids.entries()].find(([, motoId]) => motoId === id)?.[0],
    get zones() {
      return zones;
    },
    async changeRecordSet(change) {
      const zoneId = zoneIdOf(change.zone);
      const existing = (await listRecords(zoneId)).map(recordOf).filter(r => r.name === dotted(change.name) && r.type === change.type);
      if (change.action === 'CREATE' && existing.length > 0) {
        // Route 53 refuses this; moto would keep a second record set.
        throw new CloudFailure(`InvalidChangeBatch: [Tried to create resource record set [name='${dotted(change.name)}', type='${change.type}'] but it already exists]`);
      }
      if (change.action === 'DELETE') {
        if (existing.length === 0) {
          return; // CloudFormation: a record set that is already gone is deleted.
        }
        // Route 53 deletes a record set only with its exact current values.
        const current = existing[0];
        await route53.send(new ChangeResourceRecordSetsCommand({
          HostedZoneId: zoneId,
          ChangeBatch: {
            Changes: [{
              Action: 'DELETE',
              ResourceRecordSet: toResourceRecordSet({
                name: current.name,
                type: current.type,
                ttl: current.ttl,
                values: current.values,
                alias: change.alias ?? (current.alias ? { dnsName: `${current.alias}.`, hostedZoneId: 'Z2FDTNDATAQYW2' } : undefined),
              }),
            }],
          },
        }));
        return;
      }
      try {
        // CREATE was checked above; moto's own check of CREATE is wrong (it refuses an identical
        // CREATE made before whenever any record set sorts after the name), so UPSERT.
        await route53.send(new ChangeResourceRecordSetsCommand({
          HostedZoneId: zoneId,
          ChangeBatch: { Changes: [{ Action: 'UPSERT', ResourceRecordSet: toResourceRecordSet(change) }] },
        }));
      } catch (error) {
        throw new CloudFailure(`${(error as Error).name}: ${(error as Error).message}`);
      }
    },
    async createBucket(name) {
      try {
        await s3.send(new CreateBucketCommand({ Bucket: name }));
      } catch (error) {
        throw new CloudFailure(`${(error as Error).name}: ${(error as Error).message}`);
      }
    },
    async deleteBucket(name) {
      try {
        await s3.send(new DeleteBucketCommand({ Bucket: name }));
      } catch (error) {
        const code = (error as Error).name;
        if (code === 'NoSuchBucket') {
          return;
        }
        throw new CloudFailure(`${code}: ${(error as Error).message}`);
      }
    },
    read,
    snapshot: () => read(),
    async restore(state) {
      // Only what differs is changed: a reset would give the zones new ids.
      const now = await read();
      const aliasOf = (r: CloudRecord) => (r.alias ? { dnsName: `${r.alias}.`, hostedZoneId: 'Z2FDTNDATAQYW2' } : undefined);
      const keyOf = (r: CloudRecord) => `${r.name}|${r.type}`;
      for (const zone of zones) {
        const current = now.zones.find(z => z.templateId === zone.id)?.records ?? [];
        const wanted = state.zones.find(z => z.templateId === zone.id)?.records ?? [];
        const changes: Array<{ Action: 'UPSERT' | 'DELETE'; ResourceRecordSet: ResourceRecordSet }> = [];
        const deleted = new Set<string>();
        for (const r of current) {
          if (!wanted.some(w => keyOf(w) === keyOf(r)) && !deleted.has(keyOf(r))) {
            deleted.add(keyOf(r));
            changes.push({ Action: 'DELETE', ResourceRecordSet: toResourceRecordSet({ ...r, alias: aliasOf(r) }) });
          }
        }
        for (const w of wanted) {
          const matches = current.filter(r => keyOf(r) === keyOf(w));
          if (matches.length !== 1 || JSON.stringify(matches[0]) !== JSON.stringify(w)) {
            changes.push({ Action: 'UPSERT', ResourceRecordSet: toResourceRecordSet({ ...w, alias: aliasOf(w) }) });
          }
        }
        if (changes.length > 0) {
          await route53.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: zoneIdOf(zone.id), ChangeBatch: { Changes: changes } }));
        }
      }
      for (const [bucket, objects] of Object.entries(now.buckets)) {
        const wanted = state.buckets[bucket];
        for (const key of Object.keys(objects).filter(k => wanted?.[k] === undefined)) {
          await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
        }
        if (!wanted) {
          await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
        }
      }
      for (const [bucket, objects] of Object.entries(state.buckets)) {
        if (!now.buckets[bucket]) {
          await s3.send(new CreateBucketCommand({ Bucket: bucket }));
        }
        for (const [key, body] of Object.entries(objects).filter(([k, b]) => now.buckets[bucket]?.[k] !== b)) {
          await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'text/plain' }));
        }
      }
      const normal = (c: CloudState) => JSON.stringify({
        zones: c.zones.map(z => ({ ...z, records: [...z.records].sort((a, b) => keyOf(a).localeCompare(keyOf(b))) })),
        buckets: Object.entries(c.buckets).sort(([a], [b]) => a.localeCompare(b)),
      });
      const restored = await read();
      if (normal(restored) !== normal(state)) {
        throw new Error(`moto did not return to the saved state:\n${JSON.stringify(restored)}\n${JSON.stringify(state)}`);
      }
    },
  };
}
