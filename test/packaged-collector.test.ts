import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ChangeResourceRecordSetsCommand, CreateHostedZoneCommand, GetChangeCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateReceiptRuleSetCommand, DescribeActiveReceiptRuleSetCommand, SESClient, SetActiveReceiptRuleSetCommand } from '@aws-sdk/client-ses';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { ACCOUNT } from './fixtures';
import { MtaStsMode } from '../src';
import { FaultProxy } from './support/aws-faults';
import { ADDRESS, CREATE_FAILED, CollectorWorld, RULE_SET, collectorWorld, logLines, metrics } from './support/collector-world';
import { DUMMY_CREDENTIALS, MOTO_MISSING, Moto, motoAvailable, startMoto } from './support/moto';
import {
  Invocation, PackagedStack, cfnEvent, functionUrlEvent, invoke, invokeConcurrently, openStack, sesReceiptEvent, startWarmHost, synthesize,
} from './support/packaged';
import { googleReport, gzipReportMessage, rfcExampleReport } from './support/tlsrpt-messages';
import { parseTlsRptReport, PolicyReport, reportObjectName, reportPartition } from '../src/core/tlsrpt-report';
import { httpsObjectName } from '../src/handlers/tlsrpt-collector/https';

// Every Lambda function of the collector, run as packaged: the asset from cdk.out, the Handler
// string from the template, aws-cdk-lib's entrypoint where there is one, the real AWS SDK against
// moto on loopback, and events as SES, a function URL and CloudFormation send them.

const BUCKET = 'tlsrpt-collector-bucket';

let world: CollectorWorld;
let moto: Moto;
let proxy: FaultProxy;
let stack: PackagedStack;
let s3: S3Client;
let ses: SESClient;

beforeAll(async () => {
  world = await collectorWorld(BUCKET);
  ({ moto, proxy, s3, ses } = world);
  // GIVEN the collector in a stack with an explicit env, synthesized as a user's app is
  stack = world.collectorStack({ httpsReception: true, policyDomains: [{ domainName: 'example.com', mode: MtaStsMode.ENFORCE }] });
});
beforeEach(() => world.reset());
afterAll(() => world?.stop());

test('every Lambda function of the collector stack is one run as packaged below', () => {
  expect(stack.functions.map(fn => [fn.logicalId.replace(/[0-9A-F]{8}$/, ''), fn.handler, fn.runtime])).toEqual([
    ['CollectorProcessor', 'index.handler', 'nodejs22.x'],
    ['CollectorHttpsProcessor', 'index.httpsHandler', 'nodejs22.x'],
    ['CustomTlsRptReceiptRuleSetActivationCustomResourceProviderHandler', '__entrypoint__.handler', 'nodejs22.x'],
  ]);
});

