import { gzipSync } from 'node:zlib';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateReceiptRuleSetCommand, DescribeActiveReceiptRuleSetCommand, SESClient, SetActiveReceiptRuleSetCommand } from '@aws-sdk/client-ses';
import { Size } from 'aws-cdk-lib';
import { MtaStsMode, TlsRptCollectorProps } from '../src';
import { FaultProxy } from './support/aws-faults';
import { ADDRESS, CREATE_FAILED, CollectorWorld, RULE_SET, collectorWorld, metrics } from './support/collector-world';
import { Moto } from './support/moto';
import {
  Invocation, PackagedFunction, PackagedStack, cfnEvent, functionUrlEvent, invoke, invokeConcurrently, sesReceiptEvent,
} from './support/packaged';
import { gzipReportMessage } from './support/tlsrpt-messages';
import { RESULT_TYPES, parseTlsRptReport, reportObjectName, reportPartition } from '../src/core/tlsrpt-report';

// The collector's hostile-input and race hardening, run as packaged: the assets from cdk.out,
// the Handler strings from the template, aws-cdk-lib's entrypoint for the custom resource, the
// real AWS SDK against moto on loopback (through the fault proxy where a fault or the order of
// calls matters), and events as a function URL, SES and CloudFormation send them.

const BUCKET = 'tlsrpt-hardening-bucket';
const OTHER_RULE_SET = 'second-collector-rule-set';
const COMPANY = 'company-inbound';

let world: CollectorWorld;
let moto: Moto;
let proxy: FaultProxy;
let s3: S3Client;
let ses: SESClient;
/** HTTPS reports kept apart (the default). */
let uncounted: PackagedStack;
/** HTTPS reports counted (`countHttpsReports: true`). */
let counted: PackagedStack;

function collectorStack(props: Partial<TlsRptCollectorProps>): PackagedStack {
  return world.collectorStack({
    httpsReception: true,
    policyDomains: [{ domainName: 'example.com', mode: MtaStsMode.ENFORCE }],
    maxMessageSize: Size.mebibytes(1),
    maxReportSize: Size.mebibytes(1),
    ...props,
  });
}

beforeAll(async () => {
  world = await collectorWorld(BUCKET);
  ({ moto, proxy, s3, ses } = world);
  uncounted = collectorStack({});
  counted = collectorStack({ countHttpsReports: true });
});
beforeEach(() => world.reset());
afterAll(() => world?.stop());

// ---------------------------------------------------------------------------------------------
// Reports and deliveries.

/** A UTC day before today, `yyyy-MM-dd`. */
function daysAgo(days: number): string {
  return new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10);
}

/** Google's daily report for example.com, yesterday (its report id is predictable: the day and the domain). */
function googleReport(options: { day?: string; successful?: number; failureDetails?: unknown[]; failed?: number } = {}): Record<string, unknown> {
  const day = options.day ?? daysAgo(1);
  return {
    'organization-name': 'Google LLC',
    'date-range': { 'start-datetime': `${day}T00:00:00Z`, 'end-datetime': `${day}T23:59:59Z` },
    'contact-info': 'smtp-tls-reporting@google.com',
    'report-id': `${day}T00:00:00Z_example.com`,
    'policies': [{
      policy: {
        'policy-type': 'sts',
        'policy-string': ['version: STSv1', 'mode: enforce', 'mx: mx1.example.com', 'max_age: 604800'],
        'policy-domain': 'example.com',
        'mx-host': ['mx1.example.com'],
      },
      summary: { 'total-successful-session-count': options.successful ?? 42, 'total-failure-session-count': options.failed ?? 0 },
      ...(options.failureDetails ? { 'failure-details': options.failureDetails } : {}),
    }],
  };
}

/** POSTs a report to the stack's HTTPS function as a function URL passes it. */
async function postReport(stack: PackagedStack, body: Buffer, contentType = 'application/tlsrpt+gzip') {
  const fn = stack.findFunction('CollectorHttpsProcessor');
  const event = functionUrlEvent(fn, { headers: { 'Content-Type': contentType }, body, sourceIp: '203.0.113.66' });
  const run = await invoke(fn, event, { endpoint: moto.endpoint });
  expect(run.error).toBeUndefined();
  return { run, requestId: event.requestContext.requestId as string, status: run.result.statusCode as number, body: JSON.parse(run.result.body) };
}

