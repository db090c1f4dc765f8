/**
 * The publishing step of cdk-mta-sts: one CloudFormation custom resource per policy domain
 * (`Custom::MtaStsPolicyPublication`), run by one Lambda function per stack.
 *
 * Create and Update (a rollback's update included): write the policy file, then announce it
 * by writing the `_mta-sts` TXT record with an id that was never announced before
 * (`<content id><publication stamp>`, see core/policy-id.ts), and wait until Route 53 has it.
 * Body first, record second, in one step: so whatever CloudFormation does around this resource
 * (later failures, rollbacks), a body change is always followed by a new id, and an id is only
 * announced for the body it was made for. If announcing fails after the body changed, the old
 * body is put back before the step fails.
 *
 * Delete: remove the TXT record first (only when it is this library's record for this policy),
 * then the policy file unless the bucket is retained.
 *
 * Bundled by projen (esbuild) into assets/handlers/publisher/index.js; the AWS SDK v3 comes
 * from the Lambda runtime.
 */
import { randomInt } from 'node:crypto';
import * as https from 'node:https';
import { ChangeResourceRecordSetsCommand, GetChangeCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { contentIdOf, contentIdPartOf, publicationIdOf } from '../../core/policy-id';
import { parseStsRecord, renderStsRecord } from '../../core/sts-record';

/** The properties of a `Custom::MtaStsPolicyPublication` resource, as CloudFormation passes them (all strings). */
export interface PublicationProperties {
  readonly DomainName: string;
  readonly BucketName: string;
  readonly ObjectKey: string;
  readonly PolicyText: string;
  readonly ContentId: string;
  readonly HostedZoneId: string;
  readonly RecordName: string;
  readonly RecordTtl: string;
  readonly RetainObject: string;
  readonly ReplaceExistingRecord?: string;
}

export interface CloudFormationEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: PublicationProperties;
  readonly OldResourceProperties?: PublicationProperties;
}

export interface PublicationResult {
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, string>;
}

/** The AWS calls the publisher makes; replaced in tests, since S3 and Route 53 cannot run here. */
export interface PublisherClients {
  putObject(bucket: string, key: string, body: string): Promise<void>;
  deleteObject(bucket: string, key: string): Promise<void>;
  /** The TXT record at `name` in the zone (each value joined and unquoted) and its TTL, or undefined when there is none. */
  readTxt(zoneId: string, name: string): Promise<TxtRecordSet | undefined>;
  /** Writes (UPSERT) or deletes the TXT record and waits until Route 53 reports it in sync. */
  changeTxt(zoneId: string, action: 'UPSERT' | 'DELETE', name: string, values: string[], ttl: number): Promise<void>;
  now(): Date;
  entropy(): number;
}

/** A TXT record set as Route 53 holds it. */
export interface TxtRecordSet {
  readonly values: string[];
  readonly ttl: number;
}

/** The physical id of a publication whose Create failed: its Delete then touches nothing. */
export const FAILED_CREATE_ID = 'mta-sts-publication-not-created';

/** Handles one CloudFormation request; throws with a message for CloudFormation on failure. */
export async function publish(event: CloudFormationEvent, clients: PublisherClients): Promise<PublicationResult> {
  const props = event.ResourceProperties;
  const physicalId = `${props.HostedZoneId}/${normaliseName(props.RecordName)}`;
  if (event.RequestType === 'Delete') {
    if (event.PhysicalResourceId !== FAILED_CREATE_ID) {
      await withdraw(props, clients);
    }
    return { PhysicalResourceId: event.PhysicalResourceId ?? physicalId };
  }

  if (contentIdOf(props.PolicyText) !== props.ContentId) {
    throw new Error(`ContentId ${props.ContentId} is not the content id of PolicyText (${contentIdOf(props.PolicyText)})`);
  }
  const current = (await clients.readTxt(props.HostedZoneId, props.RecordName))?.values;
  // A new record name (Create, or a renamed domain) must not silently take over a record this
  // stack did not write, unless the user opted in.
  const newName = event.RequestType === 'Create' || event.OldResourceProperties === undefined
    || normaliseName(event.OldResourceProperties.RecordName) !== normaliseName(props.RecordName)
    || event.OldResourceProperties.HostedZoneId !== props.HostedZoneId;
  if (newName && current !== undefined && props.ReplaceExistingRecord !== 'true') {
    throw new Error(`${normaliseName(props.RecordName)} already has a TXT record (${current.map(v => JSON.stringify(v)).join(' ')}) that this stack did not create. `
      + 'Delete it, or set `replaceExistingRecords: true` to let the construct replace it.');
  }

  await clients.putObject(props.BucketName, props.ObjectKey, props.PolicyText);
  try {
    const currentIds = (current ?? []).map(value => parseStsRecord(value).record?.id);
    let policyId = publicationIdOf(props.ContentId, clients.now(), clients.entropy());
    while (currentIds.includes(policyId)) {
      policyId = publicationIdOf(props.ContentId, clients.now(), clients.entropy());
    }
    const recordValue = renderStsRecord(policyId);
    await clients.changeTxt(props.HostedZoneId, 'UPSERT', props.RecordName, [recordValue], Number(props.RecordTtl));
    return { PhysicalResourceId: physicalId, Data: { PolicyId: policyId, RecordValue: recordValue } };
  } catch (error) {
    // The body changed but no new id was announced: put the body the current id was made for back.
    const old = event.OldResourceProperties;
    if (old && old.BucketName === props.BucketName && old.ObjectKey === props.ObjectKey) {
      await clients.putObject(old.BucketName, old.ObjectKey, old.PolicyText).catch(() => undefined);
    } else {
      await clients.deleteObject(props.BucketName, props.ObjectKey).catch(() => undefined);
    }
    throw error;
  }
}

