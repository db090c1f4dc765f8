import { gzipSync } from 'node:zlib';
import { googleReport, rfcExampleReport } from './support/tlsrpt-messages';
import { LoopbackS3 } from './support/tlsrpt-s3';
import { PolicyReport, parseTlsRptReport } from '../src/core/tlsrpt-report';
import { HttpsOptions, HttpsRequest, handleHttpsReport, httpsObjectName, implausibleDateRange } from '../src/handlers/tlsrpt-collector/https';

// HTTPS reception (RFC 8460 §5.4) against a real S3-compatible server (s3rver) on loopback.

let server: LoopbackS3;
beforeAll(async () => {
  server = await LoopbackS3.start('tlsrpt-https');
});
afterAll(async () => {
  await server?.stop();
});

let requests = 0;
const RECEIVED = new Date('2024-09-04T06:00:00Z');
const UNCOUNTED: HttpsOptions = { countReports: false };
const COUNTED: HttpsOptions = { countReports: true };

async function post(body: Buffer, contentType: string, extra: Partial<HttpsRequest> = {}, options: HttpsOptions = UNCOUNTED) {
  const requestId = `req-${++requests}`;
  const before = new Set(await server.keys());
  const lines: string[] = [];
  const response = await handleHttpsReport({
    body: body.toString('base64'),
    isBase64Encoded: true,
    headers: { 'Content-Type': contentType, 'TLS-Report-Submitter': 'mta.example.net' },
    requestContext: { requestId, http: { method: 'POST', sourceIp: '198.51.100.7', userAgent: 'tlsrpt-sender/1.0' } },
    ...extra,
  }, {
    s3: server.s3,
    config: { bucket: server.bucket, policyDomains: new Map([['example.com', 'testing']]), namespace: 'TlsRpt', maxMessageBytes: 1024 * 1024, maxReportBytes: 1024 * 1024 },
    log: line => lines.push(line),
    now: () => RECEIVED,
  }, options);
  const written = (await server.keys()).filter(key => !before.has(key));
  const emf = lines.map(line => JSON.parse(line)).filter(line => line._aws);
  const metrics = emf.map(line => `${line._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name).join('+')}{${line.Outcome ?? line.PolicyDomain}}`);
  return { requestId, response, body: JSON.parse(response.body), written, metrics, emf };
}

function policyReports(report: unknown): PolicyReport[] {
  return parseTlsRptReport(JSON.stringify(report)).report!.policies;
}

/** Google's report with other counts and the same report id: what a forger sends first. */
function forgedGoogleReport(successful = 1_000_000): Record<string, any> {
  const report = googleReport() as Record<string, any>;
  return { ...report, policies: [{ ...report.policies[0], summary: { 'total-successful-session-count': successful, 'total-failure-session-count': 0 } }] };
}

describe('by default (countHttpsReports off)', () => {
  test('a gzip report is stored under https/ before the 201 answer, not counted; a retry of it is answered 200 without storing it again', async () => {
    // GIVEN
    const report = gzipSync(JSON.stringify(googleReport()));
    // WHEN
    const first = await post(report, 'application/tlsrpt+gzip');
    // THEN
    expect(first.response.statusCode).toBe(201);
    expect(first.body).toEqual({ stored: 1, duplicates: 0 });
    const key = `https/policy_domain=example.com/report_date=2024-09-03/${httpsObjectName(policyReports(googleReport())[0])}`;
    expect(first.written).toEqual([key]);
    expect(key).toMatch(/^https\/policy_domain=example\.com\/report_date=2024-09-03\/https-[0-9a-f]{32}\.json$/);
    expect(await server.json(key)).toEqual({
      ...policyReports(googleReport())[0], message_id: `https-${first.requestId}`, received_date: '2024-09-04', submitter: 'mta.example.net',
    });
    expect(first.metrics).toEqual(['Reports{uncounted}', 'Messages{accepted}']);

    const retry = await post(report, 'application/tlsrpt+gzip');
    expect(retry.response.statusCode).toBe(200);
    expect(retry.body).toEqual({ stored: 0, duplicates: 1 });
    expect(retry.written).toEqual([]);
    // Counted once: the repeated POST adds no Messages either.
    expect(retry.metrics).toEqual(['Reports{duplicate}']);
  });

  test('a plain JSON report for another domain is accepted as application/tlsrpt+json, with media type parameters, under https/', async () => {
    const result = await post(Buffer.from(JSON.stringify(rfcExampleReport())), 'application/tlsrpt+json; charset=utf-8');
    expect(result.response.statusCode).toBe(201);
    expect(result.written).toEqual([expect.stringMatching(/^https\/policy_domain=company-y\.example\/report_date=2016-04-01\/https-[0-9a-f]{32}\.json$/)]);
    expect(result.metrics).toEqual(['Reports{unconfigured}', 'Messages{accepted}']);
  });
});

