/**
 * The publisher as deployed: the Lambda asset of a synthesized MtaSts stack, run by the
 * template's `Handler` (aws-cdk-lib's custom resource entrypoint) in its own Node.js process,
 * with the real AWS SDK talking to moto (S3 and Route 53) through a fault proxy on loopback.
 * Events are shaped as CloudFormation sends them; the answer is what the entrypoint would PUT to
 * CloudFormation's response URL.
 */
import { startFaultProxy } from './support/aws-faults';
import { CREATE_FAILED_MARKER, PublisherWorld, TIME_SCALE, policyText, publisherWorld } from './support/publisher-world';
import { contentIdOf } from '../src/core/policy-id';

const TESTING = policyText('testing');
const ENFORCE = policyText('enforce');
const KEY = 'policies/example.com/.well-known/mta-sts.txt';
const NAME = '_mta-sts.example.com';
const PHYSICAL_ID = 'mta-sts-publication:example.com';
/** An id this library announces for a policy: its content id, a UTC stamp and two base-36 characters. */
const idOf = (text: string) => new RegExp(`^${contentIdOf(text)}\\d{14}[0-9a-z]{2}$`);
const recordOf = (text: string) => expect.stringMatching(new RegExp(`^v=STSv1; id=${contentIdOf(text)}\\d{14}[0-9a-z]{2}$`));
/** Route 53 never gets in sync within the function's time. */
const NEVER_IN_SYNC = { service: 'route53', fault: 'pending', times: Infinity } as const;

let world: PublisherWorld;
let zone: string;

beforeAll(async () => {
  world = await publisherWorld();
}, 120_000);
afterAll(() => world?.stop());
beforeEach(async () => {
  await world.reset();
  zone = await world.zone('example.com');
});

const props = (text: string, extra = {}) => world.props(text, { HostedZoneId: zone, ...extra });

describe('the packaged publisher answers CloudFormation through the entrypoint', () => {
  test('Create writes the policy file, then the _mta-sts record, and answers SUCCESS with the id it announced', async () => {
    // WHEN
    const run = await world.run('Create', props(TESTING));

    // THEN
    expect(run.response).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: PHYSICAL_ID, LogicalResourceId: expect.stringMatching(/^MtaSts/) });
    const { PolicyId, RecordValue } = run.response.Data;
    expect(PolicyId).toMatch(idOf(TESTING));
    expect(RecordValue).toBe(`v=STSv1; id=${PolicyId}`);
    expect(await world.object(KEY)).toEqual({ body: TESTING, contentType: 'text/plain', cacheControl: 'no-store' });
    expect(await world.txt(zone, NAME)).toEqual({ values: [RecordValue], ttl: 300 });
    // The file is written before the record.
    const writes = world.proxy.requests.filter(r => r.operation === 'PutObject' || r.operation === 'ChangeResourceRecordSets').map(r => r.operation);
    expect(writes).toEqual(['PutObject', 'ChangeResourceRecordSets']);
  });

  test('every Update announces a new id, a rollback to a text published before included, and keeps the physical id', async () => {
    // GIVEN
    const created = await world.run('Create', props(TESTING));

    // WHEN: testing -> enforce, then the rollback's update back to testing
    const enforced = await world.run('Update', props(ENFORCE), { old: props(TESTING), physicalId: PHYSICAL_ID });
    const rolledBack = await world.run('Update', props(TESTING), { old: props(ENFORCE), physicalId: PHYSICAL_ID });

    // THEN
    const ids = [created, enforced, rolledBack].map(run => run.response.Data.PolicyId);
    expect(new Set(ids).size).toBe(3);
    expect(ids[1]).toMatch(idOf(ENFORCE));
    expect(ids[2]).toMatch(idOf(TESTING));
    expect([enforced, rolledBack].map(run => run.response.PhysicalResourceId)).toEqual([PHYSICAL_ID, PHYSICAL_ID]);
    expect((await world.object(KEY))?.body).toBe(TESTING);
    expect((await world.txt(zone, NAME))?.values).toEqual([`v=STSv1; id=${ids[2]}`]);
  });

  test('fails when ContentId is not the content id of PolicyText, writing nothing', async () => {
    // WHEN
    const run = await world.run('Create', props(TESTING, { ContentId: contentIdOf(ENFORCE) }));

    // THEN
    expect(run.response.Status).toBe('FAILED');
    expect(run.response.Reason).toContain(`ContentId ${contentIdOf(ENFORCE)} is not the content id of PolicyText (${contentIdOf(TESTING)})`);
    expect(await world.object(KEY)).toBeUndefined();
    expect(await world.txt(zone, NAME)).toBeUndefined();
  });

  test('fails when the record name holds a TXT record it did not write, changing nothing', async () => {
    // GIVEN
    await world.putTxt(zone, NAME, 'v=STSv1; id=handmade1');

    // WHEN
    const run = await world.run('Create', props(TESTING));

    // THEN
    expect(run.response.Status).toBe('FAILED');
    expect(run.response.Reason).toContain('_mta-sts.example.com already has a TXT record ("v=STSv1; id=handmade1") that this stack did not create. '
      + 'Delete it, or set `replaceExistingRecords: true` to let the construct replace it.');
    expect(run.response.PhysicalResourceId).toBe(CREATE_FAILED_MARKER);
    expect(await world.object(KEY)).toBeUndefined();
    expect((await world.txt(zone, NAME))?.values).toEqual(['v=STSv1; id=handmade1']);
  });

  test('replaces a record it did not write when ReplaceExistingRecord is true', async () => {
    // GIVEN
    await world.putTxt(zone, NAME, 'v=STSv1; id=handmade1');

    // WHEN
    const run = await world.run('Create', props(TESTING, { ReplaceExistingRecord: 'true' }));

    // THEN
    expect(run.response.Status).toBe('SUCCESS');
    expect((await world.txt(zone, NAME))?.values).toEqual([recordOf(TESTING)]);
  });
});

