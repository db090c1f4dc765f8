import { gzipSync } from 'node:zlib';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { MtaStsMode } from '../src';
import { FaultProxy } from './support/aws-faults';
import { ADDRESS, CollectorWorld, collectorWorld, logLines, metrics } from './support/collector-world';
import { Moto } from './support/moto';
import { Invocation, PackagedStack, invoke, invokeConcurrently, sesReceiptEvent } from './support/packaged';
import { attachedReport, fixture, gzipReportMessage, reportMessage, withHeader } from './support/tlsrpt-messages';
import { PolicyReport, reportObjectName, reportPartition } from '../src/core/tlsrpt-report';

// The collector's SES processor run as packaged (the asset from cdk.out, the template's Handler,
// the runtime's AWS SDK) against moto's S3, which enforces conditional writes, with receipt events
// as SES sends them. The messages are real reports from public repositories and reports constructed
// to reproduce real reporters' quirks (test/fixtures/tlsrpt, origins in its README), and variants of
// them; every stored object and every metric is asserted.

const BUCKET = 'tlsrpt-collector-bucket';
const MESSAGE_BASE = 'q8r4u2m9tk1b7c0o3dsf6hji5';

let world: CollectorWorld;
let moto: Moto;
let proxy: FaultProxy;
let stack: PackagedStack;
let s3: S3Client;

beforeAll(async () => {
  world = await collectorWorld(BUCKET);
  ({ moto, proxy, s3 } = world);
  // GIVEN a collector for the domains of the fixture reports
  stack = world.collectorStack({
    policyDomains: [
      { domainName: 'cardinalhealth.ca', mode: MtaStsMode.TESTING },
      { domainName: 'example.com', mode: MtaStsMode.TESTING },
      { domainName: 'example.net', mode: MtaStsMode.TESTING },
      { domainName: 'example.org', mode: MtaStsMode.TESTING },
    ],
  });
});
beforeEach(() => world.reset());
afterAll(() => world?.stop());

let counter = 0;
/** A fresh SES-style message id (lower-case letters and digits, as SES makes them). */
function newMessageId(): string {
  return `${MESSAGE_BASE}${String(++counter).padStart(4, '0')}mta0ses0message0id`;
}

interface Delivery {
  readonly messageId: string;
  /** The SES receipt event of the message (invoke it again for a retry). */
  readonly event: any;
}

/** Stores the raw message where the receipt rule's S3 action puts it, and makes SES's Lambda action event. */
async function received(raw: Buffer, options: { messageId?: string; dkim?: string; timestamp?: Date } = {}): Promise<Delivery> {
  const messageId = options.messageId ?? newMessageId();
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `raw/${messageId}`, Body: raw }));
  const event = sesReceiptEvent({
    raw, messageId, recipients: [ADDRESS], functionArn: processor().functionArn, dkim: options.dkim, timestamp: options.timestamp,
  });
  return { messageId, event };
}

/** Invokes the packaged processor with the event, as the receipt rule's Lambda action does. */
function deliver(delivery: Delivery, endpoint = moto.endpoint): Promise<Invocation> {
  return invoke(processor(), delivery.event, { endpoint });
}

const processor = () => stack.findFunction('CollectorProcessor');

/** The date SES received a message at `timestamp` (now by default): the partition of kept messages. */
const day = (date = new Date()) => date.toISOString().slice(0, 10);

/** What the processor stores for a policy report of a message. */
function stored(report: Omit<PolicyReport, 'policy_occurrence'> & { policy_occurrence?: number }, messageId: string, submitter: string, receivedDate = day()) {
  return { ...report, policy_occurrence: report.policy_occurrence ?? 0, message_id: messageId, received_date: receivedDate, submitter };
}

/** Where the processor stores it. */
function keyOf(object: PolicyReport, prefix = 'reports/'): string {
  return `${prefix}${reportPartition(object)}${reportObjectName(object)}`;
}


/** Every object but the raw messages, parsed, by key; each report object must be one line of JSON. */
async function objects(): Promise<Record<string, any>> {
  const result: Record<string, any> = {};
  for (const key of await world.keys()) {
    const text = await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToString();
    if (key.endsWith('.eml')) {
      result[key] = text;
      continue;
    }
    expect(text.endsWith('\n') && !text.trimEnd().includes('\n')).toBe(true);
    result[key] = JSON.parse(text);
  }
  return result;
}