describe('the SES processor (index.handler)', () => {
  let counter = 0;

  /** Stores the raw message where the receipt rule's S3 action puts it, then invokes the processor with SES's event. */
  async function deliver(raw: Buffer, options: { dkim?: string; messageId?: string; endpoint?: string } = {}) {
    const messageId = options.messageId ?? `a1b2c3d4e5f6${String(++counter).padStart(4, '0')}mta0ses0message0id`;
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `raw/${messageId}`, Body: raw }));
    const fn = stack.findFunction('CollectorProcessor');
    const event = sesReceiptEvent({ raw, messageId, recipients: [ADDRESS], functionArn: fn.functionArn, dkim: options.dkim });
    const run = await invoke(fn, event, { endpoint: options.endpoint ?? moto.endpoint });
    return { messageId, run };
  }

  test('stores a report once under reports/ with where it came from, and logs its metrics as EMF lines', async () => {
    // GIVEN
    const raw = gzipReportMessage(googleReport());
    const day = today();
    // WHEN
    const { messageId, run } = await deliver(raw);
    // THEN
    expect(run.error).toBeUndefined();
    const report = policyReports(googleReport())[0];
    const key = `reports/${reportPartition(report)}${reportObjectName(report)}`;
    expect(key).toMatch(/^reports\/policy_domain=example\.com\/report_date=2024-09-03\/[0-9a-f]{32}\.json$/);
    expect(await world.keys({ raw: true })).toEqual([key, `raw/${messageId}`].sort());
    expect(await world.text(key)).toBe(`${JSON.stringify({ ...report, message_id: messageId, received_date: day, submitter: 'google.com' })}\n`);
    expect(metrics(run)).toEqual({
      'Reports{Outcome=stored}': 1,
      'SuccessfulSessions{PolicyDomain=example.com}': 42,
      'FailedSessions{PolicyDomain=example.com}': 0,
      'Reports{PolicyDomain=example.com}': 1,
      // The same counts by mode: example.com is in enforce (what the enforce alarm watches).
      'SuccessfulSessions{Mode=enforce}': 42,
      'FailedSessions{Mode=enforce}': 0,
      'Reports{Mode=enforce}': 1,
      'Messages{Outcome=accepted}': 1,
    });
    expect(logLines(run).filter(line => !line._aws)).toEqual([
      { level: 'info', messageId, outcome: 'accepted', written: [key], duplicates: [] },
    ]);
  });

  test('a redelivered message is a duplicate: neither stored nor counted again', async () => {
    // GIVEN
    const raw = gzipReportMessage(googleReport());
    const first = await deliver(raw);
    const key = (await world.keys({ raw: true })).find(k => k.startsWith('reports/'))!;
    const stored = await world.text(key);
    // WHEN SES (or Lambda's async retry) delivers the same message again
    const { run } = await deliver(raw, { messageId: first.messageId });
    // THEN
    expect(run.error).toBeUndefined();
    expect(await world.text(key)).toBe(stored);
    expect(metrics(run)).toEqual({ 'Reports{Outcome=duplicate}': 1 });
  });

  test('reports for a domain the collector was not given are kept under unconfigured/ and not counted', async () => {
    const { run } = await deliver(gzipReportMessage(rfcExampleReport(), { domain: 'company-y.example' }));
    const report = policyReports(rfcExampleReport())[0];
    expect((await world.keys({ raw: true })).filter(k => !k.startsWith('raw/'))).toEqual([`unconfigured/${reportPartition(report)}${reportObjectName(report)}`]);
    expect(metrics(run)).toEqual({ 'Reports{Outcome=unconfigured}': 1, 'Messages{Outcome=accepted}': 1 });
  });

  test('quarantines a message whose DKIM verdict is not PASS: a copy of the raw message and a note', async () => {
    // GIVEN
    const raw = gzipReportMessage(googleReport());
    const day = today();
    // WHEN
    const { messageId, run } = await deliver(raw, { dkim: 'FAIL' });
    // THEN
    expect(run.error).toBeUndefined();
    const base = `quarantine/received_date=${day}/${messageId}`;
    expect((await world.keys({ raw: true })).filter(k => !k.startsWith('raw/'))).toEqual([`${base}.eml`, `${base}.json`]);
    expect(await world.text(`${base}.eml`)).toBe(raw.toString('utf8'));
    expect(JSON.parse(await world.text(`${base}.json`))).toEqual({
      reason: 'dkim-not-pass',
      detail: 'the SES DKIM verdict is FAIL, not PASS (RFC 8460 section 3)',
      messageId,
      rawKey: `raw/${messageId}`,
      source: 'noreply-smtp-tls-reporting@google.com',
      subject: 'Report Domain: example.com Submitter: google.com Report-ID: <2024.09.03T00.00.00Z+example.com@google.com>',
      verdicts: { dkim: 'FAIL', spf: 'PASS', spam: 'PASS', virus: 'PASS' },
    });
    expect(metrics(run)).toEqual({ 'Messages{Outcome=quarantined}': 1 });
  });

  test('fails the invocation when S3 keeps failing, so that Lambda retries it', async () => {
    // GIVEN S3 answers every write with 500 InternalError
    proxy.inject({ service: 's3', operation: 'PutObject', fault: 'server-error', times: Infinity });
    // WHEN
    const { run } = await deliver(gzipReportMessage(googleReport()), { endpoint: proxy.endpoint });
    // THEN the SDK tried three times, then the invocation failed with S3's error
    expect(run.error).toMatchObject({ errorType: 'InternalError' });
    expect(proxy.requests.filter(r => r.operation === 'PutObject').map(r => r.status)).toEqual([500, 500, 500]);
    expect(metrics(run)).toEqual({});
  });

  test('stores and counts the report once when S3 throttles a write (the SDK retries it)', async () => {
    proxy.inject({ service: 's3', operation: 'PutObject', fault: 'throttle' });
    const { run } = await deliver(gzipReportMessage(googleReport()), { endpoint: proxy.endpoint });
    expect(run.error).toBeUndefined();
    expect(proxy.requests.map(r => `${r.operation} ${r.status}`)).toEqual(['GetObject 200', 'PutObject 503', 'PutObject 200']);
    expect(metrics(run)['Reports{Outcome=stored}']).toBe(1);
  });
});