describe('every failure leaves a state that the next CloudFormation step repairs', () => {
  test('a Create that fails once Route 53 accepted its record removes the record and the file, since CloudFormation sends no Delete after it', async () => {
    // GIVEN: Route 53 accepts the change but never reports it in sync
    world.proxy.inject(NEVER_IN_SYNC);

    // WHEN
    const run = await world.run('Create', props(TESTING), { remainingMs: 120_000 });

    // THEN: the entrypoint answers FAILED with its marker, whose Delete it skips...
    expect(run.response.Status).toBe('FAILED');
    expect(run.response.Reason).toContain('was accepted but not yet in sync when the handler had to answer');
    expect(run.response.PhysicalResourceId).toBe(CREATE_FAILED_MARKER);
    // ...so nothing the Create wrote outlives it.
    expect(await world.txt(zone, NAME)).toBeUndefined();
    expect(await world.object(KEY)).toBeUndefined();
    world.proxy.clear();
    const skipped = await world.run('Delete', props(TESTING), { physicalId: CREATE_FAILED_MARKER });
    expect(skipped.response.Status).toBe('SUCCESS');
    expect(world.proxy.requests).toEqual([]);
  });

  test('an Update that fails once Route 53 accepted its record keeps the new file under the new id, and the rollback publishes the old one under a fresh id', async () => {
    // GIVEN
    const created = await world.run('Create', props(TESTING));
    world.proxy.inject(NEVER_IN_SYNC);

    // WHEN
    const failed = await world.run('Update', props(ENFORCE), { old: props(TESTING), physicalId: PHYSICAL_ID, remainingMs: 120_000 });

    // THEN: the announced id describes what is served (the old file is not put back under it)
    expect(failed.response).toMatchObject({ Status: 'FAILED', PhysicalResourceId: PHYSICAL_ID });
    expect((await world.object(KEY))?.body).toBe(ENFORCE);
    expect((await world.txt(zone, NAME))?.values).toEqual([recordOf(ENFORCE)]);

    // WHEN: CloudFormation rolls back
    world.proxy.clear();
    const rollback = await world.run('Update', props(TESTING), { old: props(ENFORCE), physicalId: PHYSICAL_ID });

    // THEN
    expect(rollback.response.Status).toBe('SUCCESS');
    expect(rollback.response.Data.PolicyId).not.toBe(created.response.Data.PolicyId);
    expect((await world.object(KEY))?.body).toBe(TESTING);
    expect((await world.txt(zone, NAME))?.values).toEqual([`v=STSv1; id=${rollback.response.Data.PolicyId}`]);
  });

  test('an Update whose record change Route 53 never accepted puts the old file back, so the old id still describes it', async () => {
    // GIVEN
    const created = await world.run('Create', props(TESTING));
    world.proxy.inject({ service: 'route53', operation: 'ChangeResourceRecordSets', fault: 'server-error', times: Infinity });

    // WHEN
    const failed = await world.run('Update', props(ENFORCE), { old: props(TESTING), physicalId: PHYSICAL_ID, remainingMs: 120_000 });

    // THEN
    expect(failed.response.Status).toBe('FAILED');
    expect((await world.object(KEY))?.body).toBe(TESTING);
    expect((await world.txt(zone, NAME))?.values).toEqual([created.response.Data.RecordValue]);
  });

  test('an Update whose answer from Route 53 was lost after the change was applied keeps the new file under the new id', async () => {
    // GIVEN: every change is applied by Route 53, and every answer lost
    await world.run('Create', props(TESTING));
    world.proxy.inject({ service: 'route53', operation: 'ChangeResourceRecordSets', fault: 'after-forward-error', times: Infinity });

    // WHEN
    const failed = await world.run('Update', props(ENFORCE), { old: props(TESTING), physicalId: PHYSICAL_ID, remainingMs: 120_000 });

    // THEN
    expect(failed.response.Status).toBe('FAILED');
    expect((await world.object(KEY))?.body).toBe(ENFORCE);
    expect((await world.txt(zone, NAME))?.values).toEqual([recordOf(ENFORCE)]);
  });

  test('a Create whose answer from Route 53 was lost after the change was applied removes its record and file', async () => {
    // GIVEN
    world.proxy.inject({ service: 'route53', operation: 'ChangeResourceRecordSets', fault: 'after-forward-error', times: Infinity });

    // WHEN
    const failed = await world.run('Create', props(TESTING), { remainingMs: 120_000 });

    // THEN
    expect(failed.response).toMatchObject({ Status: 'FAILED', PhysicalResourceId: CREATE_FAILED_MARKER });
    world.proxy.clear();
    expect(await world.txt(zone, NAME)).toBeUndefined();
    expect(await world.object(KEY)).toBeUndefined();
  });

  test('a Create whose answer to CloudFormation was lost succeeds when Lambda retries it, taking over the record the first run wrote', async () => {
    // GIVEN: the first run publishes, but its answer never reaches CloudFormation
    const event = world.event('Create', props(TESTING));
    const first = await world.run('Create', props(TESTING), { event, loseAnswer: true });
    expect(first.responses.every(attempt => !attempt.delivered)).toBe(true);
    expect(first.error).toBeDefined();
    expect((await world.txt(zone, NAME))?.values).toEqual([recordOf(TESTING)]);

    // WHEN: Lambda retries the same event
    const retry = await world.run('Create', props(TESTING), { event });

    // THEN
    expect(retry.response).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: PHYSICAL_ID });
    expect((await world.txt(zone, NAME))?.values).toEqual([retry.response.Data.RecordValue]);
    expect((await world.object(KEY))?.body).toBe(TESTING);
  });

  test('a Create of a file that cannot be written fails before announcing anything', async () => {
    // GIVEN
    world.proxy.inject({ service: 's3', operation: 'PutObject', fault: 'server-error', times: Infinity });

    // WHEN
    const run = await world.run('Create', props(TESTING), { remainingMs: 90_000 });

    // THEN
    expect(run.response.Status).toBe('FAILED');
    expect(world.proxy.requests.filter(r => r.operation === 'ChangeResourceRecordSets')).toEqual([]);
    expect(await world.txt(zone, NAME)).toBeUndefined();
  });
});