describe('with countHttpsReports', () => {
  test('a report is stored beside mail reports under reports/, with a name of its own, and counted through the same metrics', async () => {
    const result = await post(gzipSync(JSON.stringify(rfcExampleReport({ 'report-id': 'counted-1' }))), 'application/tlsrpt+gzip', {}, COUNTED);
    // company-y.example is not configured: under unconfigured/, not counted.
    expect(result.written).toEqual([expect.stringMatching(/^unconfigured\/policy_domain=company-y\.example\/report_date=2016-04-01\/https-[0-9a-f]{32}\.json$/)]);
    expect(result.metrics).toEqual(['Reports{unconfigured}', 'Messages{accepted}']);

    const google = await post(gzipSync(JSON.stringify(googleReport())), 'application/tlsrpt+gzip', {}, COUNTED);
    expect(google.written).toEqual([`reports/policy_domain=example.com/report_date=2024-09-03/${httpsObjectName(policyReports(googleReport())[0])}`]);
    expect(google.metrics).toEqual(['Reports{stored}', 'SuccessfulSessions+FailedSessions+Reports{example.com}', 'Messages{accepted}']);
  });

  test('two POSTs of one report id with different content are both kept: neither displaces the other', async () => {
    const forged = await post(Buffer.from(JSON.stringify(forgedGoogleReport(7))), 'application/tlsrpt+json', {}, COUNTED);
    const other = await post(Buffer.from(JSON.stringify(forgedGoogleReport(8))), 'application/tlsrpt+json', {}, COUNTED);
    expect(forged.body).toEqual({ stored: 1, duplicates: 0 });
    expect(other.body).toEqual({ stored: 1, duplicates: 0 });
    expect(forged.written[0]).not.toEqual(other.written[0]);
  });
});