let messages = 0;

/** Stores the raw message where the receipt rule's S3 action puts it, then invokes the processor with SES's event. */
async function deliverByMail(stack: PackagedStack, report: unknown) {
  const raw = gzipReportMessage(report);
  const messageId = `hardening${String(++messages).padStart(6, '0')}0ses0message0id0000`;
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `raw/${messageId}`, Body: raw }));
  const fn = stack.findFunction('CollectorProcessor');
  const run = await invoke(fn, sesReceiptEvent({ raw, messageId, recipients: [ADDRESS], functionArn: fn.functionArn }), { endpoint: moto.endpoint });
  expect(run.error).toBeUndefined();
  return { run, messageId };
}


async function json(key: string): Promise<any> {
  return JSON.parse(await world.text(key));
}

/** Whether any metric counts sessions (what the alarm and the dashboard read). */
function sessionMetrics(values: Record<string, number>): string[] {
  return Object.keys(values).filter(name => name.startsWith('SuccessfulSessions') || name.startsWith('FailedSessions'));
}

// ---------------------------------------------------------------------------------------------

describe('HTTPS reception, by default: stored apart, never counted', () => {
  test('a forged POST with a genuine report\'s id, then the genuine DKIM-signed mail report: both are stored, only the mail report is counted', async () => {
    // GIVEN a forger POSTs Google's next report (its id is predictable) with 1,000,000 successful sessions
    const forged = await postReport(uncounted, gzipSync(JSON.stringify(googleReport({ successful: 1_000_000 }))));
    // WHEN Google's DKIM-signed report arrives by mail
    const genuine = await deliverByMail(uncounted, googleReport());
    // THEN
    expect(forged.status).toBe(201);
    const mailReport = parseTlsRptReport(JSON.stringify(googleReport())).report!.policies[0];
    const mailKey = `reports/${reportPartition(mailReport)}${reportObjectName(mailReport)}`;
    const stored = await world.keys();
    expect(stored).toEqual([
      expect.stringMatching(new RegExp(`^https/policy_domain=example\\.com/report_date=${daysAgo(1)}/https-[0-9a-f]{32}\\.json$`)),
      mailKey,
    ]);
    expect((await json(stored[0])).total_successful_session_count).toBe(1_000_000);
    expect(await json(mailKey)).toMatchObject({ total_successful_session_count: 42, message_id: genuine.messageId });
    expect(metrics(forged.run)).toEqual({ 'Reports{Outcome=uncounted}': 1, 'Messages{Outcome=accepted}': 1 });
    expect(metrics(genuine.run)).toMatchObject({
      'Reports{Outcome=stored}': 1,
      'SuccessfulSessions{PolicyDomain=example.com}': 42,
      'FailedSessions{PolicyDomain=example.com}': 0,
    });
  });

  test('100 forged POSTs dated 2031 are answered 400 and add nothing but a small note each', async () => {
    // GIVEN
    const fn = uncounted.findFunction('CollectorHttpsProcessor');
    const body = gzipSync(JSON.stringify(googleReport({ day: '2031-01-01', successful: 5326 })));
    const events = Array.from({ length: 100 }, () => functionUrlEvent(fn, { headers: { 'Content-Type': 'application/tlsrpt+gzip' }, body }));
    // WHEN
    const runs = await invokeConcurrently(fn, events, { endpoint: moto.endpoint });
    // THEN
    expect(runs.map(run => run.result?.statusCode)).toEqual(Array(100).fill(400));
    expect(JSON.parse(runs[0].result.body).error).toBe('implausible-date-range');
    const day = new Date().toISOString().slice(0, 10);
    expect(await world.keys()).toEqual(events.map(event => `rejected/received_date=${day}/https-${event.requestContext.requestId}.json`).sort());
    expect(metrics(...runs)).toEqual({ 'Messages{Outcome=rejected}': 100 });
  });

  test.each([
    ['ending before it starts', { 'start-datetime': `${daysAgo(1)}T00:00:00Z`, 'end-datetime': `${daysAgo(2)}T00:00:00Z` }],
    ['covering a month', { 'start-datetime': `${daysAgo(31)}T00:00:00Z`, 'end-datetime': `${daysAgo(1)}T00:00:00Z` }],
  ])('a POST with a date range %s is answered 400 and stored nowhere', async (_, range) => {
    const posted = await postReport(uncounted, gzipSync(JSON.stringify({ ...googleReport(), 'date-range': range })));
    expect(posted.status).toBe(400);
    expect(posted.body.error).toBe('implausible-date-range');
    expect((await world.keys()).every(key => key.startsWith('rejected/'))).toBe(true);
  });

  test('an oversized POST and a decompression bomb are answered 413, and their bodies are not stored', async () => {
    // WHEN
    const oversized = await postReport(uncounted, Buffer.alloc(Size.mebibytes(1).toBytes() + 1, 0x20), 'application/tlsrpt+json');
    const bomb = await postReport(uncounted, gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20)));
    // THEN
    expect([oversized.status, oversized.body.error, bomb.status, bomb.body.error]).toEqual([413, 'message-too-large', 413, 'report-too-large']);
    const day = new Date().toISOString().slice(0, 10);
    expect(await world.keys()).toEqual([`rejected/received_date=${day}/https-${oversized.requestId}.json`, `rejected/received_date=${day}/https-${bomb.requestId}.json`].sort());
    expect(await json(`rejected/received_date=${day}/https-${oversized.requestId}.json`)).toEqual({
      reason: 'message-too-large',
      detail: 'the body is 1048577 bytes, more than 1048576',
      messageId: `https-${oversized.requestId}`,
      contentType: 'application/tlsrpt+json',
      bytes: 1048577,
      sourceIp: '203.0.113.66',
      userAgent: 'tlsrpt-sender/1.0',
      submitter: null,
    });
  });

  test('a POST with 5,000 invented result types is stored apart and creates no metric of them', async () => {
    // GIVEN
    const failureDetails = Array.from({ length: 5000 }, (_, n) => ({ 'result-type': `invented-${n}`, 'failed-session-count': 1 }));
    // WHEN
    const posted = await postReport(uncounted, gzipSync(JSON.stringify(googleReport({ failureDetails, failed: 5000 }))));
    // THEN
    expect(posted.status).toBe(201);
    expect(metrics(posted.run)).toEqual({ 'Reports{Outcome=uncounted}': 1, 'Messages{Outcome=accepted}': 1 });
  });

  test('a report nested 100,000 levels deep is answered 400, not a failed invocation (502)', async () => {
    const deep = Buffer.from(`{"report-id":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    const posted = await postReport(uncounted, deep, 'application/tlsrpt+json');
    expect(posted.status).toBe(400);
    expect(await world.keys()).toEqual([`rejected/received_date=${new Date().toISOString().slice(0, 10)}/https-${posted.requestId}.json`]);
  });
});

describe('HTTPS reception with countHttpsReports', () => {
  test('a forged POST, then the genuine mail report: both are stored and counted, and the POST did not displace the mail report', async () => {
    // WHEN
    const forged = await postReport(counted, gzipSync(JSON.stringify(googleReport({ successful: 1_000_000 }))));
    const genuine = await deliverByMail(counted, googleReport());
    // THEN
    const mailReport = parseTlsRptReport(JSON.stringify(googleReport())).report!.policies[0];
    const partition = `reports/${reportPartition(mailReport)}`;
    expect(await world.keys()).toEqual([
      `${partition}${reportObjectName(mailReport)}`,
      expect.stringMatching(new RegExp(`^${partition}https-[0-9a-f]{32}\\.json$`)),
    ].sort((a, b) => String(a).localeCompare(String(b))));
    expect(metrics(forged.run)['SuccessfulSessions{PolicyDomain=example.com}']).toBe(1_000_000);
    expect(metrics(genuine.run)['SuccessfulSessions{PolicyDomain=example.com}']).toBe(42);
    expect(metrics(genuine.run)['Reports{Outcome=duplicate}']).toBeUndefined();
  });

  test('a POST with 5,000 invented result types makes one ResultType metric, other, and no more failures than the summary', async () => {
    // GIVEN
    const failureDetails = Array.from({ length: 5000 }, (_, n) => ({ 'result-type': `invented-${n}`, 'failed-session-count': 1 }));
    // WHEN
    const posted = await postReport(counted, gzipSync(JSON.stringify(googleReport({ failureDetails, failed: 5000 }))));
    // THEN
    expect(posted.status).toBe(201);
    const values = metrics(posted.run);
    const byType = Object.keys(values).filter(name => name.includes('ResultType='));
    expect(byType).toEqual(['FailedSessions{PolicyDomain=example.com,ResultType=other}']);
    expect(values[byType[0]]).toBe(5000);
    expect([...RESULT_TYPES, 'other']).toContain('other');
  });

  test('future-dated POSTs are rejected all the same: nothing stored, nothing counted', async () => {
    const posted = await postReport(counted, gzipSync(JSON.stringify(googleReport({ day: '2031-01-01', successful: 5326 }))));
    expect(posted.status).toBe(400);
    expect(sessionMetrics(metrics(posted.run))).toEqual([]);
    expect((await world.keys()).every(key => key.startsWith('rejected/'))).toBe(true);
  });
});

describe('receipt rule set activation: two activations at once (moto SES behind the fault proxy)', () => {
  const activation = () => uncounted.findFunction('CustomTlsRptReceiptRuleSetActivation');
  const active = async () => (await ses.send(new DescribeActiveReceiptRuleSetCommand({}))).Metadata?.Name;
  const sesCalls = () => proxy.requests.filter(r => r.service === 'ses').map(r => `${r.operation} ${r.status}`);

  async function given(ruleSets: string[], activeRuleSet?: string) {
    for (const name of ruleSets) {
      await ses.send(new CreateReceiptRuleSetCommand({ RuleSetName: name }));
    }
    if (activeRuleSet) {
      await ses.send(new SetActiveReceiptRuleSetCommand({ RuleSetName: activeRuleSet }));
    }
  }

  /** The Create request of a collector's activation resource (the stack's own, or a second collector's). */
  function createEvent(fn: PackagedFunction, ruleSetName: string, collectorPath: string, logicalId: string) {
    return cfnEvent('Create', {
      logicalId,
      resourceType: 'Custom::TlsRptReceiptRuleSetActivation',
      serviceToken: fn.functionArn,
      properties: { RuleSetName: ruleSetName, CollectorPath: collectorPath },
    });
  }

  function answer(run: Invocation) {
    expect(run.error).toBeUndefined();
    const { Status, Reason, PhysicalResourceId, Data } = run.response;
    return { Status, Reason: String(Reason).split('\n')[0], PhysicalResourceId, Data };
  }

  test('of two activations that both found no rule set active, exactly one succeeds and the other fails naming the winner', async () => {
    // GIVEN two collectors' rule sets, none active
    await given([RULE_SET, OTHER_RULE_SET]);
    const fn = activation();
    const events = [
      uncounted.customResourceEvent('CollectorRuleSetActivation', 'Create'),
      createEvent(fn, OTHER_RULE_SET, 'Second/Collector', 'CollectorRuleSetActivationSecond'),
    ];
    // WHEN CloudFormation creates both activation resources at once
    const runs = await invokeConcurrently(fn, events, { endpoint: proxy.endpoint, timeScale: 50 });
    // THEN both read "none active" before either wrote: the race the re-read must catch
    expect(sesCalls().slice(0, 2)).toEqual(['DescribeActiveReceiptRuleSet 200', 'DescribeActiveReceiptRuleSet 200']);
    const winner = await active();
    expect([RULE_SET, OTHER_RULE_SET]).toContain(winner);
    const answers = runs.map(answer);
    expect(answers.map(a => a.Status).sort()).toEqual(['FAILED', 'SUCCESS']);
    const lost = answers.find(a => a.Status === 'FAILED')!;
    const loser = winner === RULE_SET ? OTHER_RULE_SET : RULE_SET;
    expect(lost).toEqual({
      Status: 'FAILED',
      Reason: `Error: SES receipt rule set "${loser}" did not stay active: "${winner}" is active now, set by another deployment or `
        + 'person while this one activated its own. Only one rule set can be active per account and region: deploy one collector '
        + `at a time, and give the others the active rule set (receiptRuleSet) (TlsRptCollector at ${loser === RULE_SET ? 'Stack/Collector' : 'Second/Collector'}).`,
      PhysicalResourceId: CREATE_FAILED,
      Data: undefined,
    });
    expect(answers.find(a => a.Status === 'SUCCESS')).toEqual({
      Status: 'SUCCESS', Reason: 'SUCCESS', PhysicalResourceId: winner, Data: { ActiveRuleSetName: winner },
    });

    // WHEN CloudFormation rolls back the loser (its Delete carries the CREATE_FAILED marker)
    proxy.clear();
    const rollback = cfnEvent('Delete', {
      logicalId: events[winner === RULE_SET ? 1 : 0].LogicalResourceId,
      resourceType: 'Custom::TlsRptReceiptRuleSetActivation',
      serviceToken: fn.functionArn,
      properties: { RuleSetName: loser },
      physicalId: CREATE_FAILED,
    });
    const deleted = await invoke(fn, rollback, { endpoint: proxy.endpoint });
    // THEN the winner stays active
    expect(answer(deleted).Status).toBe('SUCCESS');
    expect(sesCalls()).toEqual([]);
    expect(await active()).toBe(winner);
  });

  test('Create reads again instead of repeating a SetActiveReceiptRuleSet whose answer was lost', async () => {
    // GIVEN SES applies the activation but its answer is lost
    await given([RULE_SET]);
    proxy.inject({ service: 'ses', operation: 'SetActiveReceiptRuleSet', fault: 'after-forward-error' });
    // WHEN
    const run = await invoke(activation(), uncounted.customResourceEvent('CollectorRuleSetActivation', 'Create'), { endpoint: proxy.endpoint, timeScale: 50 });
    // THEN one write, then reads: right after the failure, and once settled
    expect(answer(run)).toEqual({ Status: 'SUCCESS', Reason: 'SUCCESS', PhysicalResourceId: RULE_SET, Data: { ActiveRuleSetName: RULE_SET } });
    expect(sesCalls()).toEqual([
      'DescribeActiveReceiptRuleSet 200', 'SetActiveReceiptRuleSet 500', 'DescribeActiveReceiptRuleSet 200', 'DescribeActiveReceiptRuleSet 200',
    ]);
    expect(await active()).toBe(RULE_SET);
  });

  test('Delete deactivates its rule set and reads again', async () => {
    await given([RULE_SET], RULE_SET);
    const run = await invoke(activation(), uncounted.customResourceEvent('CollectorRuleSetActivation', 'Delete', { physicalId: RULE_SET }), { endpoint: proxy.endpoint });
    expect(answer(run)).toEqual({ Status: 'SUCCESS', Reason: 'SUCCESS', PhysicalResourceId: RULE_SET, Data: { ActiveRuleSetName: '' } });
    expect(sesCalls()).toEqual(['DescribeActiveReceiptRuleSet 200', 'SetActiveReceiptRuleSet 200', 'DescribeActiveReceiptRuleSet 200']);
    expect(await active()).toBeUndefined();
  });

  test('Delete leaves alone a rule set an operator activates after a deactivation whose answer was lost', async () => {
    // GIVEN the collector's rule set is active; SES applies the deactivation but its answer is lost
    await given([RULE_SET, COMPANY], RULE_SET);
    proxy.inject({ service: 'ses', operation: 'SetActiveReceiptRuleSet', fault: 'after-forward-error' });
    // WHEN an operator activates the company's rule set right after the deactivation
    const operator = (async () => {
      while (!proxy.requests.some(r => r.operation === 'SetActiveReceiptRuleSet')) {
        await new Promise(resolve => setTimeout(resolve, 5));
      }
      await ses.send(new SetActiveReceiptRuleSetCommand({ RuleSetName: COMPANY }));
    })();
    const run = await invoke(activation(), uncounted.customResourceEvent('CollectorRuleSetActivation', 'Delete', { physicalId: RULE_SET }), { endpoint: proxy.endpoint });
    await operator;
    // THEN the collector did not deactivate again blindly: the operator's rule set stays active
    expect(answer(run)).toEqual({ Status: 'SUCCESS', Reason: 'SUCCESS', PhysicalResourceId: RULE_SET, Data: { ActiveRuleSetName: COMPANY } });
    expect(sesCalls()).toEqual(['DescribeActiveReceiptRuleSet 200', 'SetActiveReceiptRuleSet 500', 'DescribeActiveReceiptRuleSet 200']);
    expect(await active()).toBe(COMPANY);
  });
});