describe('a publication follows its domain to a new zone or record name without being replaced', () => {
  test('a new hosted zone is an Update of the same publication: the new record is written, the old one withdrawn, the file kept', async () => {
    // GIVEN: the zone is re-created (a new id)
    await world.run('Create', props(TESTING));
    const newZone = await world.zone('example.com.');
    expect(newZone).not.toBe(zone);

    // WHEN
    const moved = await world.run('Update', props(TESTING, { HostedZoneId: newZone }), { old: props(TESTING), physicalId: PHYSICAL_ID });

    // THEN
    expect(moved.response).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: PHYSICAL_ID });
    expect((await world.txt(newZone, NAME))?.values).toEqual([moved.response.Data.RecordValue]);
    expect(await world.txt(zone, NAME)).toBeUndefined();
    expect((await world.object(KEY))?.body).toBe(TESTING);
  });

  test('switching delegation on moves the record into the mta-sts zone, and switching it off moves it back', async () => {
    // GIVEN
    await world.run('Create', props(TESTING));
    const delegated = await world.zone('mta-sts.example.com');
    const inDelegated = props(TESTING, { HostedZoneId: delegated, RecordName: '_mta-sts.mta-sts.example.com' });

    // WHEN: on
    const on = await world.run('Update', inDelegated, { old: props(TESTING), physicalId: PHYSICAL_ID });

    // THEN
    expect(on.response.Status).toBe('SUCCESS');
    expect((await world.txt(delegated, '_mta-sts.mta-sts.example.com'))?.values).toEqual([on.response.Data.RecordValue]);
    expect(await world.txt(zone, NAME)).toBeUndefined();

    // WHEN: off
    const off = await world.run('Update', props(TESTING), { old: inDelegated, physicalId: PHYSICAL_ID });

    // THEN
    expect(off.response.Status).toBe('SUCCESS');
    expect((await world.txt(zone, NAME))?.values).toEqual([off.response.Data.RecordValue]);
    expect(await world.txt(delegated, '_mta-sts.mta-sts.example.com')).toBeUndefined();
    expect((await world.object(KEY))?.body).toBe(TESTING);
  });

  test('fails when the new record name holds a record it did not write, leaving the old record and file', async () => {
    // GIVEN
    const created = await world.run('Create', props(TESTING));
    const delegated = await world.zone('mta-sts.example.com');
    await world.putTxt(delegated, '_mta-sts.mta-sts.example.com', 'v=STSv1; id=handmade1');

    // WHEN
    const run = await world.run('Update', props(TESTING, { HostedZoneId: delegated, RecordName: '_mta-sts.mta-sts.example.com' }),
      { old: props(TESTING), physicalId: PHYSICAL_ID });

    // THEN
    expect(run.response.Status).toBe('FAILED');
    expect((await world.txt(zone, NAME))?.values).toEqual([created.response.Data.RecordValue]);
    expect((await world.txt(delegated, '_mta-sts.mta-sts.example.com'))?.values).toEqual(['v=STSv1; id=handmade1']);
    expect((await world.object(KEY))?.body).toBe(TESTING);
  });
});