describe('the HTTPS processor (index.httpsHandler)', () => {
  test('answers 201 to a gzip report POSTed to the function URL, after storing it apart (under https/, not counted)', async () => {
    // GIVEN
    const fn = stack.findFunction('CollectorHttpsProcessor');
    const event = functionUrlEvent(fn, {
      headers: { 'Content-Type': 'application/tlsrpt+gzip', 'TLS-Report-Submitter': 'mta.example.net' },
      body: gzipSync(JSON.stringify(googleReport())),
    });
    const day = today();
    // WHEN
    const run = await invoke(fn, event, { endpoint: moto.endpoint });
    // THEN
    expect(event.isBase64Encoded).toBe(true);
    expect(run.result).toEqual({ statusCode: 201, headers: { 'content-type': 'application/json' }, body: '{"stored":1,"duplicates":0}' });
    const report = policyReports(googleReport())[0];
    const key = `https/${reportPartition(report)}${httpsObjectName(report)}`;
    expect(await world.keys({ raw: true })).toEqual([key]);
    expect(JSON.parse(await world.text(key))).toEqual({
      ...report, message_id: `https-${event.requestContext.requestId}`, received_date: day, submitter: 'mta.example.net',
    });
    expect(metrics(run)).toEqual({ 'Reports{Outcome=uncounted}': 1, 'Messages{Outcome=accepted}': 1 });
  });

  test('answers 405 to a GET and keeps a note of it', async () => {
    const fn = stack.findFunction('CollectorHttpsProcessor');
    const event = functionUrlEvent(fn, { method: 'GET' });
    const run = await invoke(fn, event, { endpoint: moto.endpoint });
    expect(run.result).toMatchObject({ statusCode: 405 });
    expect(await world.keys({ raw: true })).toEqual([`rejected/received_date=${today()}/https-${event.requestContext.requestId}.json`]);
  });
});