test('a policy that cannot be read is kept aside as a note of its position and problems, never the entry, while the others are stored', async () => {
  // GIVEN Postfix's tlsrpt-reporter leaves out policy-domain on no-policy-found (no TLS-Report-Domain header over HTTPS)
  const report = googleReport() as Record<string, any>;
  const entry = { policy: { 'policy-type': 'no-policy-found', 'policy-string': ['secret-ish '.repeat(50)] }, summary: { 'total-successful-session-count': 3, 'total-failure-session-count': 0 } };
  // WHEN
  const result = await post(Buffer.from(JSON.stringify({ ...report, 'report-id': 'postfix-1', 'policies': [...report.policies, entry] })), 'application/tlsrpt+json');
  // THEN
  expect(result.response.statusCode).toBe(201);
  expect(result.body).toEqual({ stored: 1, duplicates: 0, rejected: 1 });
  const note = `rejected/received_date=2024-09-04/https-${result.requestId}.json`;
  expect(result.written).toEqual([expect.stringMatching(/^https\/policy_domain=example\.com\//), note]);
  const kept = await server.json(note);
  expect(kept).toEqual({ reason: 'invalid-policy', detail: expect.stringMatching(/^policies\[1\]: /), messageId: `https-${result.requestId}`, rejectedPolicies: [1] });
  expect(JSON.stringify(kept)).not.toContain('secret-ish');
  expect(result.metrics).toEqual(['Reports{uncounted}', 'Reports{rejected}', 'Messages{accepted}']);
});

describe('date ranges that cannot be a real report\'s', () => {
  const dated = (start: string, end: string) => ({ ...googleReport(), 'report-id': `dated-${start}-${end}`, 'date-range': { 'start-datetime': start, 'end-datetime': end } });

  test.each([
    ['in the future (2031)', '2031-01-01T00:00:00Z', '2031-01-01T23:59:59Z', '`date-range` must end before the report is sent (a day\'s leeway), got: 2031-01-01T00:00:00Z to 2031-01-01T23:59:59Z, received 2024-09-04T06:00:00.000Z'],
    ['ending more than a day after receipt', '2024-09-04T00:00:00Z', '2024-09-05T06:00:01Z', '`date-range` must end before the report is sent (a day\'s leeway), got: 2024-09-04T00:00:00Z to 2024-09-05T06:00:01Z, received 2024-09-04T06:00:00.000Z'],
    ['ending before it starts', '2024-09-03T00:00:00Z', '2024-09-02T23:59:59Z', '`date-range` must end after it starts, got: 2024-09-03T00:00:00Z to 2024-09-02T23:59:59Z'],
    ['empty', '2024-09-03T00:00:00Z', '2024-09-03T00:00:00Z', '`date-range` must end after it starts, got: 2024-09-03T00:00:00Z to 2024-09-03T00:00:00Z'],
    ['longer than a week', '2024-08-20T00:00:00Z', '2024-08-27T00:00:01Z', '`date-range` must cover at most 7 days, got: 2024-08-20T00:00:00Z to 2024-08-27T00:00:01Z'],
  ])('fails with 400 for a range %s, even when HTTPS reports count, keeping only a note', async (_, start, end, detail) => {
    // WHEN
    const result = await post(gzipSync(JSON.stringify(dated(start, end))), 'application/tlsrpt+gzip', {}, COUNTED);
    // THEN
    expect(result.response.statusCode).toBe(400);
    expect(result.body).toEqual({ error: 'implausible-date-range', detail });
    expect(result.written).toEqual([`rejected/received_date=2024-09-04/https-${result.requestId}.json`]);
    expect(result.metrics).toEqual(['Messages{rejected}']);
  });

  test.each([
    ['a UTC day', '2024-09-03T00:00:00Z', '2024-09-03T23:59:59Z'],
    ['a day ending at the next day\'s 00:00:00Z', '2024-09-03T00:00:00Z', '2024-09-04T00:00:00Z'],
    ['a week', '2024-08-27T00:00:00Z', '2024-09-03T00:00:00Z'],
    ['today, ending within a day after receipt', '2024-09-04T00:00:00Z', '2024-09-05T06:00:00Z'],
    ['years ago', '2016-04-01T00:00:00Z', '2016-04-01T23:59:59Z'],
  ])('accepts %s', (_, start, end) => {
    expect(implausibleDateRange({ start_datetime: start, end_datetime: end }, RECEIVED)).toBeUndefined();
  });
});

test.each([
  ['another media type', Buffer.from('{}'), 'application/json', {}, 415, 'unsupported-media-type'],
  ['a GET', Buffer.from(''), 'application/tlsrpt+json', { requestContext: { requestId: 'get', http: { method: 'GET' } } }, 405, 'method-not-allowed'],
  ['a body over the limit', Buffer.alloc(2 * 1024 * 1024, 0x20), 'application/tlsrpt+json', {}, 413, 'message-too-large'],
  ['a decompression bomb', gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20)), 'application/tlsrpt+gzip', {}, 413, 'report-too-large'],
  ['broken JSON', Buffer.from('{"report-id":'), 'application/tlsrpt+json', {}, 400, 'invalid-json'],
  ['HTML', Buffer.from('<html></html>'), 'application/tlsrpt+gzip', {}, 400, 'not-a-report'],
])('fails with a 4xx for %s, keeping a note with the reason and never the body', async (_, body, contentType, extra, status, reason) => {
  const result = await post(body as Buffer, contentType as string, extra as Partial<HttpsRequest>);
  expect(result.response.statusCode).toBe(status);
  expect(result.body).toMatchObject({ error: reason });
  const id = `https-${(extra as Partial<HttpsRequest>).requestContext?.requestId ?? result.requestId}`;
  expect(result.written).toEqual([`rejected/received_date=2024-09-04/${id}.json`]);
  expect(result.metrics).toEqual(['Messages{rejected}']);
});

test('the note of a rejected POST says who sent what and why, in a few hundred bytes', async () => {
  // GIVEN a 1 MiB + 1 body
  const body = Buffer.alloc(1024 * 1024 + 1, 0x20);
  // WHEN
  const result = await post(body, 'application/tlsrpt+json');
  // THEN
  const note = await server.json(result.written[0]);
  expect(note).toEqual({
    reason: 'message-too-large',
    detail: 'the body is 1048577 bytes, more than 1048576',
    messageId: `https-${result.requestId}`,
    contentType: 'application/tlsrpt+json',
    bytes: 1048577,
    sourceIp: '198.51.100.7',
    userAgent: 'tlsrpt-sender/1.0',
    submitter: 'mta.example.net',
  });
  expect(JSON.stringify(note).length).toBeLessThan(400);
});

test('a report nested 100,000 levels deep is answered 400 with a note, never a failed invocation (502)', async () => {
  // GIVEN
  const deep = `{"report-id":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
  // WHEN
  const result = await post(Buffer.from(deep), 'application/tlsrpt+json');
  // THEN
  expect(result.response.statusCode).toBe(400);
  expect(result.written).toEqual([`rejected/received_date=2024-09-04/https-${result.requestId}.json`]);
  expect(result.metrics).toEqual(['Messages{rejected}']);
});

test('a reason detail is cut to 1,000 characters, in the note and the answer', async () => {
  // GIVEN a media type of 5,000 characters, which the detail quotes
  const mediaType = `application/${'x'.repeat(5000)}`;
  // WHEN
  const result = await post(Buffer.from('{}'), mediaType);
  // THEN
  expect(result.response.statusCode).toBe(415);
  expect(result.body.detail).toHaveLength(1000);
  expect(result.body.detail).toMatch(/^Content-Type must be application\/tlsrpt\+gzip or application\/tlsrpt\+json, got: "application\/x+\.\.\.$/);
  const note = await server.json(result.written[0]);
  expect(note.detail).toBe(result.body.detail);
  expect(note.contentType).toHaveLength(200);
});
