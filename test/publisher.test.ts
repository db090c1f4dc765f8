import { createHash } from 'node:crypto';
import { memoryAws } from './support/memory-aws';
import { CloudFormationEvent, FAILED_CREATE_ID, publish, PublicationProperties, quoteTxt, unquoteTxt } from '../src/handlers/publisher';

// S3 and Route 53 cannot run here: the handler runs against the in-memory stand-ins of
// test/support/memory-aws.ts, which keep what a bucket and a hosted zone would hold.

const TEXT = 'version: STSv1\r\nmode: testing\r\nmx: mx.example.com\r\nmax_age: 604800\r\n';
const ENFORCE = 'version: STSv1\r\nmode: enforce\r\nmx: mx.example.com\r\nmax_age: 604800\r\n';
const contentId = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 16);

function props(text: string, extra: Partial<PublicationProperties> = {}): PublicationProperties {
  return {
    DomainName: 'example.com',
    BucketName: 'bucket',
    ObjectKey: 'policies/example.com/.well-known/mta-sts.txt',
    PolicyText: text,
    ContentId: contentId(text),
    HostedZoneId: 'Z1',
    RecordName: '_mta-sts.example.com',
    RecordTtl: '300',
    RetainObject: 'true',
    ReplaceExistingRecord: 'false',
    ...extra,
  };
}

function event(type: 'Create' | 'Update' | 'Delete', now: PublicationProperties, old?: PublicationProperties, physicalId?: string): CloudFormationEvent {
  return {
    RequestType: type,
    ResponseURL: 'https://response.invalid/',
    StackId: 'stack',
    RequestId: 'request',
    LogicalResourceId: 'Publication',
    PhysicalResourceId: physicalId ?? (type === 'Create' ? undefined : 'Z1/_mta-sts.example.com'),
    ResourceProperties: now,
    OldResourceProperties: old,
  };
}