describe('the receipt rule set activation (aws-cdk-lib entrypoint)', () => {
  const OLD_RULE_SET = 'tlsrpt-collector-rule-set-old';
  const COMPANY = 'company-inbound';
  const COLLECTOR_PATH = 'Stack/Collector';
  const activation = () => stack.findFunction('CustomTlsRptReceiptRuleSetActivation');
  const active = async () => (await ses.send(new DescribeActiveReceiptRuleSetCommand({}))).Metadata?.Name;
  /** The resource's properties as synthesized (without ServiceToken). */
  const properties = () => {
    const { ServiceToken: _token, ...rest } = stack.resolve(stack.resource('CollectorRuleSetActivation').properties) as Record<string, unknown>;
    return rest;
  };

  /** Creates the rule sets in moto, as CloudFormation (or the account's owner) did, and activates one. */
  async function given(ruleSets: string[], activeRuleSet?: string) {
    for (const name of ruleSets) {
      await ses.send(new CreateReceiptRuleSetCommand({ RuleSetName: name }));
    }
    if (activeRuleSet) {
      await ses.send(new SetActiveReceiptRuleSetCommand({ RuleSetName: activeRuleSet }));
    }
  }

  /** Sends the collector's activation resource request, as CloudFormation sends it, to the packaged function (SES through the proxy). */
  function send(requestType: 'Create' | 'Update' | 'Delete', options: { oldProperties?: Record<string, unknown>; physicalId?: string } = {}) {
    // timeScale: the activation's settle wait (5 s) takes a fiftieth of that here.
    return invoke(activation(), stack.customResourceEvent('CollectorRuleSetActivation', requestType, options), { endpoint: proxy.endpoint, timeScale: 50 });
  }

  /**
   * What the entrypoint told CloudFormation. On failure its Reason is the error's stack: the
   * first line is `Error: <message>`, then the frames.
   */
  function answer(run: Invocation) {
    expect(run.error).toBeUndefined();
    expect(run.responses).toHaveLength(1);
    const { Status, Reason, PhysicalResourceId, Data } = run.response;
    return { Status, Reason: String(Reason).split('\n')[0], PhysicalResourceId, Data };
  }

  /** The SES operations the function called, in order. */
  const sesCalls = () => proxy.requests.filter(r => r.service === 'ses').map(r => `${r.operation} ${r.status}`);

  /** The message that stops a deployment which would take over another rule set's mail. */
  const refusal = (activeRuleSet: string) => `Error: SES receipt rule set "${activeRuleSet}" is already active in this account and region, `
    + `and only one can be active: activating "${RULE_SET}" would stop all mail that "${activeRuleSet}" receives. Pass the active `
    + 'rule set to the collector instead, so that it adds its rule there: receiptRuleSet: '
    + `ses.ReceiptRuleSet.fromReceiptRuleSetName(this, 'RuleSet', '${activeRuleSet}') (TlsRptCollector at ${COLLECTOR_PATH}).`;

  test('Create activates the collector rule set when none is active, and answers SUCCESS with it as physical id', async () => {
    // GIVEN the rule set CloudFormation created, none active
    await given([RULE_SET]);
    // WHEN
    const run = await send('Create');
    // THEN
    expect(answer(run)).toEqual({ Status: 'SUCCESS', Reason: 'SUCCESS', PhysicalResourceId: RULE_SET, Data: { ActiveRuleSetName: RULE_SET } });
    expect(run.response.LogicalResourceId).toMatch(/^CollectorRuleSetActivation/);
    expect(sesCalls()).toEqual(['DescribeActiveReceiptRuleSet 200', 'SetActiveReceiptRuleSet 200', 'DescribeActiveReceiptRuleSet 200']);
    expect(await active()).toBe(RULE_SET);
  });

  test('Create does nothing to SES when the collector rule set is already active', async () => {
    // GIVEN
    await given([RULE_SET], RULE_SET);
    // WHEN
    const run = await send('Create');
    // THEN it only looked
    expect(answer(run)).toEqual({ Status: 'SUCCESS', Reason: 'SUCCESS', PhysicalResourceId: RULE_SET, Data: { ActiveRuleSetName: RULE_SET } });
    expect(sesCalls()).toEqual(['DescribeActiveReceiptRuleSet 200']);
    expect(await active()).toBe(RULE_SET);
  });

  test('fails Create when another rule set is active, leaves it active, and says what to pass instead', async () => {
    // GIVEN the account already receives mail
    await given([RULE_SET, COMPANY], COMPANY);
    // WHEN
    const run = await send('Create');
    // THEN a failed Create, with the marker that makes the entrypoint skip the Delete that follows
    expect(answer(run)).toEqual({ Status: 'FAILED', Reason: refusal(COMPANY), PhysicalResourceId: CREATE_FAILED, Data: undefined });
    expect(sesCalls()).toEqual(['DescribeActiveReceiptRuleSet 200']);
    expect(await active()).toBe(COMPANY);
  });

  test('fails Update when another rule set became active meanwhile, and keeps the physical id', async () => {
    // GIVEN the collector's rule set was activated, then someone activated theirs
    await given([RULE_SET, COMPANY], COMPANY);
    // WHEN
    const run = await send('Update', { physicalId: RULE_SET });
    // THEN
    expect(answer(run)).toEqual({ Status: 'FAILED', Reason: refusal(COMPANY), PhysicalResourceId: RULE_SET, Data: undefined });
    expect(sesCalls()).toEqual(['DescribeActiveReceiptRuleSet 200']);
    expect(await active()).toBe(COMPANY);
  });

  test('Update moves activation from its old rule set to its new one; the Delete of the old physical id then leaves it active', async () => {
    // GIVEN the collector's old rule set is active and CloudFormation created its replacement
    await given([OLD_RULE_SET, RULE_SET], OLD_RULE_SET);
    const oldProperties = { ...properties(), RuleSetName: OLD_RULE_SET };
    // WHEN
    const updated = await send('Update', { oldProperties, physicalId: OLD_RULE_SET });
    // THEN a new physical id
    expect(answer(updated)).toEqual({ Status: 'SUCCESS', Reason: 'SUCCESS', PhysicalResourceId: RULE_SET, Data: { ActiveRuleSetName: RULE_SET } });
    expect(sesCalls()).toEqual(['DescribeActiveReceiptRuleSet 200', 'SetActiveReceiptRuleSet 200', 'DescribeActiveReceiptRuleSet 200']);
    expect(await active()).toBe(RULE_SET);

    // WHEN CloudFormation, in cleanup, deletes the resource with the old physical id and old properties
    proxy.clear();
    const cleanup = cfnEvent('Delete', {
      logicalId: updated.response.LogicalResourceId,
      resourceType: stack.resource('CollectorRuleSetActivation').type,
      serviceToken: activation().functionArn,
      properties: oldProperties,
      physicalId: OLD_RULE_SET,
    });
    const deleted = await invoke(activation(), cleanup, { endpoint: proxy.endpoint });
    // THEN
    expect(answer(deleted)).toEqual({ Status: 'SUCCESS', Reason: 'SUCCESS', PhysicalResourceId: OLD_RULE_SET, Data: { ActiveRuleSetName: RULE_SET } });
    expect(sesCalls()).toEqual(['DescribeActiveReceiptRuleSet 200']);
    expect(await active()).toBe(RULE_SET);
  });

  test('Delete deactivates the collector rule set when it is the active one', async () => {
    // GIVEN
    await given([RULE_SET], RULE_SET);
    // WHEN
    const run = await send('Delete', { physicalId: RULE_SET });
    // THEN
    expect(answer(run)).toEqual({ Status: 'SUCCESS', Reason: 'SUCCESS', PhysicalResourceId: RULE_SET, Data: { ActiveRuleSetName: '' } });
    expect(sesCalls()).toEqual(['DescribeActiveReceiptRuleSet 200', 'SetActiveReceiptRuleSet 200', 'DescribeActiveReceiptRuleSet 200']);
    expect(await active()).toBeUndefined();
  });

  test('Delete leaves another active rule set alone', async () => {
    // GIVEN someone activated their rule set after the collector's
    await given([RULE_SET, COMPANY], COMPANY);
    // WHEN
    const run = await send('Delete', { physicalId: RULE_SET });
    // THEN
    expect(answer(run)).toEqual({ Status: 'SUCCESS', Reason: 'SUCCESS', PhysicalResourceId: RULE_SET, Data: { ActiveRuleSetName: COMPANY } });
    expect(sesCalls()).toEqual(['DescribeActiveReceiptRuleSet 200']);
    expect(await active()).toBe(COMPANY);
  });

  test('warm host (harness): only the invocations told to lose their answer lose it, each captures its own', async () => {
    await given([RULE_SET]);
    const warm = await startWarmHost(activation(), { endpoint: moto.endpoint });
    try {
      const events = [1, 2, 3].map(() => stack.customResourceEvent('CollectorRuleSetActivation', 'Create'));
      const lost = await warm.invoke(events[0], { loseAnswer: true });
      const delivered = await warm.invoke(events[1]);
      const lostAgain = await warm.invoke(events[2], { loseAnswer: true });
      // aws-cdk-lib's entrypoint (its external.sendHttpRequest): six attempts at SUCCESS, then six at FAILED.
      for (const run of [lost, lostAgain]) {
        expect(run.responses.map(r => [r.body.Status, r.delivered])).toEqual([...Array(6).fill(['SUCCESS', false]), ...Array(6).fill(['FAILED', false])]);
        expect(run.error?.errorMessage).toMatch(/ENOTFOUND cloudformation-custom-resource-response-useast1/);
      }
      expect(delivered.error).toBeUndefined();
      expect(delivered.responses.map(r => [r.body.Status, r.delivered])).toEqual([['SUCCESS', true]]);
      expect([lost, delivered, lostAgain].map(run => run.response.RequestId)).toEqual(events.map(event => event.RequestId));
      expect(delivered.responses[0].url).toBe(events[1].ResponseURL);
      expect(warm.sandboxes).toBe(1);
    } finally {
      await warm.stop();
    }
  });

  test('when the answer cannot reach CloudFormation, the entrypoint retries it, then tries FAILED, then the invocation fails', async () => {
    await given([RULE_SET]);
    const run = await invoke(activation(), stack.customResourceEvent('CollectorRuleSetActivation', 'Create'), { endpoint: moto.endpoint, loseAnswer: true });
    // aws-cdk-lib's entrypoint: six attempts at SUCCESS; its catch then makes six attempts at FAILED.
    expect(run.responses.map(r => [r.body.Status, r.delivered])).toEqual([...Array(6).fill(['SUCCESS', false]), ...Array(6).fill(['FAILED', false])]);
    expect(run.error?.errorMessage).toMatch(/ENOTFOUND cloudformation-custom-resource-response-useast1/);
    expect(await active()).toBe(RULE_SET);
  });
});