describe('Delete', () => {
  test('removes the record, then the file when the bucket is not retained', async () => {
    // GIVEN
    await world.run('Create', props(TESTING, { RetainObject: 'false' }));
    world.proxy.clear();

    // WHEN
    const run = await world.run('Delete', props(TESTING, { RetainObject: 'false' }), { physicalId: PHYSICAL_ID });

    // THEN
    expect(run.response).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: PHYSICAL_ID });
    expect(await world.txt(zone, NAME)).toBeUndefined();
    expect(await world.object(KEY)).toBeUndefined();
    const writes = world.proxy.requests.filter(r => r.operation === 'DeleteObject' || r.operation === 'ChangeResourceRecordSets').map(r => r.operation);
    expect(writes).toEqual(['ChangeResourceRecordSets', 'DeleteObject']);
  });

  test('keeps the file when the bucket is retained', async () => {
    // GIVEN
    await world.run('Create', props(TESTING));

    // WHEN
    const run = await world.run('Delete', props(TESTING), { physicalId: PHYSICAL_ID });

    // THEN
    expect(run.response.Status).toBe('SUCCESS');
    expect(await world.txt(zone, NAME)).toBeUndefined();
    expect((await world.object(KEY))?.body).toBe(TESTING);
  });

  test('leaves alone a record that is not one of its ids', async () => {
    // GIVEN
    await world.putTxt(zone, NAME, 'v=STSv1; id=handmade1');

    // WHEN
    const run = await world.run('Delete', props(TESTING, { RetainObject: 'false' }), { physicalId: PHYSICAL_ID });

    // THEN
    expect(run.response.Status).toBe('SUCCESS');
    expect((await world.txt(zone, NAME))?.values).toEqual(['v=STSv1; id=handmade1']);
  });

  test('succeeds when the hosted zone, the bucket and the file are already gone', async () => {
    // GIVEN: a zone id and a bucket that do not exist
    const gone = props(TESTING, { HostedZoneId: 'Z0000000000000GONE', BucketName: 'bucket-that-is-gone', RetainObject: 'false' });

    // WHEN
    const run = await world.run('Delete', gone, { physicalId: PHYSICAL_ID });

    // THEN
    expect(run.response).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: PHYSICAL_ID });
  });

  test('succeeds when the record and the file are already gone', async () => {
    // WHEN
    const run = await world.run('Delete', props(TESTING, { RetainObject: 'false' }), { physicalId: PHYSICAL_ID });

    // THEN
    expect(run.response.Status).toBe('SUCCESS');
  });
});