describe('the publisher handler', () => {
  test('writes the policy file first, then announces it with the content id and a publication stamp', async () => {
    // GIVEN
    const aws = memoryAws({ start: new Date('2026-12-01T12:00:00Z'), entropy: [35] });

    // WHEN
    const result = await publish(event('Create', props(TEXT)), aws);

    // THEN
    const id = `${contentId(TEXT)}20261201120001` + '0z';
    expect(aws.calls).toEqual(['put bucket/policies/example.com/.well-known/mta-sts.txt', 'UPSERT Z1/_mta-sts.example.com']);
    expect(aws.objects.get('bucket/policies/example.com/.well-known/mta-sts.txt')).toBe(TEXT);
    expect(aws.records.get('Z1/_mta-sts.example.com')).toEqual([`"v=STSv1; id=${id}"`]);
    expect(result).toEqual({ PhysicalResourceId: 'Z1/_mta-sts.example.com', Data: { PolicyId: id, RecordValue: `v=STSv1; id=${id}` } });
    expect(id).toMatch(/^[a-z0-9]{32}$/);
  });

  test('announces a new id on every update, even when a rollback puts the same text back', async () => {
    // GIVEN: testing published, then enforce, then the rollback to testing
    const aws = memoryAws();
    const first = await publish(event('Create', props(TEXT)), aws);
    const second = await publish(event('Update', props(ENFORCE), props(TEXT)), aws);
    // WHEN
    const rolledBack = await publish(event('Update', props(TEXT), props(ENFORCE)), aws);

    // THEN
    const ids = [first, second, rolledBack].map(r => r.Data!.PolicyId);
    expect(new Set(ids).size).toBe(3);
    expect(ids.map(id => id.slice(0, 16))).toEqual([contentId(TEXT), contentId(ENFORCE), contentId(TEXT)]);
    expect(aws.objects.get('bucket/policies/example.com/.well-known/mta-sts.txt')).toBe(TEXT);
    expect(aws.records.get('Z1/_mta-sts.example.com')).toEqual([`"v=STSv1; id=${ids[2]}"`]);
  });

  test('never announces the id already in the record, even in the same second with the same entropy', async () => {
    // GIVEN: a clock that does not move and entropy that repeats once
    const aws = memoryAws({ entropy: [5, 5, 6] });
    aws.now = () => new Date('2026-12-01T12:00:00Z');
    const first = await publish(event('Create', props(TEXT)), aws);
    // WHEN
    const second = await publish(event('Update', props(TEXT), props(TEXT)), aws);
    // THEN
    expect(second.Data!.PolicyId).not.toBe(first.Data!.PolicyId);
    expect(second.Data!.PolicyId.endsWith('06')).toBe(true);
  });

  test('fails when the record name already holds a TXT record it did not write, changing nothing', async () => {
    // GIVEN: a record created by hand
    const aws = memoryAws();
    aws.records.set('Z1/_mta-sts.example.com', ['"v=STSv1; id=handmade1"']);

    // WHEN / THEN
    await expect(publish(event('Create', props(TEXT)), aws)).rejects.toThrow(
      '_mta-sts.example.com already has a TXT record ("v=STSv1; id=handmade1") that this stack did not create. '
      + 'Delete it, or set `replaceExistingRecords: true` to let the construct replace it.');
    expect(aws.objects.size).toBe(0);
    expect(aws.records.get('Z1/_mta-sts.example.com')).toEqual(['"v=STSv1; id=handmade1"']);
  });

  test('replaces an existing record when replaceExistingRecords is set', async () => {
    const aws = memoryAws();
    aws.records.set('Z1/_mta-sts.example.com', ['"v=STSv1; id=handmade1"']);
    const result = await publish(event('Create', props(TEXT, { ReplaceExistingRecord: 'true' })), aws);
    expect(aws.records.get('Z1/_mta-sts.example.com')).toEqual([`"${result.Data!.RecordValue}"`]);
  });

  test('puts the previous body back when announcing the new one fails, so the old id still matches what is served', async () => {
    // GIVEN
    const aws = memoryAws();
    const first = await publish(event('Create', props(TEXT)), aws);
    aws.failNext = { changeTxt: 1 };

    // WHEN / THEN
    await expect(publish(event('Update', props(ENFORCE), props(TEXT)), aws)).rejects.toThrow('injected changeTxt failure');
    expect(aws.objects.get('bucket/policies/example.com/.well-known/mta-sts.txt')).toBe(TEXT);
    expect(aws.records.get('Z1/_mta-sts.example.com')).toEqual([`"${first.Data!.RecordValue}"`]);
  });

  test('removes the new file when announcing it fails on create', async () => {
    const aws = memoryAws();
    aws.failNext = { changeTxt: 1 };
    await expect(publish(event('Create', props(TEXT)), aws)).rejects.toThrow('injected changeTxt failure');
    expect(aws.objects.size).toBe(0);
    expect(aws.records.size).toBe(0);
  });

  test('fails when ContentId is not the hash of PolicyText, before writing anything', async () => {
    const aws = memoryAws();
    await expect(publish(event('Create', props(TEXT, { ContentId: '0000000000000000' })), aws))
      .rejects.toThrow(`ContentId 0000000000000000 is not the content id of PolicyText (${contentId(TEXT)})`);
    expect(aws.calls).toEqual([]);
  });

  test('on delete removes the record first, then the file when the bucket is not retained', async () => {
    // GIVEN
    const aws = memoryAws();
    await publish(event('Create', props(TEXT, { RetainObject: 'false' })), aws);
    aws.calls.length = 0;

    // WHEN
    await publish(event('Delete', props(TEXT, { RetainObject: 'false' })), aws);

    // THEN
    expect(aws.calls).toEqual(['DELETE Z1/_mta-sts.example.com', 'delete bucket/policies/example.com/.well-known/mta-sts.txt']);
    expect(aws.records.size).toBe(0);
    expect(aws.objects.size).toBe(0);
  });

  test('on delete removes the record with the TTL it was written with, even after recordTtl changed', async () => {
    const aws = memoryAws();
    await publish(event('Create', props(TEXT, { RecordTtl: '60' })), aws);
    await publish(event('Delete', props(TEXT, { RecordTtl: '3600' })), aws);
    expect(aws.records.size).toBe(0);
  });

  test('on delete keeps the file when the bucket is retained', async () => {
    const aws = memoryAws();
    await publish(event('Create', props(TEXT)), aws);
    await publish(event('Delete', props(TEXT)), aws);
    expect(aws.records.size).toBe(0);
    expect(aws.objects.get('bucket/policies/example.com/.well-known/mta-sts.txt')).toBe(TEXT);
  });

  test('on delete leaves alone a record that is not one of its ids', async () => {
    const aws = memoryAws();
    aws.records.set('Z1/_mta-sts.example.com', ['"v=STSv1; id=handmade1"']);
    await publish(event('Delete', props(TEXT)), aws);
    expect(aws.records.get('Z1/_mta-sts.example.com')).toEqual(['"v=STSv1; id=handmade1"']);
  });

  test('a delete after a failed create touches nothing', async () => {
    const aws = memoryAws();
    aws.records.set('Z1/_mta-sts.example.com', ['"v=STSv1; id=handmade1"']);
    aws.objects.set('bucket/policies/example.com/.well-known/mta-sts.txt', 'kept');
    await publish(event('Delete', props(TEXT, { RetainObject: 'false' }), undefined, FAILED_CREATE_ID), aws);
    expect(aws.calls).toEqual([]);
    expect(aws.records.get('Z1/_mta-sts.example.com')).toEqual(['"v=STSv1; id=handmade1"']);
  });

  test('a renamed record gets a new physical id, so CloudFormation deletes the old record in cleanup', async () => {
    const aws = memoryAws();
    await publish(event('Create', props(TEXT)), aws);
    const renamed = props(TEXT, { RecordName: '_mta-sts.example.net', DomainName: 'example.net', ObjectKey: 'policies/example.net/.well-known/mta-sts.txt' });
    const result = await publish(event('Update', renamed, props(TEXT)), aws);
    expect(result.PhysicalResourceId).toBe('Z1/_mta-sts.example.net');
    // The old physical resource's Delete (cleanup) withdraws the old name.
    await publish(event('Delete', props(TEXT, { RetainObject: 'false' })), aws);
    expect([...aws.records.keys()]).toEqual(['Z1/_mta-sts.example.net']);
  });
});

describe('TXT quoting', () => {
  test.each([
    ['v=STSv1; id=abc', '"v=STSv1; id=abc"'],
    ['a"b\\c', '"a\\"b\\\\c"'],
    ['x'.repeat(300), `"${'x'.repeat(255)}" "${'x'.repeat(45)}"`],
  ])('quotes %j as Route 53 stores it and reads it back', (value, quoted) => {
    expect(quoteTxt(value)).toBe(quoted);
    expect(unquoteTxt(quoted)).toBe(value);
  });
});