describe('the fault proxy, seen by real SDK clients', () => {
  const route53 = () => new Route53Client({ endpoint: proxy.endpoint, region: 'us-east-1', credentials: DUMMY_CREDENTIALS, maxAttempts: 1 });
  const txt = (name: string, value: string) => ({
    Changes: [{ Action: 'UPSERT' as const, ResourceRecordSet: { Name: name, Type: 'TXT' as const, TTL: 300, ResourceRecords: [{ Value: `"${value}"` }] } }],
  });
  async function zone(client: Route53Client): Promise<string> {
    const created = await client.send(new CreateHostedZoneCommand({ Name: 'example.com', CallerReference: `${Date.now()}` }));
    return created.HostedZone!.Id!.replace('/hostedzone/', '');
  }

  test('throttles as each service does: Route 53 and SES 400 Throttling, S3 503 SlowDown', async () => {
    // GIVEN
    const client = route53();
    const zoneId = await zone(client);
    const s3Client = new S3Client({ endpoint: proxy.endpoint, region: 'us-east-1', credentials: DUMMY_CREDENTIALS, maxAttempts: 1 });
    const sesClient = new SESClient({ endpoint: proxy.endpoint, region: 'us-east-1', credentials: DUMMY_CREDENTIALS, maxAttempts: 1 });
    proxy.inject({ service: 'route53', operation: 'ChangeResourceRecordSets', fault: 'throttle' });
    proxy.inject({ service: 's3', fault: 'throttle' });
    proxy.inject({ service: 'ses', operation: 'DescribeActiveReceiptRuleSet', fault: 'throttle' });
    // WHEN / THEN
    await expect(client.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: zoneId, ChangeBatch: txt('_mta-sts.example.com.', 'v=STSv1; id=1') })))
      .rejects.toMatchObject({ name: 'Throttling', message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } });
    await expect(s3Client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'raw/x' })))
      .rejects.toMatchObject({ name: 'SlowDown', $metadata: { httpStatusCode: 503 } });
    await expect(sesClient.send(new DescribeActiveReceiptRuleSetCommand({})))
      .rejects.toMatchObject({ name: 'Throttling', $metadata: { httpStatusCode: 400 } });
    // Each rule answered once: the next requests reach moto.
    await expect(sesClient.send(new DescribeActiveReceiptRuleSetCommand({}))).resolves.toBeDefined();
    expect(proxy.requests.map(r => [r.service, r.operation, r.status, r.fault])).toEqual([
      ['route53', 'CreateHostedZone', 201, undefined],
      ['route53', 'ChangeResourceRecordSets', 400, 'throttle'],
      ['s3', 'GetObject', 503, 'throttle'],
      ['ses', 'DescribeActiveReceiptRuleSet', 400, 'throttle'],
      ['ses', 'DescribeActiveReceiptRuleSet', 200, undefined],
    ]);
    [client, s3Client, sesClient].forEach(c => c.destroy());
  });

  test('pending: a change moto applied in sync is reported PENDING, by ChangeResourceRecordSets and GetChange', async () => {
    const client = route53();
    const zoneId = await zone(client);
    proxy.inject({ service: 'route53', operation: 'ChangeResourceRecordSets', fault: 'pending' });
    proxy.inject({ service: 'route53', operation: 'GetChange', fault: 'pending' });
    const change = await client.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: zoneId, ChangeBatch: txt('_mta-sts.example.com.', 'v=STSv1; id=2') }));
    expect(change.ChangeInfo?.Status).toBe('PENDING');
    expect((await client.send(new GetChangeCommand({ Id: change.ChangeInfo!.Id }))).ChangeInfo?.Status).toBe('PENDING');
    expect((await client.send(new GetChangeCommand({ Id: change.ChangeInfo!.Id }))).ChangeInfo?.Status).toBe('INSYNC');
    client.destroy();
  });

  test('after-forward-error: the change is applied but the client gets a 500 (a lost reply)', async () => {
    const client = route53();
    const zoneId = await zone(client);
    proxy.inject({ service: 'route53', operation: 'ChangeResourceRecordSets', fault: 'after-forward-error' });
    await expect(client.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: zoneId, ChangeBatch: txt('_mta-sts.example.com.', 'v=STSv1; id=3') })))
      .rejects.toMatchObject({ name: 'ServiceUnavailable', $metadata: { httpStatusCode: 500 } });
    const sets = await client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: '_mta-sts.example.com.', StartRecordType: 'TXT', MaxItems: 1 }));
    expect(sets.ResourceRecordSets?.[0]).toMatchObject({ Name: '_mta-sts.example.com.', ResourceRecords: [{ Value: '"v=STSv1; id=3"' }] });
    client.destroy();
  });

  test('a rate limit throttles what goes over it', async () => {
    const sesClient = new SESClient({ endpoint: proxy.endpoint, region: 'us-east-1', credentials: DUMMY_CREDENTIALS, maxAttempts: 1 });
    proxy.rateLimit('ses', 1, 2);
    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => sesClient.send(new DescribeActiveReceiptRuleSetCommand({}))));
    const throttled = outcomes.filter(o => o.status === 'rejected' && (o.reason as Error).name === 'Throttling').length;
    expect(throttled).toBeGreaterThanOrEqual(5);
    expect(outcomes.length - throttled).toBeGreaterThanOrEqual(2);
    sesClient.destroy();
  });
});

