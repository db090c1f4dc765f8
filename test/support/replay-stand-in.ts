/**
 * Stand-in publishers for the replay's self-tests (test/replay.test.ts): small, in-process
 * implementations of the publication contract (core/publication.ts), correct by default and
 * deliberately wrong on request, so the self-tests can show that the checks of cfn-replay.ts
 * catch each wrong design. They are NOT the library's handler: the replay of the real
 * constructs runs the packaged handler (replay-publisher.ts).
 *
 * Like aws-cdk-lib's entrypoint, a stand-in answers FAILED with the marker physical id when a
 * Create throws, and skips the Delete of that marker. It calls S3 and Route 53 through the fault
 * proxy, once per call (no retries), so injected faults reach it.
 */
import { ChangeResourceRecordSetsCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { FaultProxy } from './aws-faults';
import { CfnResponse, CustomResourceEvent, RunOptions, RunPublication, contentIdOf } from './cfn-replay';
import { txtValue } from './txt';

/** aws-cdk-lib's marker for the physical id of a failed Create. */
export const CREATE_FAILED_MARKER = 'AWSCDK::CustomResourceProviderFramework::CREATE_FAILED';

/** Mistakes a stand-in can make on purpose. */
export interface StandInMistakes {
  /** Write the record before the policy file. */
  readonly announceFirst?: boolean;
  /** Announce the content id with a fixed stamp: the same id every time the same policy is published. */
  readonly reuseIds?: boolean;
  /** Leave the old record when the publication moves to another zone or record name. */
  readonly keepMovedRecord?: boolean;
  /** Answer SUCCESS to an Update without writing anything. */
  readonly ignoreUpdates?: boolean;
}

const CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing', sessionToken: 'testing' };

/** A stand-in publisher calling moto through `proxy`. */
export function standInPublisher(proxy: FaultProxy, mistakes: StandInMistakes = {}): RunPublication {
  const s3 = new S3Client({ endpoint: proxy.endpoint, region: 'us-east-1', credentials: CREDENTIALS, forcePathStyle: true, maxAttempts: 1 });
  const route53 = new Route53Client({ endpoint: proxy.endpoint, region: 'us-east-1', credentials: CREDENTIALS, maxAttempts: 1 });
  let stamp = 0;

  const readTxt = async (zone: string, name: string): Promise<{ values: string[]; ttl: number } | undefined> => {
    const fqdn = `${name.toLowerCase().replace(/\.$/, '')}.`;
    const page = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zone, StartRecordName: fqdn, StartRecordType: 'TXT', MaxItems: 1 }));
    const set = page.ResourceRecordSets?.[0];
    return set && set.Type === 'TXT' && set.Name?.toLowerCase() === fqdn ? { values: (set.ResourceRecords ?? []).map(r => r.Value!), ttl: set.TTL ?? 300 } : undefined;
  };
  const change = (zone: string, action: 'UPSERT' | 'DELETE', name: string, values: string[], ttl: number) => route53.send(new ChangeResourceRecordSetsCommand({
    HostedZoneId: zone,
    ChangeBatch: { Changes: [{ Action: action, ResourceRecordSet: { Name: name, Type: 'TXT', TTL: ttl, ResourceRecords: values.map(Value => ({ Value })) } }] },
  }));
  const withdraw = async (p: Record<string, any>): Promise<void> => {
    const record = await readTxt(p.HostedZoneId, p.RecordName);
    if (record && record.values.map(txtValue).every(v => v.startsWith('v=STSv1'))) {
      await change(p.HostedZoneId, 'DELETE', p.RecordName, record.values, record.ttl);
    }
  };

  const handle = async (event: CustomResourceEvent): Promise<CfnResponse> => {
    const p = event.ResourceProperties as Record<string, any>;
    if (event.RequestType === 'Delete') {
      await withdraw(p);
      if (p.RetainObject !== 'true') {
        await s3.send(new DeleteObjectCommand({ Bucket: p.BucketName, Key: p.ObjectKey }));
      }
      return { Status: 'SUCCESS', PhysicalResourceId: event.PhysicalResourceId! };
    }
    if (mistakes.ignoreUpdates && event.RequestType === 'Update') {
      const record = await readTxt(p.HostedZoneId, p.RecordName);
      const value = txtValue(record?.values[0] ?? '');
      return { Status: 'SUCCESS', PhysicalResourceId: event.PhysicalResourceId!, Data: { PolicyId: /id=(\w+)/.exec(value)?.[1] ?? '', RecordValue: value } };
    }
    stamp += 1;
    const id = `${contentIdOf(p.PolicyText)}${mistakes.reuseIds ? '0'.repeat(16) : `2026120112${String(stamp).padStart(6, '0')}`}`;
    const value = `v=STSv1; id=${id}`;
    const put = () => s3.send(new PutObjectCommand({ Bucket: p.BucketName, Key: p.ObjectKey, Body: p.PolicyText, ContentType: 'text/plain' }));
    const announce = () => change(p.HostedZoneId, 'UPSERT', p.RecordName, [`"${value}"`], Number(p.RecordTtl));
    if (mistakes.announceFirst) {
      await announce();
      await put();
    } else {
      await put();
      await announce();
    }
    const old = event.OldResourceProperties as Record<string, any> | undefined;
    if (old && !mistakes.keepMovedRecord && (old.HostedZoneId !== p.HostedZoneId || old.RecordName !== p.RecordName)) {
      await withdraw(old);
    }
    return {
      Status: 'SUCCESS',
      PhysicalResourceId: `mta-sts-publication:${p.DomainName}`,
      Data: { PolicyId: id, RecordValue: value },
    };
  };

  return async (event: CustomResourceEvent, options: RunOptions): Promise<CfnResponse | undefined> => {
    if (event.RequestType === 'Delete' && event.PhysicalResourceId === CREATE_FAILED_MARKER) {
      return { Status: 'SUCCESS', PhysicalResourceId: CREATE_FAILED_MARKER };
    }
    proxy.clear();
    options.aws.forEach(fault => proxy.inject(fault));
    try {
      return await handle(event);
    } catch (error) {
      return {
        Status: 'FAILED',
        Reason: `${(error as Error).name}: ${(error as Error).message}`,
        PhysicalResourceId: event.PhysicalResourceId ?? CREATE_FAILED_MARKER,
      };
    } finally {
      proxy.clear();
    }
  };
}
