/**
 * The S3 and Route 53 calls of the publisher, through the AWS SDK v3 of the Lambda runtime, each
 * retried on throttling and server faults against the handler's deadline (retry.ts).
 */
import { randomInt } from 'node:crypto';
import { ChangeResourceRecordSetsCommand, GetChangeCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { TimeLeft, retrying, sleep } from './retry';

/** A TXT record set as Route 53 holds it: each value unquoted and joined, and the TTL. */
export interface TxtRecordSet {
  readonly values: string[];
  readonly ttl: number;
}

/** A change Route 53 accepted. */
export interface RecordChange {
  readonly id: string;
  readonly inSync: boolean;
}

/** How often a pending Route 53 change is polled: every 10 to 15 seconds (Route 53 allows 5 requests a second per account). */
const POLL_MIN_MS = 10_000;
const POLL_JITTER_MS = 5_000;

/** Errors that mean the thing to remove is already gone. */
export function isGone(error: unknown): boolean {
  return /^(NoSuchHostedZone|NoSuchBucket|NoSuchKey|NotFound)$/.test((error as { name?: string })?.name ?? '');
}

export function normaliseName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** Route 53 stores TXT strings quoted; a value over 255 characters is split into several strings. */
export function quoteTxt(value: string): string {
  const chunks = value.match(/.{1,255}/g) ?? [''];
  return chunks.map(chunk => `"${chunk.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(' ');
}

export function unquoteTxt(value: string): string {
  return [...value.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map(m => m[1].replace(/\\(.)/g, '$1')).join('');
}

/** The publisher's AWS operations, bound to the handler's time budget. */
export class PublisherAws {
  private readonly s3 = new S3Client({});
  private readonly route53 = new Route53Client({});

  /** @param timeLeft the handler's remaining time; @param reserveMs what every retry loop leaves for the steps after it */
  constructor(private readonly timeLeft: TimeLeft, private readonly reserveMs: number) {}

  async putObject(bucket: string, key: string, body: string): Promise<void> {
    await retrying(`put s3://${bucket}/${key}`, this.timeLeft, this.reserveMs, () => this.s3.send(new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: body,
      // RFC 8461 §3.3: media type text/plain; senders must not use HTTP caching, nothing in between should either.
      ContentType: 'text/plain',
      CacheControl: 'no-store',
    })));
  }

  /** Deletes the object; a missing bucket or key is already gone. */
  async deleteObject(bucket: string, key: string): Promise<void> {
    try {
      await retrying(`delete s3://${bucket}/${key}`, this.timeLeft, this.reserveMs, () => this.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })));
    } catch (error) {
      if (!isGone(error)) {
        throw error;
      }
    }
  }

  /** The TXT record at `name` in the zone, or undefined when there is none. */
  async readTxt(zoneId: string, name: string): Promise<TxtRecordSet | undefined> {
    const fqdn = `${normaliseName(name)}.`;
    const result = await retrying(`read TXT ${name}`, this.timeLeft, this.reserveMs, () => this.route53.send(new ListResourceRecordSetsCommand({
      HostedZoneId: zoneId, StartRecordName: fqdn, StartRecordType: 'TXT', MaxItems: 1,
    })));
    const set = result.ResourceRecordSets?.[0];
    if (!set || set.Type !== 'TXT' || normaliseName(set.Name ?? '').replace(/\\052/g, '*') !== normaliseName(name)) {
      return undefined;
    }
    return { values: (set.ResourceRecords ?? []).map(record => unquoteTxt(record.Value ?? '')), ttl: set.TTL ?? 0 };
  }

  /**
   * Sends one change of the TXT record and returns the change id once Route 53 accepted it.
   * A DELETE must name the record's exact values and TTL.
   */
  async changeTxt(zoneId: string, action: 'UPSERT' | 'DELETE', name: string, values: string[], ttl: number): Promise<RecordChange> {
    const change = await retrying(`${action} TXT ${name}`, this.timeLeft, this.reserveMs, () => this.route53.send(new ChangeResourceRecordSetsCommand({
      HostedZoneId: zoneId,
      ChangeBatch: {
        Comment: `cdk-mta-sts: ${action} ${name}`,
        Changes: [{
          Action: action,
          ResourceRecordSet: { Name: `${normaliseName(name)}.`, Type: 'TXT', TTL: ttl, ResourceRecords: values.map(value => ({ Value: quoteTxt(value) })) },
        }],
      },
    })));
    return { id: change.ChangeInfo?.Id ?? '', inSync: change.ChangeInfo?.Status === 'INSYNC' };
  }

  /**
   * Waits until every Route 53 name server answers with the change (usually within a minute),
   * polling every 10 to 15 seconds while more than `reserveMs` would be left. Throws when the
   * time is up.
   */
  async waitInSync(change: RecordChange, what: string, reserveMs: number): Promise<void> {
    const changeId = change.id;
    for (let inSync = change.inSync; !inSync;) {
      const wait = POLL_MIN_MS + randomInt(POLL_JITTER_MS);
      if (this.timeLeft() - wait < reserveMs) {
        throw new Error(`Route 53 change ${changeId} (${what}) was accepted but not yet in sync when the handler had to answer`);
      }
      await sleep(wait);
      const status = await retrying(`poll ${changeId}`, this.timeLeft, reserveMs, () => this.route53.send(new GetChangeCommand({ Id: changeId })));
      inSync = status.ChangeInfo?.Status === 'INSYNC';
    }
  }
}