describe('the harness', () => {
  test('fails with one line saying how to install moto when it is missing', async () => {
    // GIVEN a Python interpreter without site-packages, so without moto
    const dir = mkdtempSync(join(tmpdir(), 'python-without-moto-'));
    const python = join(dir, 'python');
    writeFileSync(python, '#!/bin/sh\nexec python3 -S "$@"\n');
    chmodSync(python, 0o755);
    try {
      expect(motoAvailable(python)).toBe(false);
      expect(motoAvailable(join(dir, 'no-such-python'))).toBe(false);
      await expect(startMoto({ python })).rejects.toThrow(new Error(MOTO_MISSING));
      expect(MOTO_MISSING).toBe('moto is not installed: pip install "moto[server]"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('a function run as Lambda runs it', () => {
    let host: PackagedStack;
    beforeAll(() => {
      const app = new App();
      const hostStack = new Stack(app, 'HostStack', { env: { account: ACCOUNT, region: 'us-east-1' } });
      new lambda.Function(hostStack, 'Probe', {
        runtime: lambda.Runtime.NODEJS_22_X,
        handler: 'index.handler',
        timeout: Duration.minutes(1),
        code: lambda.Code.fromInline([
          'let invocations = 0;',
          'exports.handler = async (event, context) => {',
          '  invocations += 1;',
          '  if (event.action === "count") { console.log("invocation", invocations); return invocations; }',
          '  if (event.action === "sleep") {',
          '    const before = context.getRemainingTimeInMillis();',
          '    const started = Date.now();',
          '    await new Promise(resolve => setTimeout(resolve, event.ms));',
          '    return { before, after: context.getRemainingTimeInMillis(), realMs: Date.now() - started };',
          '  }',
          '  if (event.action === "fetch") {',
          '    return new Promise((ok, fail) => require("https").get(event.url, r => ok(r.statusCode)).on("error", fail));',
          '  }',
          '  if (event.action === "require") { require(event.module); return "loaded"; }',
          '  await new Promise(resolve => setTimeout(resolve, Math.random() * 50));',
          '  console.log("handling", event.n);',
          '  return event.n * 2;',
          '};',
        ].join('\n')),
      });
      host = openStack(synthesize(app), 'HostStack');
    });

    test('timeScale: a 60 s sleep takes 60 s of remaining time but a hundredth of the real time', async () => {
      const run = await invoke(host.findFunction('Probe'), { action: 'sleep', ms: 60_000 }, { timeScale: 100, remainingMs: 120_000 });
      // Real delays count k times too: allow 50 ms of real time before the handler runs.
      expect(run.result.before).toBeGreaterThan(115_000);
      expect(run.result.before - run.result.after).toBeGreaterThanOrEqual(59_000);
      expect(run.result.realMs).toBeGreaterThanOrEqual(590);
      expect(run.result.realMs).toBeLessThan(3_000);
    });

    test('times out at the function timeout as Lambda does', async () => {
      const run = await invoke(host.findFunction('Probe'), { action: 'sleep', ms: 10 * 60_000 }, { timeScale: 600 });
      expect(run.error).toMatchObject({ errorType: 'Sandbox.Timedout', errorMessage: expect.stringMatching(/Task timed out after 60\.00 seconds$/) });
    });

    test('reaches nothing beyond loopback, and resolves no package but the runtime\'s AWS SDK', async () => {
      const fn = host.findFunction('Probe');
      const fetched = await invoke(fn, { action: 'fetch', url: 'https://example.com/' });
      expect(fetched.error?.errorMessage).toBe('lambda-host: connection to example.com:443 refused (tests reach loopback only)');
      expect((await invoke(fn, { action: 'require', module: '@aws-sdk/client-s3' })).result).toBe('loaded');
      expect((await invoke(fn, { action: 'require', module: 'mailauth' })).error?.errorMessage).toMatch(/^Cannot find module 'mailauth'/);
    });

    test('invokeConcurrently: one sandbox, each result and log line matched to its event', async () => {
      const runs: Invocation[] = await invokeConcurrently(host.findFunction('Probe'), Array.from({ length: 20 }, (_, n) => ({ n })));
      expect(runs.map(run => run.result)).toEqual(Array.from({ length: 20 }, (_, n) => n * 2));
      runs.forEach((run, n) => expect(run.stdout).toMatch(new RegExp(`^\\S+\\t${run.requestId}\\tINFO\\thandling ${n}\\n$`)));
    });

    test('warm host: invocations one after another in one process share module state, each with its own log', async () => {
      const fn = host.findFunction('Probe');
      const warm = await startWarmHost(fn);
      try {
        const first = await warm.invoke({ action: 'count' });
        const second = await warm.invoke({ action: 'count' });
        // Asked for at once, they still run one after another, in order.
        const [third, fourth] = await Promise.all([warm.invoke({ action: 'count' }), warm.invoke({ action: 'count' })]);
        expect([first, second, third, fourth].map(run => run.result)).toEqual([1, 2, 3, 4]);
        [first, second, third, fourth].forEach((run, n) =>
          expect(run.stdout).toMatch(new RegExp(`^\\S+\\t${run.requestId}\\tINFO\\tinvocation ${n + 1}\\n$`)));
        expect(new Set([first, second, third, fourth].map(run => run.requestId)).size).toBe(4);
        expect(warm.sandboxes).toBe(1);
        // A cold sandbox each time with invoke.
        expect((await invoke(fn, { action: 'count' })).result).toBe(1);
        expect((await invoke(fn, { action: 'count' })).result).toBe(1);
      } finally {
        await warm.stop();
      }
      await expect(warm.invoke({ action: 'count' })).rejects.toThrow(/the warm host was stopped/);
    });

    test('warm host: the remaining time is each invocation\'s, counting down timeScale times faster; a timeout resets the sandbox', async () => {
      const warm = await startWarmHost(host.findFunction('Probe'), { timeScale: 100 });
      try {
        const long = await warm.invoke({ action: 'sleep', ms: 60_000 }, { remainingMs: 120_000 });
        expect(long.result.before).toBeGreaterThan(115_000);
        expect(long.result.before - long.result.after).toBeGreaterThanOrEqual(59_000);
        expect(long.result.realMs).toBeGreaterThanOrEqual(590);
        expect(long.result.realMs).toBeLessThan(3_000);
        const short = await warm.invoke({ action: 'sleep', ms: 1_000 }, { remainingMs: 30_000 });
        expect(short.result.before).toBeLessThanOrEqual(30_000);
        expect(short.result.before).toBeGreaterThan(25_000);
        // libuv starts a timer from the event loop's cached time, which can lag performance.now()
        // by a few real milliseconds under load; each real millisecond is 100 here.
        expect(short.result.before - short.result.after).toBeGreaterThanOrEqual(700);
        const byDefault = await warm.invoke({ action: 'sleep', ms: 0 });
        expect(byDefault.result.before).toBeLessThanOrEqual(60_000);
        expect(byDefault.result.before).toBeGreaterThan(55_000);
        const late = await warm.invoke({ action: 'sleep', ms: 60_000 }, { remainingMs: 5_000 });
        expect(late.error).toMatchObject({ errorType: 'Sandbox.Timedout', errorMessage: expect.stringMatching(/Task timed out after 60\.00 seconds$/) });
        expect(late.durationMs).toBeLessThan(1_000);
        expect(warm.sandboxes).toBe(1);
        // Lambda resets the environment after a timeout: the next request starts from module init.
        expect((await warm.invoke({ action: 'count' })).result).toBe(1);
        expect(warm.sandboxes).toBe(2);
      } finally {
        await warm.stop();
      }
    });

    test('warm host: its process ends with the process that started it, however that ends', async () => {
      // GIVEN a process holding a warm sandbox (lambda-host.js in server mode, as startWarmHost starts it)
      const fn = host.findFunction('Probe');
      const script = [
        'const { fork } = require("node:child_process");',
        `const child = fork(${JSON.stringify(join(__dirname, 'support', 'lambda-host.js'))}, [], `
          + `{ cwd: ${JSON.stringify(fn.assetDir)}, execArgv: [], stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });`,
        'child.on("message", m => m.type === "ready" && process.stdout.write(child.pid + "\\n"));',
        `child.send({ serve: true, handler: ${JSON.stringify(fn.handler)}, taskRoot: ${JSON.stringify(fn.assetDir)}, functionName: "f", `
          + 'functionArn: "arn", memoryMb: 128, timeoutSeconds: 3, timeScale: 1 });',
      ].join('\n');
      const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      const pid = await new Promise<number>((resolvePid, reject) => {
        let out = '';
        parent.stdout!.on('data', chunk => {
          out += chunk;
          if (out.includes('\n')) {
            resolvePid(Number(out.trim()));
          }
        });
        parent.once('exit', code => reject(new Error(`the parent exited (${code}) before its sandbox was ready`)));
      });
      expect(running(pid)).toBe(true);
      // WHEN the parent is killed: no exit hook runs
      parent.kill('SIGKILL');
      // THEN the sandbox goes too
      const deadline = Date.now() + 5_000;
      while (running(pid) && Date.now() < deadline) {
        await new Promise(resolveWait => setTimeout(resolveWait, 50));
      }
      expect(running(pid)).toBe(false);
    });
  });
});

// ---------------------------------------------------------------------------------------------

/** Whether the process runs (a zombie, exited but not yet reaped, does not). */
function running(pid: number): boolean {
  const stat = `/proc/${pid}/stat`;
  if (existsSync('/proc/self/stat')) {
    try {
      return !/^\d+ \(.*\) [ZX]/.test(readFileSync(stat, 'utf8'));
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function today(): string {
  return new Date().toISOString().slice(0, 10);
}

function policyReports(report: unknown): PolicyReport[] {
  return parseTlsRptReport(JSON.stringify(report)).report!.policies;
}