/** The processor's summary line of each message. */
function results(...runs: Invocation[]): any[] {
  return logLines(...runs).filter(line => line.level === 'info');
}

function expectNoErrors(...runs: Invocation[]): void {
  expect(runs.map(run => run.error)).toEqual(runs.map(() => undefined));
}

// ---------------------------------------------------------------------------------------------
// The fixture reports (real and constructed) and what is stored for them.

/** The Microsoft-style report for example.com, 2025-02-10: one sts and one tlsa policy (microsoft-sts-tlsa.eml, constructed). */
function microsoftPolicies(): PolicyReport[] {
  const json = attachedReport(fixture('microsoft-sts-tlsa.eml'));
  const header = {
    report_id: '133837729274815162+example.com',
    organization_name: 'Microsoft Corporation',
    contact_info: 'tlsrpt-noreply@microsoft.com',
    start_datetime: '2025-02-10T00:00:00Z',
    end_datetime: '2025-02-10T23:59:59Z',
  };
  return [{
    ...header,
    policy_type: 'sts',
    policy_string: ['version: STSv1', 'mode: enforce', 'mx: mx1.example.com', 'mx: mx2.example.com', 'max_age: 1209600'],
    policy_domain: 'example.com',
    mx_host: [],
    policy_mode: 'enforce',
    policy_max_age: 1209600,
    // The content id of the sorted lines: the same as Google's report of this policy (another line order).
    policy_content_id: '5d0daed20841e53d',
    policy_occurrence: 0,
    total_successful_session_count: 3,
    total_failure_session_count: 0,
    failure_details: [],
    notes: [],
  }, {
    ...header,
    policy_type: 'tlsa',
    // One string holding a JSON array of 3 TLSA records, as Microsoft sends it.
    policy_string: json.policies[1].policy['policy-string'],
    policy_domain: 'example.com',
    mx_host: [],
    policy_mode: null,
    policy_max_age: null,
    policy_content_id: null,
    policy_occurrence: 0,
    total_successful_session_count: 3,
    total_failure_session_count: 0,
    failure_details: [],
    notes: [],
  }];
}

/** The metrics of a delivery that stored both of Microsoft's policies. */
const MICROSOFT_METRICS = {
  'Reports{Outcome=stored}': 2,
  // Microsoft reports the same three sessions under each policy; each policy is counted on its own.
  'SuccessfulSessions{PolicyDomain=example.com}': 6,
  'FailedSessions{PolicyDomain=example.com}': 0,
  'Reports{PolicyDomain=example.com}': 2,
  // The same counts by mode: every domain of this collector is in testing.
  'SuccessfulSessions{Mode=testing}': 6,
  'FailedSessions{Mode=testing}': 0,
  'Reports{Mode=testing}': 2,
  'Messages{Outcome=accepted}': 1,
};