async function withdraw(props: PublicationProperties, clients: PublisherClients): Promise<void> {
  const record = await clients.readTxt(props.HostedZoneId, props.RecordName);
  const current = record?.values;
  const ours = current !== undefined && current.length > 0 && current.every(value => {
    const id = parseStsRecord(value).record?.id;
    return id !== undefined && contentIdPartOf(id) !== undefined;
  });
  if (ours) {
    // Route 53 deletes a record set only when name, type, TTL and values all match.
    await clients.changeTxt(props.HostedZoneId, 'DELETE', props.RecordName, current!, record!.ttl);
  }
  if (props.RetainObject !== 'true') {
    await clients.deleteObject(props.BucketName, props.ObjectKey);
  }
}

function normaliseName(name: string): string {
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

/** Retries AWS calls that fail while a just-granted IAM permission propagates, or on throttling. */
async function retrying<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const name = (error as { name?: string }).name ?? '';
      const retryable = /AccessDenied|Throttling|PriorRequestNotComplete|ServiceUnavailable/.test(name);
      if (!retryable || attempt >= 8) {
        throw error;
      }
      await sleep(Math.min(30_000, 1_000 * 2 ** attempt));
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}

/** The real clients: S3 and Route 53 through the AWS SDK of the Lambda runtime. */
export function awsClients(): PublisherClients {
  const s3 = new S3Client({});
  const route53 = new Route53Client({});
  return {
    async putObject(bucket, key, body) {
      await retrying(() => s3.send(new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        // RFC 8461 §3.3: media type text/plain; senders must not use HTTP caching, nothing in between should either.
        ContentType: 'text/plain',
        CacheControl: 'no-store',
      })));
    },
    async deleteObject(bucket, key) {
      await retrying(() => s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })));
    },
    async readTxt(zoneId, name) {
      const fqdn = `${normaliseName(name)}.`;
      const result = await retrying(() => route53.send(new ListResourceRecordSetsCommand({
        HostedZoneId: zoneId, StartRecordName: fqdn, StartRecordType: 'TXT', MaxItems: 1,
      })));
      const set = result.ResourceRecordSets?.[0];
      if (!set || set.Type !== 'TXT' || normaliseName(set.Name ?? '').replace(/\\052/g, '*') !== normaliseName(name)) {
        return undefined;
      }
      return { values: (set.ResourceRecords ?? []).map(record => unquoteTxt(record.Value ?? '')), ttl: set.TTL ?? 0 };
    },
    async changeTxt(zoneId, action, name, values, ttl) {
      const change = await retrying(() => route53.send(new ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        ChangeBatch: {
          Comment: `cdk-mta-sts: ${action} ${name}`,
          Changes: [{
            Action: action,
            ResourceRecordSet: { Name: `${normaliseName(name)}.`, Type: 'TXT', TTL: ttl, ResourceRecords: values.map(value => ({ Value: quoteTxt(value) })) },
          }],
        },
      })));
      // Wait until every Route 53 name server answers with the change (usually within a minute).
      let status = change.ChangeInfo?.Status;
      for (let i = 0; status !== 'INSYNC' && i < 60; i++) {
        await sleep(5_000);
        status = (await retrying(() => route53.send(new GetChangeCommand({ Id: change.ChangeInfo!.Id! })))).ChangeInfo?.Status;
      }
      if (status !== 'INSYNC') {
        throw new Error(`Route 53 change ${change.ChangeInfo?.Id} for ${name} was not in sync after 5 minutes`);
      }
    },
    now: () => new Date(),
    entropy: () => randomInt(1296),
  };
}

/** The Lambda entry point: CloudFormation invokes it directly and reads the answer from the response URL. */
export async function handler(event: CloudFormationEvent): Promise<void> {
  let response: Record<string, unknown>;
  try {
    const result = await publish(event, awsClients());
    response = { Status: 'SUCCESS', ...result };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    console.error(JSON.stringify({ requestType: event.RequestType, logicalResourceId: event.LogicalResourceId, reason }));
    response = {
      Status: 'FAILED',
      Reason: reason.slice(0, 3_000),
      PhysicalResourceId: event.RequestType === 'Create' ? FAILED_CREATE_ID : event.PhysicalResourceId,
    };
  }
  await respond(event, { StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId, ...response });
}

function respond(event: CloudFormationEvent, body: Record<string, unknown>): Promise<void> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = https.request(event.ResponseURL, {
      method: 'PUT',
      headers: { 'content-type': '', 'content-length': Buffer.byteLength(data) },
    }, (response) => {
      response.resume();
      response.on('end', () => resolve());
    });
    request.on('error', reject);
    request.end(data);
  });
}