describe('throttling, server errors and Route 53 propagation', () => {
  test('retries S3 SlowDown and Route 53 Throttling and server errors until they pass', async () => {
    // GIVEN
    world.proxy.inject({ service: 's3', operation: 'PutObject', fault: 'throttle', times: 4 });
    world.proxy.inject({ service: 'route53', operation: 'ListResourceRecordSets', fault: 'throttle', times: 4 });
    world.proxy.inject({ service: 'route53', operation: 'ChangeResourceRecordSets', fault: 'server-error', times: 4 });

    // WHEN
    const run = await world.run('Create', props(TESTING));

    // THEN
    expect(run.response.Status).toBe('SUCCESS');
    expect(world.proxy.requests.filter(r => r.fault !== undefined)).toHaveLength(12);
    expect((await world.txt(zone, NAME))?.values).toEqual([run.response.Data.RecordValue]);
  });

  test('polls a pending change every 10 to 15 seconds until Route 53 has it in sync', async () => {
    // GIVEN: the change and its first three polls are pending
    world.proxy.inject({ service: 'route53', operation: 'ChangeResourceRecordSets', fault: 'pending' });
    world.proxy.inject({ service: 'route53', operation: 'GetChange', fault: 'pending', times: 3 });

    // WHEN
    const run = await world.run('Create', props(TESTING));

    // THEN
    expect(run.response.Status).toBe('SUCCESS');
    const times = world.proxy.requests.filter(r => r.operation === 'ChangeResourceRecordSets' || r.operation === 'GetChange').map(r => r.at);
    expect(times).toHaveLength(5);
    // In the function's time (TIME_SCALE times the real one), with some slack for process scheduling.
    const gaps = times.slice(1).map((at, i) => (at - times[i]) * TIME_SCALE / 1000);
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(9.5);
      expect(gap).toBeLessThan(25);
    }
  });

  test('answers before its timeout when Route 53 never gets in sync', async () => {
    // GIVEN
    await world.run('Create', props(TESTING));
    world.proxy.inject(NEVER_IN_SYNC);

    // WHEN: the function's 600 s, run 200 times faster
    const run = await world.run('Update', props(ENFORCE), { old: props(TESTING), physicalId: PHYSICAL_ID, timeScale: 200 });

    // THEN: an answer, not a timeout
    expect(run.error).toBeUndefined();
    expect(run.response.Status).toBe('FAILED');
    expect(run.durationMs * 200).toBeLessThan(600_000);
  });

  test('100 publications at once with Route 53 throttled to 5 requests a second all succeed', async () => {
    // GIVEN: 100 domains of one zone; every change pending at first, as Route 53 answers
    const domains = Array.from({ length: 100 }, (_, i) => `d${i}.example.com`);
    // (At a smaller time scale than the other tests: the harness's own time, multiplied by the
    // scale, must stay small beside the waits the limit causes.)
    const timeScale = 10;
    const proxy = await startFaultProxy(world.moto.endpoint, { timeScale });
    proxy.inject({ service: 'route53', operation: 'ChangeResourceRecordSets', fault: 'pending', times: Infinity });
    proxy.rateLimit('route53', 5);

    // WHEN
    const runs = await world.runConcurrently(domains.map(domain => props(TESTING, {
      DomainName: domain, ObjectKey: `policies/${domain}/.well-known/mta-sts.txt`, RecordName: `_mta-sts.${domain}`,
    })), { endpoint: proxy.endpoint, timeScale }).finally(() => proxy.stop());

    // THEN
    expect(runs.map(run => run.response?.Status)).toEqual(domains.map(() => 'SUCCESS'));
    // Most requests were throttled, and every publication waited for its change.
    const route53 = proxy.requests.filter(r => r.service === 'route53');
    expect(route53.filter(r => r.fault === 'throttle').length).toBeGreaterThan(route53.length / 2);
    expect(route53.filter(r => r.operation === 'GetChange' && r.fault === undefined)).toHaveLength(100);
    for (const domain of domains) {
      expect((await world.txt(zone, `_mta-sts.${domain}`))?.values).toEqual([recordOf(TESTING)]);
    }
  }, 300_000);
});