describe('the fixture reports, as SES delivers them', () => {
  test('Microsoft\'s sts and tlsa policies for one domain are two objects and two sets of metrics', async () => {
    // GIVEN
    const delivery = await received(fixture('microsoft-sts-tlsa.eml'));
    // WHEN
    const run = await deliver(delivery);
    // THEN
    expectNoErrors(run);
    const [sts, tlsa] = microsoftPolicies();
    expect(keyOf(sts)).not.toBe(keyOf(tlsa));
    expect(await objects()).toEqual({
      [keyOf(sts)]: stored(sts, delivery.messageId, 'microsoft.com'),
      [keyOf(tlsa)]: stored(tlsa, delivery.messageId, 'microsoft.com'),
    });
    expect(Object.keys(await objects()).every(key => /^reports\/policy_domain=example\.com\/report_date=2025-02-10\/[0-9a-f]{32}\.json$/.test(key))).toBe(true);
    expect(metrics(run)).toEqual(MICROSOFT_METRICS);
    expect(logLines(run).filter(line => line.SuccessfulSessions !== undefined).map(line => [line.PolicyType, line.ReportId]))
      .toEqual([['sts', sts.report_id], ['tlsa', sts.report_id]]);
    expect(results(run)).toEqual([{
      level: 'info', messageId: delivery.messageId, outcome: 'accepted', written: [keyOf(sts), keyOf(tlsa)], duplicates: [],
    }]);
  });

  test('with tlsa listed first, both policies are stored under the same keys', async () => {
    // GIVEN the report with its policies the other way round, in a message of its own
    const json = attachedReport(fixture('microsoft-sts-tlsa.eml'));
    const reversed = { ...json, policies: [...json.policies].reverse() };
    const delivery = await received(gzipReportMessage(reversed, { domain: 'example.com', submitter: 'microsoft.com' }));
    // WHEN
    const run = await deliver(delivery);
    // THEN
    expectNoErrors(run);
    const [sts, tlsa] = microsoftPolicies();
    expect(await objects()).toEqual({
      [keyOf(sts)]: stored(sts, delivery.messageId, 'microsoft.com'),
      [keyOf(tlsa)]: stored(tlsa, delivery.messageId, 'microsoft.com'),
    });
    expect(metrics(run)).toEqual(MICROSOFT_METRICS);
  });

  test('Microsoft sending the same report again in another message stores and counts nothing more', async () => {
    // GIVEN
    const first = await received(fixture('microsoft-sts-tlsa.eml'));
    await deliver(first);
    const before = await objects();
    // WHEN the same report arrives as another message (another SES message id)
    const again = await received(fixture('microsoft-sts-tlsa.eml'));
    const run = await deliver(again);
    // THEN
    expectNoErrors(run);
    expect(await objects()).toEqual(before);
    expect(metrics(run)).toEqual({ 'Reports{Outcome=duplicate}': 2 });
  });

  test('Postfix\'s no-policy-found without policy-domain is stored for the domain its TLS-Report-Domain header names', async () => {
    // GIVEN the report as sys4/tlsrpt-reporter sends it (constructed, see the fixtures' README)
    const delivery = await received(fixture('postfix-no-policy-found.eml'));
    // WHEN
    const run = await deliver(delivery);
    // THEN
    expectNoErrors(run);
    const report: PolicyReport = {
      report_id: '2025-03-02T00:00:00Z_idx1_example.net',
      organization_name: 'Example Mail Operator',
      contact_info: 'tlsrpt@mta.example.org',
      start_datetime: '2025-03-02T00:00:00Z',
      end_datetime: '2025-03-02T23:59:59Z',
      policy_type: 'no-policy-found',
      policy_string: [],
      policy_domain: 'example.net',
      mx_host: [],
      policy_mode: null,
      policy_max_age: null,
      policy_content_id: null,
      policy_occurrence: 0,
      total_successful_session_count: 16,
      total_failure_session_count: 1,
      failure_details: [{
        result_type: 'starttls-not-supported',
        sending_mta_ip: null,
        receiving_mx_hostname: 'mx.example.net',
        receiving_mx_helo: null,
        receiving_ip: '192.0.2.25',
        failed_session_count: 1,
        additional_information: null,
        failure_reason_code: null,
      }],
      notes: ['policy-domain missing, taken from the TLS-Report-Domain header'],
    };
    expect(await objects()).toEqual({ [keyOf(report)]: stored(report, delivery.messageId, 'mta.example.org') });
    expect(keyOf(report)).toMatch(/^reports\/policy_domain=example\.net\/report_date=2025-03-02\//);
    expect(metrics(run)).toEqual({
      'Reports{Outcome=stored}': 1,
      'SuccessfulSessions{PolicyDomain=example.net}': 16,
      'FailedSessions{PolicyDomain=example.net}': 1,
      'Reports{PolicyDomain=example.net}': 1,
      'SuccessfulSessions{Mode=testing}': 16,
      'FailedSessions{Mode=testing}': 1,
      'Reports{Mode=testing}': 1,
      'FailedSessions{PolicyDomain=example.net,ResultType=starttls-not-supported}': 1,
      'Messages{Outcome=accepted}': 1,
    });
  });

  test('the header does not stand in for a domain the collector was not given: the report is rejected with its reason', async () => {
    // GIVEN the Postfix report, its header naming another domain
    const raw = withHeader(fixture('postfix-no-policy-found.eml'), 'TLS-Report-Domain', 'stranger.example');
    const delivery = await received(raw);
    // WHEN
    const run = await deliver(delivery);
    // THEN
    expectNoErrors(run);
    const base = `rejected/received_date=${day()}/${delivery.messageId}`;
    expect(await objects()).toEqual({
      [`${base}.eml`]: raw.toString('latin1'),
      [`${base}.json`]: expect.objectContaining({
        reason: 'invalid-report',
        detail: '`policies[0].policy.policy-domain` must be a domain name, got: undefined',
        messageId: delivery.messageId,
        rawKey: `raw/${delivery.messageId}`,
      }),
    });
    expect(metrics(run)).toEqual({ 'Messages{Outcome=rejected}': 1 });
  });

  test('a report whose no-policy-found and unknown policy types have no policy-domain is stored whole for the header\'s domain', async () => {
    // GIVEN mail-auth's sample, verbatim, as the attachment of a message for example.org
    const json = fixture('no-policy-found-without-domain.json');
    const delivery = await received(reportMessage({ attachment: gzipSync(json), domain: 'example.org', submitter: 'google.com' }));
    // WHEN
    const run = await deliver(delivery);
    // THEN
    expectNoErrors(run);
    const header = {
      report_id: '2019-04-14T00:00:00Z_example.org',
      organization_name: 'Google Inc.',
      contact_info: 'smtp-tls-reporting@google.com',
      start_datetime: '2019-04-14T00:00:00Z',
      end_datetime: '2019-04-14T23:59:59Z',
      policy_string: [],
      policy_domain: 'example.org',
      mx_host: [],
      policy_mode: null,
      policy_max_age: null,
      policy_content_id: null,
      policy_occurrence: 0,
      total_successful_session_count: 1,
      total_failure_session_count: 0,
      failure_details: [],
    };
    const missing = 'summary.total-failure-session-count missing, counted as 0';
    const noPolicy: PolicyReport = {
      ...header,
      policy_type: 'no-policy-found',
      notes: ['policy-domain missing, taken from the TLS-Report-Domain header', `policies[0].${missing}`],
    };
    const unknown: PolicyReport = {
      ...header,
      policy_type: 'invalid-policy-type',
      notes: ['unknown policy-type invalid-policy-type', 'policy-domain missing, taken from the TLS-Report-Domain header', `policies[1].${missing}`],
    };
    expect(await objects()).toEqual({
      [keyOf(noPolicy)]: stored(noPolicy, delivery.messageId, 'google.com'),
      [keyOf(unknown)]: stored(unknown, delivery.messageId, 'google.com'),
    });
    expect(metrics(run)).toEqual({
      'Reports{Outcome=stored}': 2,
      'SuccessfulSessions{PolicyDomain=example.org}': 2,
      'FailedSessions{PolicyDomain=example.org}': 0,
      'Reports{PolicyDomain=example.org}': 2,
      'SuccessfulSessions{Mode=testing}': 2,
      'FailedSessions{Mode=testing}': 0,
      'Reports{Mode=testing}': 2,
      'Messages{Outcome=accepted}': 1,
    });
  });

  test('a policy that cannot be read is kept aside with its reason while the others are stored and counted', async () => {
    // GIVEN the Microsoft-style report, its tlsa policy with a negative count
    const json = attachedReport(fixture('microsoft-sts-tlsa.eml'));
    json.policies[1].summary['total-failure-session-count'] = -3;
    const delivery = await received(gzipReportMessage(json, { domain: 'example.com', submitter: 'microsoft.com' }));
    // WHEN
    const run = await deliver(delivery);
    // THEN
    expectNoErrors(run);
    const [sts] = microsoftPolicies();
    const note = `rejected/received_date=${day()}/${delivery.messageId}.policies.json`;
    const problem = '`policies[1].summary.total-failure-session-count` must be a non-negative integer, got: -3';
    expect(await objects()).toEqual({
      [keyOf(sts)]: stored(sts, delivery.messageId, 'microsoft.com'),
      [note]: {
        reason: 'invalid-policy',
        detail: problem,
        messageId: delivery.messageId,
        report_id: '133837729274815162+example.com',
        organization_name: 'Microsoft Corporation',
        submitter: 'microsoft.com',
        policies: [{ index: 1, problems: [problem], entry: json.policies[1] }],
      },
    });
    expect(metrics(run)).toEqual({
      'Reports{Outcome=stored}': 1,
      'SuccessfulSessions{PolicyDomain=example.com}': 3,
      'FailedSessions{PolicyDomain=example.com}': 0,
      'Reports{PolicyDomain=example.com}': 1,
      'SuccessfulSessions{Mode=testing}': 3,
      'FailedSessions{Mode=testing}': 0,
      'Reports{Mode=testing}': 1,
      'Reports{Outcome=rejected}': 1,
      'Messages{Outcome=accepted}': 1,
    });
    expect(results(run)).toEqual([{
      level: 'info', messageId: delivery.messageId, outcome: 'accepted', written: [keyOf(sts), note], duplicates: [], rejectedPolicies: [1],
    }]);
  });

  test('Mail.ru\'s failure details that add up to more than its summary are counted as the summary, with the discrepancy noted', async () => {
    // GIVEN parsedmarc's Mail.ru sample, verbatim: two failures of one result type, a summary of one
    const json = fixture('mailru-inconsistent-totals.json');
    const delivery = await received(reportMessage({ attachment: gzipSync(json), domain: 'example.com', submitter: 'mail.ru' }));
    // WHEN
    const run = await deliver(delivery);
    // THEN
    expectNoErrors(run);
    const report: PolicyReport = {
      report_id: 'b28254de-7b2e-be36-bb5c-4c3b92da8b25@mail.ru',
      organization_name: 'Mail.ru',
      contact_info: 'tls_support@corp.mail.ru',
      start_datetime: '2024-02-22T00:00:00Z',
      end_datetime: '2024-02-23T00:00:00Z',
      policy_type: 'sts',
      policy_string: [],
      policy_domain: 'example.com',
      mx_host: [],
      policy_mode: null,
      policy_max_age: null,
      policy_content_id: null,
      policy_occurrence: 0,
      total_successful_session_count: 0,
      total_failure_session_count: 1,
      failure_details: ['bad https response code: 404', 'bad https response code: 500'].map(code => ({
        result_type: 'sts-policy-fetch-error',
        sending_mta_ip: null,
        receiving_mx_hostname: null,
        receiving_mx_helo: null,
        receiving_ip: null,
        failed_session_count: 1,
        additional_information: null,
        failure_reason_code: code,
      })),
      notes: ['failure-details add up to 2, more than the summary\'s 1: failed sessions by result type counted as sts-policy-fetch-error 1'],
    };
    expect(await objects()).toEqual({ [keyOf(report)]: stored(report, delivery.messageId, 'mail.ru') });
    expect(metrics(run)).toEqual({
      'Reports{Outcome=stored}': 1,
      'SuccessfulSessions{PolicyDomain=example.com}': 0,
      'FailedSessions{PolicyDomain=example.com}': 1,
      'Reports{PolicyDomain=example.com}': 1,
      'SuccessfulSessions{Mode=testing}': 0,
      'FailedSessions{Mode=testing}': 1,
      'Reports{Mode=testing}': 1,
      'FailedSessions{PolicyDomain=example.com,ResultType=sts-policy-fetch-error}': 1,
      'Messages{Outcome=accepted}': 1,
    });
  });

  test('Google\'s message with a folded attachment name is stored', async () => {
    const delivery = await received(fixture('google-folded-filename.eml'));
    const run = await deliver(delivery);
    expectNoErrors(run);
    const report: PolicyReport = {
      report_id: '2024-09-03T00:00:00Z_cardinalhealth.ca',
      organization_name: 'Google Inc.',
      contact_info: 'smtp-tls-reporting@google.com',
      start_datetime: '2024-09-03T00:00:00Z',
      end_datetime: '2024-09-03T23:59:59Z',
      policy_type: 'no-policy-found',
      policy_string: [],
      policy_domain: 'cardinalhealth.ca',
      mx_host: [],
      policy_mode: null,
      policy_max_age: null,
      policy_content_id: null,
      policy_occurrence: 0,
      total_successful_session_count: 48,
      total_failure_session_count: 0,
      failure_details: [],
      notes: [],
    };
    expect(await objects()).toEqual({ [keyOf(report)]: stored(report, delivery.messageId, 'google.com') });
    expect(metrics(run)).toEqual({
      'Reports{Outcome=stored}': 1,
      'SuccessfulSessions{PolicyDomain=cardinalhealth.ca}': 48,
      'FailedSessions{PolicyDomain=cardinalhealth.ca}': 0,
      'Reports{PolicyDomain=cardinalhealth.ca}': 1,
      'SuccessfulSessions{Mode=testing}': 48,
      'FailedSessions{Mode=testing}': 0,
      'Reports{Mode=testing}': 1,
      'Messages{Outcome=accepted}': 1,
    });
  });

  test('Mail.ru\'s message without a closing MIME boundary is stored', async () => {
    const delivery = await received(fixture('mailru-no-closing-boundary.eml'));
    const run = await deliver(delivery);
    expectNoErrors(run);
    const report: PolicyReport = {
      report_id: '2d89fe3c-a3fd-521c-8b7b-ada2576f245a@mail.ru',
      organization_name: 'Mail.ru',
      contact_info: 'tls_support@corp.mail.ru',
      start_datetime: '2025-02-11T00:00:00Z',
      end_datetime: '2025-02-12T00:00:00Z',
      policy_type: 'sts',
      policy_string: [],
      policy_domain: 'example.net',
      mx_host: [],
      policy_mode: null,
      policy_max_age: null,
      policy_content_id: null,
      policy_occurrence: 0,
      total_successful_session_count: 0,
      total_failure_session_count: 2,
      failure_details: [{
        result_type: 'sts-policy-fetch-error',
        sending_mta_ip: null,
        receiving_mx_hostname: null,
        receiving_mx_helo: null,
        receiving_ip: null,
        failed_session_count: 2,
        additional_information: null,
        failure_reason_code: 'fetching https://mta-sts.example.net/.well-known/mta-sts.txt failed: '
          + 'dial tcp 203.0.113.80:443: connect: connection refused',
      }],
      notes: [],
    };
    expect(await objects()).toEqual({ [keyOf(report)]: stored(report, delivery.messageId, 'mail.ru') });
    expect(metrics(run)).toEqual({
      'Reports{Outcome=stored}': 1,
      'SuccessfulSessions{PolicyDomain=example.net}': 0,
      'FailedSessions{PolicyDomain=example.net}': 2,
      'Reports{PolicyDomain=example.net}': 1,
      'SuccessfulSessions{Mode=testing}': 0,
      'FailedSessions{Mode=testing}': 2,
      'Reports{Mode=testing}': 1,
      'FailedSessions{PolicyDomain=example.net,ResultType=sts-policy-fetch-error}': 2,
      'Messages{Outcome=accepted}': 1,
    });
  });

  test('Google lists the policy\'s lines in another order than Microsoft: the content id is the same', async () => {
    const delivery = await received(fixture('google-reordered-policy-string.eml'));
    const run = await deliver(delivery);
    expectNoErrors(run);
    const report: PolicyReport = {
      report_id: '2025-02-11T00:00:00Z_example.com',
      organization_name: 'Google Inc.',
      contact_info: 'smtp-tls-reporting@google.com',
      start_datetime: '2025-02-11T00:00:00Z',
      end_datetime: '2025-02-11T23:59:59Z',
      policy_type: 'sts',
      policy_string: ['version: STSv1', 'mode: enforce', 'max_age: 1209600', 'mx: mx1.example.com', 'mx: mx2.example.com'],
      policy_domain: 'example.com',
      mx_host: ['mx1.example.com', 'mx2.example.com'],
      policy_mode: 'enforce',
      policy_max_age: 1209600,
      policy_content_id: microsoftPolicies()[0].policy_content_id,
      policy_occurrence: 0,
      total_successful_session_count: 4,
      total_failure_session_count: 0,
      failure_details: [],
      notes: [],
    };
    expect(await objects()).toEqual({ [keyOf(report)]: stored(report, delivery.messageId, 'google.com') });
    expect(metrics(run)).toEqual({
      'Reports{Outcome=stored}': 1,
      'SuccessfulSessions{PolicyDomain=example.com}': 4,
      'FailedSessions{PolicyDomain=example.com}': 0,
      'Reports{PolicyDomain=example.com}': 1,
      'SuccessfulSessions{Mode=testing}': 4,
      'FailedSessions{Mode=testing}': 0,
      'Reports{Mode=testing}': 1,
      'Messages{Outcome=accepted}': 1,
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Retries, redeliveries and concurrency.

describe('a message is stored and counted once, whatever the retries', () => {
  test('delivered three times (Lambda\'s async retries, SES redelivering the event): stored and counted by the first only', async () => {
    // GIVEN
    const delivery = await received(fixture('microsoft-sts-tlsa.eml'));
    // WHEN
    const first = await deliver(delivery);
    const before = await objects();
    const retries = [await deliver(delivery), await deliver(delivery)];
    // THEN
    expectNoErrors(first, ...retries);
    expect(metrics(first)).toEqual(MICROSOFT_METRICS);
    expect(retries.map(run => metrics(run))).toEqual([{ 'Reports{Outcome=duplicate}': 2 }, { 'Reports{Outcome=duplicate}': 2 }]);
    expect(await objects()).toEqual(before);
  });

  test('eight concurrent deliveries in one warm sandbox store each policy once and count the message once', async () => {
    // GIVEN
    const delivery = await received(fixture('microsoft-sts-tlsa.eml'));
    // WHEN
    const runs = await invokeConcurrently(processor(), Array.from({ length: 8 }, () => delivery.event), { endpoint: moto.endpoint });
    // THEN
    expectNoErrors(...runs);
    expect(metrics(...runs)).toEqual({ ...MICROSOFT_METRICS, 'Reports{Outcome=duplicate}': 14 });
    const [sts, tlsa] = microsoftPolicies();
    expect(Object.keys(await objects())).toEqual([keyOf(sts), keyOf(tlsa)].sort());
    // Each policy was stored by exactly one delivery, whose sessions were counted.
    expect(results(...runs).flatMap(result => result.written).sort()).toEqual([keyOf(sts), keyOf(tlsa)].sort());
  });

  test('four concurrent deliveries in four sandboxes store each policy once and count the message once', async () => {
    const delivery = await received(fixture('microsoft-sts-tlsa.eml'));
    const runs = await Promise.all(Array.from({ length: 4 }, () => deliver(delivery)));
    expectNoErrors(...runs);
    expect(metrics(...runs)).toEqual({ ...MICROSOFT_METRICS, 'Reports{Outcome=duplicate}': 6 });
    expect(Object.keys(await objects())).toHaveLength(2);
  });

  test('a rejected message and a quarantined message delivered twice are counted once', async () => {
    // GIVEN
    const rejected = await received(reportMessage({ attachment: gzipSync('<html>not a report</html>') }));
    const quarantined = await received(fixture('google-folded-filename.eml'), { dkim: 'FAIL' });
    // WHEN
    const runs = [await deliver(rejected), await deliver(rejected), await deliver(quarantined), await deliver(quarantined)];
    // THEN
    expectNoErrors(...runs);
    expect(runs.map(run => metrics(run))).toEqual([{ 'Messages{Outcome=rejected}': 1 }, {}, { 'Messages{Outcome=quarantined}': 1 }, {}]);
    expect(Object.keys(await objects())).toEqual([
      `quarantine/received_date=${day()}/${quarantined.messageId}.eml`,
      `quarantine/received_date=${day()}/${quarantined.messageId}.json`,
      `rejected/received_date=${day()}/${rejected.messageId}.eml`,
      `rejected/received_date=${day()}/${rejected.messageId}.json`,
    ]);
  });

  test('a retry on a later day keeps the day SES received the message', async () => {
    // GIVEN a message SES received two days ago (its event carries that time), retried now
    const receivedAt = new Date(Date.now() - 2 * 24 * 3600_000);
    const rejected = await received(reportMessage({ attachment: gzipSync('<html>not a report</html>') }), { timestamp: receivedAt });
    const accepted = await received(fixture('google-folded-filename.eml'), { timestamp: receivedAt });
    // WHEN
    const runs = [await deliver(rejected), await deliver(accepted)];
    // THEN the partition and the stored received_date are the day of receipt
    expectNoErrors(...runs);
    const stored_ = await objects();
    expect(Object.keys(stored_).filter(key => key.startsWith('rejected/'))).toEqual([
      `rejected/received_date=${day(receivedAt)}/${rejected.messageId}.eml`,
      `rejected/received_date=${day(receivedAt)}/${rejected.messageId}.json`,
    ]);
    expect(Object.values(stored_).find(object => object.report_id)?.received_date).toBe(day(receivedAt));
  });

  test('when S3 stores a report but its answer is lost, the retried write\'s 412 is recognised as ours: stored and counted once', async () => {
    // GIVEN S3 applies the first report write, but the function gets a 500 instead of its answer
    proxy.inject({ service: 's3', operation: 'PutObject', fault: 'after-forward-error' });
    const delivery = await received(fixture('microsoft-sts-tlsa.eml'));
    // WHEN
    const run = await deliver(delivery, proxy.endpoint);
    // THEN the SDK retried, S3 answered 412, and the object's write id showed it was this write
    expectNoErrors(run);
    expect(proxy.requests.map(r => `${r.operation} ${r.status}`)).toEqual([
      'GetObject 200', 'PutObject 500', 'PutObject 412', 'HeadObject 200', 'PutObject 200',
    ]);
    expect(metrics(run)).toEqual(MICROSOFT_METRICS);
    const [sts, tlsa] = microsoftPolicies();
    expect(await objects()).toEqual({
      [keyOf(sts)]: stored(sts, delivery.messageId, 'microsoft.com'),
      [keyOf(tlsa)]: stored(tlsa, delivery.messageId, 'microsoft.com'),
    });

    // WHEN Lambda retries the whole event anyway
    proxy.clear();
    const retry = await deliver(delivery, proxy.endpoint);
    // THEN its 412s are another write's: duplicates, nothing counted
    expectNoErrors(retry);
    expect(metrics(retry)).toEqual({ 'Reports{Outcome=duplicate}': 2 });
    expect(proxy.requests.map(r => `${r.operation} ${r.status}`)).toEqual(['GetObject 200', 'PutObject 412', 'PutObject 412']);
  });

  test('a write throttled, retried and refused with 412 because an earlier delivery stored it is a duplicate', async () => {
    // GIVEN the report stored by an earlier delivery
    const delivery = await received(fixture('google-folded-filename.eml'));
    await deliver(delivery);
    // WHEN a redelivery's write is throttled first, so its 412 comes on the SDK's second attempt
    proxy.inject({ service: 's3', operation: 'PutObject', fault: 'throttle' });
    const run = await deliver(delivery, proxy.endpoint);
    // THEN the stored object's write id is another's
    expectNoErrors(run);
    expect(proxy.requests.map(r => `${r.operation} ${r.status}`)).toEqual(['GetObject 200', 'PutObject 503', 'PutObject 412', 'HeadObject 200']);
    expect(metrics(run)).toEqual({ 'Reports{Outcome=duplicate}': 1 });
  });
});

// ---------------------------------------------------------------------------------------------
// Hostile input.

describe('hostile input is kept aside, never a crash, never many metrics', () => {
  test('a report nested 100,000 levels deep is rejected early with its reason', async () => {
    // GIVEN 200 KB of nesting in a report attachment
    const deep = `{"report-id":"deep","date-range":{},"policies":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const raw = reportMessage({ attachment: gzipSync(deep), domain: 'example.org' });
    const delivery = await received(raw);
    // WHEN
    const run = await deliver(delivery);
    // THEN
    expectNoErrors(run);
    const base = `rejected/received_date=${day()}/${delivery.messageId}`;
    expect(await objects()).toEqual({
      [`${base}.eml`]: raw.toString('latin1'),
      [`${base}.json`]: expect.objectContaining({
        reason: 'nested-too-deep',
        detail: 'report must nest arrays and objects at most 20 deep, got: 100001 deep',
      }),
    });
    expect(metrics(run)).toEqual({ 'Messages{Outcome=rejected}': 1 });
    expect(logLines(run).find(line => line._aws)?.Reason).toBe('nested-too-deep');
  });

  test('5,000 invented result types are counted as one ResultType, other', async () => {
    // GIVEN a report whose 5,000 failures each have a result type of its own
    const json = attachedReport(fixture('google-reordered-policy-string.eml'));
    json.policies[0].summary['total-failure-session-count'] = 5000;
    json.policies[0]['failure-details'] = Array.from({ length: 5000 }, (_, i) => ({ 'result-type': `invented-${i}`, 'failed-session-count': 1 }));
    const delivery = await received(gzipReportMessage(json, { domain: 'example.com' }));
    // WHEN
    const run = await deliver(delivery);
    // THEN
    expectNoErrors(run);
    expect(metrics(run)).toEqual({
      'Reports{Outcome=stored}': 1,
      'SuccessfulSessions{PolicyDomain=example.com}': 4,
      'FailedSessions{PolicyDomain=example.com}': 5000,
      'Reports{PolicyDomain=example.com}': 1,
      'SuccessfulSessions{Mode=testing}': 4,
      'FailedSessions{Mode=testing}': 5000,
      'Reports{Mode=testing}': 1,
      'FailedSessions{PolicyDomain=example.com,ResultType=other}': 5000,
      'Messages{Outcome=accepted}': 1,
    });
    const [report] = Object.values(await objects());
    expect(report.failure_details).toHaveLength(5000);
    expect(report.failure_details[4999].result_type).toBe('invented-4999');
    expect(report.notes).toEqual([
      'unknown result-types invented-0, invented-1, invented-2, invented-3, invented-4, invented-5, invented-6, invented-7, '
        + 'invented-8, invented-9 and 4990 more, counted as other',
    ]);
  });
});
