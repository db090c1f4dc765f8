import { gzipSync } from 'node:zlib';
import { googleReport, rfcExampleReport } from './support/tlsrpt-messages';
import { LoopbackS3 } from './support/tlsrpt-s3';
import { HttpsRequest, handleHttpsReport } from '../src/handlers/tlsrpt-collector/https';

// HTTPS reception (RFC 8460 §5.4) against a real S3-compatible server (s3rver) on loopback.

let server: LoopbackS3;
beforeAll(async () => {
  server = await LoopbackS3.start('tlsrpt-https');
});
afterAll(async () => {
  await server?.stop();
});

let requests = 0;

async function post(body: Buffer, contentType: string, extra: Partial<HttpsRequest> = {}) {
  const requestId = `req-${++requests}`;
  const before = new Set(await server.keys());
  const lines: string[] = [];
  const response = await handleHttpsReport({
    body: body.toString('base64'),
    isBase64Encoded: true,
    headers: { 'Content-Type': contentType, 'TLS-Report-Submitter': 'mta.example.net' },
    requestContext: { requestId, http: { method: 'POST' } },
    ...extra,
  }, {
    s3: server.s3,
    config: { bucket: server.bucket, policyDomains: new Set(['example.com']), namespace: 'TlsRpt', maxMessageBytes: 1024 * 1024, maxReportBytes: 1024 * 1024 },
    log: line => lines.push(line),
    now: () => new Date('2024-09-04T06:00:00Z'),
  });
  const written = (await server.keys()).filter(key => !before.has(key));
  const metrics = lines.map(line => JSON.parse(line)).filter(line => line._aws)
    .map(line => `${line._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name).join('+')}{${line.Outcome ?? line.PolicyDomain}}`);
  return { requestId, response, body: JSON.parse(response.body), written, metrics };
}

test('a gzip report is stored before the 201 answer, and a retry of it is answered 200 without storing or counting it', async () => {
  const report = gzipSync(JSON.stringify(googleReport()));
  const first = await post(report, 'application/tlsrpt+gzip');
  expect(first.response.statusCode).toBe(201);
  expect(first.body).toEqual({ stored: 1, duplicates: 0 });
  expect(first.written).toEqual([expect.stringMatching(/^reports\/policy_domain=example\.com\/report_date=2024-09-03\/[0-9a-f]{32}\.json$/)]);
  expect(await server.json(first.written[0])).toMatchObject({ message_id: `https-${first.requestId}`, submitter: 'mta.example.net', total_successful_session_count: 42 });
  expect(first.metrics).toEqual(['Reports{stored}', 'SuccessfulSessions+FailedSessions+Reports{example.com}', 'Messages{accepted}']);

  const retry = await post(report, 'application/tlsrpt+gzip');
  expect(retry.response.statusCode).toBe(200);
  expect(retry.body).toEqual({ stored: 0, duplicates: 1 });
  expect(retry.written).toEqual([]);
  expect(retry.metrics).toEqual(['Reports{duplicate}', 'Messages{accepted}']);
});

test('a plain JSON report is accepted as application/tlsrpt+json, with media type parameters', async () => {
  const result = await post(Buffer.from(JSON.stringify(rfcExampleReport())), 'application/tlsrpt+json; charset=utf-8');
  expect(result.response.statusCode).toBe(201);
  // company-y.example is not configured here: kept apart, not counted.
  expect(result.written).toEqual([expect.stringMatching(/^unconfigured\/policy_domain=company-y\.example\//)]);
  expect(result.metrics).toEqual(['Reports{unconfigured}', 'Messages{accepted}']);
});

test.each([
  ['another media type', Buffer.from('{}'), 'application/json', {}, 415, 'unsupported-media-type', false],
  ['a GET', Buffer.from(''), 'application/tlsrpt+json', { requestContext: { requestId: 'get', http: { method: 'GET' } } }, 405, 'method-not-allowed', false],
  ['a body over the limit', Buffer.alloc(2 * 1024 * 1024, 0x20), 'application/tlsrpt+json', {}, 413, 'message-too-large', false],
  ['a decompression bomb', gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20)), 'application/tlsrpt+gzip', {}, 413, 'report-too-large', true],
  ['broken JSON', Buffer.from('{"report-id":'), 'application/tlsrpt+json', {}, 400, 'invalid-json', true],
  ['HTML', Buffer.from('<html></html>'), 'application/tlsrpt+gzip', {}, 400, 'not-a-report', true],
])('fails with a 4xx for %s, keeping the reason', async (_, body, contentType, extra, status, reason, bodyKept) => {
  const result = await post(body as Buffer, contentType as string, extra as Partial<HttpsRequest>);
  expect(result.response.statusCode).toBe(status);
  expect(result.body).toMatchObject({ error: reason });
  const id = `https-${(extra as Partial<HttpsRequest>).requestContext?.requestId ?? result.requestId}`;
  const base = `rejected/received_date=2024-09-04/${id}`;
  expect(result.written).toEqual(bodyKept ? [`${base}.bin`, `${base}.json`] : [`${base}.json`]);
  expect(await server.json(`${base}.json`)).toMatchObject({ reason, messageId: id });
  expect(result.metrics).toEqual(['Messages{rejected}']);
});
