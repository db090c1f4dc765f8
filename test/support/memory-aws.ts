/**
 * In-memory stand-ins for the two AWS APIs the publisher calls, S3 and Route 53, which cannot
 * run here. They keep what a real bucket and hosted zone would hold and behave like them where
 * the publisher depends on it: a Route 53 DELETE must name the exact current values, TXT values
 * are stored quoted (255-character strings), and each call is logged in order.
 */
import { PublisherClients, quoteTxt, unquoteTxt } from '../../src/handlers/publisher';

export interface MemoryAws extends PublisherClients {
  /** bucket/key -> body */
  readonly objects: Map<string, string>;
  /** zoneId/name -> the quoted resource record values, as Route 53 stores them */
  readonly records: Map<string, string[]>;
  /** zoneId/name -> TTL (300 when a test set the record directly) */
  readonly ttls: Map<string, number>;
  /** Every call, in order, e.g. `put bucket/key`, `UPSERT Z1/_mta-sts.example.com`. */
  readonly calls: string[];
  /** Make the next calls of a kind fail, e.g. `{ changeTxt: 1 }`. */
  failNext: Partial<Record<'putObject' | 'deleteObject' | 'readTxt' | 'changeTxt', number>>;
}

function name(value: string): string {
  return value.toLowerCase().replace(/\.$/, '');
}

export function memoryAws(options: { start?: Date; entropy?: number[] } = {}): MemoryAws {
  let clock = (options.start ?? new Date('2026-12-01T12:00:00Z')).getTime();
  const entropy = [...(options.entropy ?? [])];
  const aws: MemoryAws = {
    objects: new Map(),
    records: new Map(),
    ttls: new Map(),
    calls: [],
    failNext: {},
    async putObject(bucket, key, body) {
      fail('putObject');
      aws.calls.push(`put ${bucket}/${key}`);
      aws.objects.set(`${bucket}/${key}`, body);
    },
    async deleteObject(bucket, key) {
      fail('deleteObject');
      aws.calls.push(`delete ${bucket}/${key}`);
      aws.objects.delete(`${bucket}/${key}`);
    },
    async readTxt(zoneId, recordName) {
      fail('readTxt');
      const key = `${zoneId}/${name(recordName)}`;
      const values = aws.records.get(key);
      return values && { values: values.map(unquoteTxt), ttl: aws.ttls.get(key) ?? 300 };
    },
    async changeTxt(zoneId, action, recordName, values, ttl) {
      fail('changeTxt');
      const key = `${zoneId}/${name(recordName)}`;
      aws.calls.push(`${action} ${key}`);
      const quoted = values.map(quoteTxt);
      if (action === 'DELETE') {
        const current = aws.records.get(key);
        if (!current || JSON.stringify(current) !== JSON.stringify(quoted) || (aws.ttls.get(key) ?? 300) !== ttl) {
          throw Object.assign(new Error(`Tried to delete resource record set ${key} but the values provided do not match the current values`), { name: 'InvalidChangeBatch' });
        }
        aws.records.delete(key);
        aws.ttls.delete(key);
      } else {
        aws.records.set(key, quoted);
        aws.ttls.set(key, ttl);
      }
    },
    now() {
      // Each publication happens at least a second after the previous one.
      clock += 1000;
      return new Date(clock);
    },
    entropy() {
      return entropy.shift() ?? 0;
    },
  };
  function fail(kind: keyof MemoryAws['failNext']): void {
    const left = aws.failNext[kind] ?? 0;
    if (left > 0) {
      aws.failNext[kind] = left - 1;
      throw Object.assign(new Error(`injected ${kind} failure`), { name: 'InjectedFailure' });
    }
  }
  return aws;
}
