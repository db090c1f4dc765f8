import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DUMMY_CREDENTIALS, Moto, startMoto } from './support/moto';
import {
  googleReport, gzipReportMessage, htmlMessage, mailRuReport, microsoftReport, reportFilename, reportMessage,
  rfcExampleReport, sesEvent,
} from './support/tlsrpt-messages';
import { renderPolicyDomainsFile } from '../src/core/collector-contract';
import {
  CollectorConfig, configFromEnvironment, handleSesEvent, MessageResult, SesReceiptEvent, WRITE_ID_METADATA, putOnce, readMessage, readPolicyDomains,
} from '../src/handlers/tlsrpt-collector/process';

// The handler's logic, called directly (unit tests) against moto's S3 on loopback, which enforces
// conditional writes as S3 does: the raw message is put where the receipt rule's S3 action stores
// it (raw/<message id>), and what the handler wrote is read back. The packaged function, with
// SES events as SES sends them, is run by collector-reports.test.ts and packaged-collector.test.ts.

const NAMESPACE = 'TlsRpt/Test';
const MiB = 1024 * 1024;

/** The collector bucket in moto. */
class Bucket {
  public readonly bucket = 'tlsrpt-collector';
  public readonly s3: S3Client;
  constructor(endpoint: string) {
    this.s3 = new S3Client({ endpoint, region: 'us-east-1', credentials: DUMMY_CREDENTIALS, forcePathStyle: true });
  }
  public async create(): Promise<void> {
    await this.s3.send(new CreateBucketCommand({ Bucket: this.bucket }));
  }
  /** Stores a raw message where the receipt rule's S3 action puts it (`raw/<message id>`). */
  public async putRaw(messageId: string, raw: Buffer | string): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: `raw/${messageId}`, Body: raw }));
  }
  /** Every key in the bucket, sorted. */
  public async keys(): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map(object => object.Key!));
      token = page.NextContinuationToken;
    } while (token);
    return keys.sort();
  }
  public async text(key: string): Promise<string> {
    return (await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }))).Body!.transformToString();
  }
  public async json<T = any>(key: string): Promise<T> {
    return JSON.parse(await this.text(key));
  }
}

let moto: Moto;
let server: Bucket;
beforeAll(async () => {
  moto = await startMoto();
  server = new Bucket(moto.endpoint);
  await server.create();
});
afterAll(async () => {
  server?.s3.destroy();
  await moto?.stop();
});

let counter = 0;

interface Run {
  readonly results: MessageResult[];
  /** Keys that appeared in the bucket during the run, without the raw message. */
  readonly written: string[];
  /** Embedded-metric-format lines logged. */
  readonly metrics: Array<Record<string, any>>;
  /** Other log lines. */
  readonly logs: string[];
}

/** Stores a raw message as SES would, runs the handler on its receipt event, and reports what changed. */
async function deliver(raw: Buffer, options: { dkim?: string; messageId?: string; config?: Partial<CollectorConfig> } = {}): Promise<Run> {
  const messageId = options.messageId ?? `message-${++counter}-${randomBytes(4).toString('hex')}`;
  await server.putRaw(messageId, raw);
  return handle(sesEvent(messageId, options.dkim), options.config);
}

async function handle(event: SesReceiptEvent, config: Partial<CollectorConfig> = {}): Promise<Run> {
  const before = new Set(await server.keys());
  const lines: string[] = [];
  const results = await handleSesEvent(event, {
    s3: server.s3,
    config: {
      bucket: server.bucket,
      policyDomains: new Map([['example.com', 'testing'], ['company-y.example', 'enforce']]),
      namespace: NAMESPACE,
      maxMessageBytes: 10 * MiB,
      maxReportBytes: 4 * MiB,
      ...config,
    },
    log: line => lines.push(line),
    now: () => new Date('2024-09-04T06:00:01Z'),
  });
  const written = (await server.keys()).filter(key => !before.has(key) && !key.startsWith('raw/'));
  const parsed = lines.map(line => JSON.parse(line));
  return {
    results,
    written,
    metrics: parsed.filter(line => line._aws),
    logs: lines.filter((_, index) => !parsed[index]._aws),
  };
}

/** The metric values of the EMF lines, as `Name{Dim=value,...}` -> value, summed. */
function metricValues(run: Run): Record<string, number> {
  const values: Record<string, number> = {};
  for (const line of run.metrics) {
    const directive = line._aws.CloudWatchMetrics[0];
    expect(directive.Namespace).toBe(NAMESPACE);
    // Every dimension set of the line makes a metric of each value.
    for (const dimensionSet of directive.Dimensions) {
      const dims = dimensionSet.map((name: string) => `${name}=${line[name]}`).join(',');
      for (const metric of directive.Metrics) {
        const name = `${metric.Name}{${dims}}`;
        values[name] = (values[name] ?? 0) + line[metric.Name];
      }
    }
  }
  return values;
}

/** The report with another report-id, so it is not a duplicate of an earlier test's. */
function withId(report: Record<string, unknown>, id: string): Record<string, unknown> {
  return { ...report, 'report-id': id };
}

const REPORT_KEY = /^reports\/policy_domain=example\.com\/report_date=2024-09-03\/[0-9a-f]{32}\.json$/;

describe('storing valid reports', () => {
  test('a Google-style gzip attachment is stored once as normalised JSON under its domain and date', async () => {
    // GIVEN
    const raw = gzipReportMessage(googleReport());
    // WHEN
    const result = await deliver(raw);
    // THEN
    expect(result.results[0]).toMatchObject({ outcome: 'accepted', duplicates: [] });
    expect(result.written).toHaveLength(1);
    expect(result.written[0]).toMatch(REPORT_KEY);
    const text = await server.text(result.written[0]);
    expect(text.endsWith('\n')).toBe(true);
    expect(text.trimEnd().includes('\n')).toBe(false); // one JSON record per line, for the query table
    expect(JSON.parse(text)).toMatchObject({
      report_id: '2024-09-03T00:00:00Z_example.com',
      organization_name: 'Google LLC',
      contact_info: 'smtp-tls-reporting@google.com',
      start_datetime: '2024-09-03T00:00:00Z',
      end_datetime: '2024-09-03T23:59:59Z',
      policy_type: 'sts',
      policy_domain: 'example.com',
      mx_host: ['mx1.example.com', '*.mail.example.com'],
      policy_mode: 'testing',
      policy_max_age: 604800,
      policy_content_id: expect.stringMatching(/^[0-9a-f]{16}$/),
      total_successful_session_count: 42,
      total_failure_session_count: 0,
      failure_details: [],
      submitter: 'google.com',
    });
    expect(metricValues(result)).toEqual({
      'SuccessfulSessions{PolicyDomain=example.com}': 42,
      'FailedSessions{PolicyDomain=example.com}': 0,
      'Reports{PolicyDomain=example.com}': 1,
      // The same counts by the domain's mode (example.com is configured in testing).
      'SuccessfulSessions{Mode=testing}': 42,
      'FailedSessions{Mode=testing}': 0,
      'Reports{Mode=testing}': 1,
      'Reports{Outcome=stored}': 1,
      'Messages{Outcome=accepted}': 1,
    });
  });

  test('the RFC 8460 example is stored with its failure details and counted by result type', async () => {
    const result = await deliver(gzipReportMessage(rfcExampleReport(), { domain: 'company-y.example' }));
    expect(result.written).toEqual([expect.stringMatching(/^reports\/policy_domain=company-y\.example\/report_date=2016-04-01\/[0-9a-f]{32}\.json$/)]);
    const stored = await server.json(result.written[0]);
    expect(stored.failure_details).toEqual([
      {
        result_type: 'certificate-expired',
        sending_mta_ip: '2001:db8:abcd:0012::1',
        receiving_mx_hostname: 'mx1.mail.company-y.example',
        receiving_mx_helo: null,
        receiving_ip: null,
        failed_session_count: 100,
        additional_information: null,
        failure_reason_code: null,
      },
      {
        result_type: 'starttls-not-supported',
        sending_mta_ip: '2001:db8:abcd:0013::1',
        receiving_mx_hostname: 'mx2.mail.company-y.example',
        receiving_mx_helo: null,
        receiving_ip: '203.0.113.56',
        failed_session_count: 200,
        additional_information: 'https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported',
        failure_reason_code: null,
      },
      {
        result_type: 'validation-failure',
        sending_mta_ip: '198.51.100.62',
        receiving_mx_hostname: null,
        receiving_mx_helo: null,
        receiving_ip: '198.51.100.72',
        failed_session_count: 3,
        additional_information: null,
        failure_reason_code: 'X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED',
      },
    ]);
    expect(metricValues(result)).toEqual({
      'SuccessfulSessions{PolicyDomain=company-y.example}': 5326,
      'FailedSessions{PolicyDomain=company-y.example}': 303,
      'Reports{PolicyDomain=company-y.example}': 1,
      // The same counts by the domain's mode (company-y.example is configured in enforce): what the enforce alarm watches.
      'SuccessfulSessions{Mode=enforce}': 5326,
      'FailedSessions{Mode=enforce}': 303,
      'Reports{Mode=enforce}': 1,
      'FailedSessions{PolicyDomain=company-y.example,ResultType=certificate-expired}': 100,
      'FailedSessions{PolicyDomain=company-y.example,ResultType=starttls-not-supported}': 200,
      'FailedSessions{PolicyDomain=company-y.example,ResultType=validation-failure}': 3,
      'Reports{Outcome=stored}': 1,
      'Messages{Outcome=accepted}': 1,
    });
  });

  test('a Microsoft-style report with the fetch-error fields left out is stored with nulls', async () => {
    const result = await deliver(gzipReportMessage(microsoftReport(), { submitter: 'microsoft.com' }));
    expect(result.written).toEqual([expect.stringMatching(REPORT_KEY)]);
    const stored = await server.json(result.written[0]);
    expect(stored).toMatchObject({
      policy_string: [],
      mx_host: [],
      policy_mode: null,
      policy_content_id: null,
      failure_details: [{
        result_type: 'sts-policy-fetch-error',
        sending_mta_ip: null,
        receiving_mx_hostname: null,
        receiving_mx_helo: null,
        receiving_ip: null,
        failed_session_count: 7,
        additional_information: null,
        failure_reason_code: null,
      }],
      submitter: 'microsoft.com',
    });
    expect(metricValues(result)).toMatchObject({
      'FailedSessions{PolicyDomain=example.com}': 7,
      'FailedSessions{PolicyDomain=example.com,ResultType=sts-policy-fetch-error}': 7,
    });
  });

  test('inconsistent totals and null contact-info are kept as sent, with notes, and counted from the summary', async () => {
    const result = await deliver(gzipReportMessage(mailRuReport(), { submitter: 'mail.ru' }));
    expect(result.written).toEqual([expect.stringMatching(REPORT_KEY)]);
    const stored = await server.json(result.written[0]);
    expect(stored).toMatchObject({
      contact_info: null,
      policy_domain: 'example.com',
      end_datetime: '2024-09-04T00:00:00Z',
      mx_host: ['mx1.example.com'],
      total_failure_session_count: 2,
      failure_details: [
        expect.objectContaining({ result_type: 'sts-webpki-invalid', failed_session_count: 3, failure_reason_code: 'bad https response code: 404' }),
        expect.objectContaining({ result_type: 'certificate-host-mismatch', receiving_mx_hostname: 'mx1.example.com', failed_session_count: 2 }),
      ],
    });
    expect(stored.notes).toEqual(['contact-info missing', 'failure-details add up to 5, more than the summary\'s 2: '
      + 'failed sessions by result type counted as certificate-host-mismatch 1, sts-webpki-invalid 1']);
    // The summary counts; by result type, the details are scaled down to it (largest remainder).
    expect(metricValues(result)).toMatchObject({
      'FailedSessions{PolicyDomain=example.com}': 2,
      'FailedSessions{PolicyDomain=example.com,ResultType=sts-webpki-invalid}': 1,
      'FailedSessions{PolicyDomain=example.com,ResultType=certificate-host-mismatch}': 1,
    });
  });

  test('plain JSON labelled gzip is read as JSON', async () => {
    const raw = reportMessage({ attachment: Buffer.from(JSON.stringify(withId(googleReport(), 'plain'))), mediaType: 'application/tlsrpt+gzip' });
    const result = await deliver(raw);
    expect(result.written).toEqual([expect.stringMatching(REPORT_KEY)]);
    expect(metricValues(result)['SuccessfulSessions{PolicyDomain=example.com}']).toBe(42);
  });

  test('a gzip report sent as application/octet-stream is found by its .json.gz name', async () => {
    const raw = gzipReportMessage(withId(googleReport(), 'octet-stream'), { mediaType: 'application/octet-stream' });
    const result = await deliver(raw);
    expect(result.written).toEqual([expect.stringMatching(REPORT_KEY)]);
  });

  test('a gzip report with neither the media type nor the name is found by its magic bytes', async () => {
    const raw = gzipReportMessage(withId(googleReport(), 'magic'), { mediaType: 'application/octet-stream', filename: 'report.bin' });
    const result = await deliver(raw);
    expect(result.written).toEqual([expect.stringMatching(REPORT_KEY)]);
  });

  test('a report delivered twice is stored and counted once, and its second message is not counted', async () => {
    const report = { ...googleReport(), 'report-id': 'delivered-twice' };
    const once = await deliver(gzipReportMessage(report));
    const again = await deliver(gzipReportMessage(report));
    expect(once.written).toEqual([expect.stringMatching(REPORT_KEY)]);
    expect(again.written).toEqual([]);
    expect(again.results[0]).toMatchObject({ outcome: 'accepted', written: [], duplicates: once.written });
    expect(metricValues(again)).toEqual({ 'Reports{Outcome=duplicate}': 1 });
    // The stored object is the first delivery's.
    expect((await server.json(once.written[0])).message_id).toBe(once.results[0].messageId);
  });

  test('a report for a domain not configured is kept apart and not counted', async () => {
    const report = { ...googleReport(), policies: [{ ...(googleReport().policies as any[])[0], policy: { 'policy-type': 'sts', 'policy-domain': 'stranger.example' } }] };
    const result = await deliver(gzipReportMessage(report, { domain: 'stranger.example' }));
    expect(result.written).toEqual([expect.stringMatching(/^unconfigured\/policy_domain=stranger\.example\/report_date=2024-09-03\/[0-9a-f]{32}\.json$/)]);
    expect(metricValues(result)).toEqual({ 'Reports{Outcome=unconfigured}': 1, 'Messages{Outcome=accepted}': 1 });
  });
});

describe('keeping what is not a usable report', () => {
  const REJECTED = (id: string) => [`rejected/received_date=2024-09-04/${id}.eml`, `rejected/received_date=2024-09-04/${id}.json`];

  async function expectRejected(result: Run, reason: string, detail: RegExp): Promise<void> {
    const id = result.results[0].messageId;
    expect(result.results[0]).toMatchObject({ outcome: 'rejected', reason });
    expect(result.written).toEqual(REJECTED(id));
    expect(await server.json(`rejected/received_date=2024-09-04/${id}.json`)).toMatchObject({
      reason,
      detail: expect.stringMatching(detail),
      messageId: id,
      rawKey: `raw/${id}`,
      verdicts: { dkim: 'PASS', spf: 'PASS', spam: 'PASS', virus: 'PASS' },
    });
    expect(metricValues(result)).toEqual({ 'Messages{Outcome=rejected}': 1 });
    expect(result.metrics[0].Reason).toBe(reason);
  }

  test('a DKIM verdict other than PASS quarantines the message, unparsed and uncounted', async () => {
    const raw = gzipReportMessage(googleReport());
    const result = await deliver(raw, { dkim: 'FAIL' });
    const id = result.results[0].messageId;
    expect(result.results[0]).toMatchObject({ outcome: 'quarantined', reason: 'dkim-not-pass' });
    expect(result.written).toEqual([`quarantine/received_date=2024-09-04/${id}.eml`, `quarantine/received_date=2024-09-04/${id}.json`]);
    expect(await server.text(`quarantine/received_date=2024-09-04/${id}.eml`)).toBe(raw.toString('latin1'));
    expect(await server.json(`quarantine/received_date=2024-09-04/${id}.json`)).toMatchObject({ reason: 'dkim-not-pass', verdicts: { dkim: 'FAIL' } });
    expect(metricValues(result)).toEqual({ 'Messages{Outcome=quarantined}': 1 });
  });

  test('a gzip bomb is stopped at the output limit and rejected', async () => {
    // 64 MiB of spaces inside a JSON object compresses to about 64 KiB.
    const bomb = gzipSync(Buffer.concat([Buffer.from('{"report-id":"'), Buffer.alloc(64 * MiB, 0x20), Buffer.from('"}')]));
    expect(bomb.length).toBeLessThan(MiB);
    const result = await deliver(reportMessage({ attachment: bomb }));
    await expectRejected(result, 'report-too-large', /decompresses to more than 4194304 bytes/);
  });

  test('a 50 MB message is rejected unread', async () => {
    const raw = Buffer.concat([gzipReportMessage(googleReport()), Buffer.alloc(50 * 1000 * 1000, 'A')]);
    const result = await deliver(raw);
    await expectRejected(result, 'message-too-large', /is 50\d{6} bytes, more than 10485760/);
  });

  test('an attachment that is not JSON is rejected', async () => {
    const raw = reportMessage({ attachment: gzipSync(Buffer.from('<html>not a report</html>')) });
    await expectRejected(await deliver(raw), 'not-a-report', /neither gzip nor a JSON object/);
  });

  test('broken JSON is rejected with the parser error', async () => {
    const raw = reportMessage({ attachment: gzipSync(Buffer.from('{"report-id": "x", "policies": [')) });
    await expectRejected(await deliver(raw), 'invalid-json', /^report must be JSON/);
  });

  test('JSON that is not a valid report is rejected with every problem', async () => {
    const raw = gzipReportMessage({ 'report-id': '', 'policies': [] });
    await expectRejected(await deliver(raw), 'invalid-report',
      /`report-id` must be a non-empty string, got: "".*`date-range.start-datetime`.*`policies` must be a non-empty array, got: \[\]/);
  });

  test('an HTML mail has no report part and is rejected', async () => {
    await expectRejected(await deliver(htmlMessage()), 'no-report-part', /parts: text\/plain, text\/html/);
  });

  test('a report message without its attachment is rejected', async () => {
    const raw = Buffer.from(gzipReportMessage(googleReport()).toString('latin1').replace(/------=_Part_0_123\r\nContent-Type: application[\s\S]*(?=------=_Part_0_123--)/, ''), 'latin1');
    await expectRejected(await deliver(raw), 'no-report-part', /parts: text\/plain$/);
  });

  test('random bytes are rejected, not thrown', async () => {
    await expectRejected(await deliver(randomBytes(4096)), 'no-report-part', /parts: text\/plain/);
  });

  test('a receipt event for a message that was never stored is rejected with a note only', async () => {
    const result = await handle(sesEvent('never-stored'));
    expect(result.results[0]).toMatchObject({ outcome: 'rejected', reason: 'raw-message-missing' });
    expect(result.written).toEqual(['rejected/received_date=2024-09-04/never-stored.json']);
  });

  test('a name of the report file is kept in the rejection when the part is garbage', async () => {
    const raw = reportMessage({ attachment: Buffer.from('garbage'), filename: reportFilename('google.com', 'example.com', false), mediaType: 'application/tlsrpt+json' });
    await expectRejected(await deliver(raw), 'not-a-report', /application\/tlsrpt\+json part/);
  });
});

test('a storage error is thrown so that Lambda retries, and the retry stores the report once', async () => {
  // GIVEN a handler configured with a bucket that does not exist
  const messageId = 'retry-after-storage-error';
  await server.putRaw(messageId, gzipReportMessage({ ...googleReport(), 'report-id': 'retry' }));
  // WHEN
  await expect(handle(sesEvent(messageId), { bucket: 'no-such-bucket' })).rejects.toThrow(/bucket does not exist/);
  const retried = await handle(sesEvent(messageId));
  // THEN
  expect(retried.written).toEqual([expect.stringMatching(REPORT_KEY)]);
});

describe('reading and writing, unit by unit', () => {
  const config = { policyDomains: new Map([['example.com', 'testing']]), maxReportBytes: 4 * MiB };

  test('an exception no check foresaw while reading a message becomes an `unreadable-report` rejection, never a crash', () => {
    // GIVEN a configuration whose domain lookup throws (standing in for any defect)
    const broken = { ...config, policyDomains: { has: () => { throw new RangeError('Maximum call stack size exceeded'); } } as unknown as Map<string, string> };
    // WHEN / THEN
    expect(() => readMessage(gzipReportMessage(googleReport()), broken)).toThrow(expect.objectContaining({
      reason: 'unreadable-report',
      message: 'the report could not be read: RangeError: Maximum call stack size exceeded',
    }));
    expect(readMessage(gzipReportMessage(googleReport()), config).report.policies).toHaveLength(1);
  });

  /** An S3 client that answers each PutObject/HeadObject with the next scripted answer. */
  function scripted(answers: Array<'ok' | 409 | 412 | { status: 412; attempts: number } | { head: string | 403 }>) {
    const sent: string[] = [];
    const s3 = {
      send: async (command: any) => {
        const name = command.constructor.name;
        const answer = answers.shift();
        sent.push(`${name} ${JSON.stringify(answer)}`);
        if (answer === 'ok') {
          return {};
        }
        if (typeof answer === 'object' && 'head' in answer) {
          if (answer.head === 403) {
            throw Object.assign(new Error('Forbidden'), { name: 'Forbidden', $metadata: { httpStatusCode: 403, attempts: 1 } });
          }
          return { Metadata: { [WRITE_ID_METADATA]: answer.head === 'ours' ? writeIds.at(-1) : answer.head } };
        }
        if (name === 'PutObjectCommand') {
          writeIds.push(command.input.Metadata[WRITE_ID_METADATA]);
        }
        const status = typeof answer === 'object' ? answer.status : answer;
        const attempts = typeof answer === 'object' && 'attempts' in answer ? answer.attempts : 1;
        throw Object.assign(new Error(`status ${status}`), {
          name: status === 412 ? 'PreconditionFailed' : 'ConditionalRequestConflict', $metadata: { httpStatusCode: status, attempts },
        });
      },
    };
    const writeIds: string[] = [];
    const lines: string[] = [];
    const deps = { s3: s3 as any, config: { bucket: 'b' } as CollectorConfig, log: (line: string) => lines.push(line) };
    return { deps, sent, writeIds, lines };
  }

  test('a 412 on the first attempt is a duplicate, without reading the object', async () => {
    const { deps, sent } = scripted([412]);
    await expect(putOnce(deps, 'reports/k.json', '{}', 'application/json')).resolves.toBe(false);
    expect(sent).toEqual(['PutObjectCommand 412']);
  });

  test('a 412 after the SDK retried is ours when the stored object carries this write\'s id', async () => {
    const { deps, sent } = scripted([{ status: 412, attempts: 2 }, { head: 'ours' }]);
    await expect(putOnce(deps, 'reports/k.json', '{}', 'application/json')).resolves.toBe(true);
    expect(sent).toEqual(['PutObjectCommand {"status":412,"attempts":2}', 'HeadObjectCommand {"head":"ours"}']);
  });

  test('a 412 after the SDK retried is another\'s when the write id differs, or cannot be read (with a warning)', async () => {
    const other = scripted([{ status: 412, attempts: 3 }, { head: 'someone-else' }]);
    await expect(putOnce(other.deps, 'reports/k.json', '{}', 'application/json')).resolves.toBe(false);
    const denied = scripted([{ status: 412, attempts: 2 }, { head: 403 }]);
    await expect(putOnce(denied.deps, 'reports/k.json', '{}', 'application/json')).resolves.toBe(false);
    expect(denied.lines.map(line => JSON.parse(line))).toEqual([
      { level: 'warn', reason: 'cannot-read-own-write', detail: 's3:GetObject on reports/k.json was denied', key: 'reports/k.json' },
    ]);
  });

  test('a 409 (a concurrent conditional write of the key) is tried again with the same write id', async () => {
    const { deps, sent, writeIds } = scripted([409, 409, 'ok']);
    await expect(putOnce(deps, 'reports/k.json', '{}', 'application/json')).resolves.toBe(true);
    expect(sent).toEqual(['PutObjectCommand 409', 'PutObjectCommand 409', 'PutObjectCommand "ok"']);
    expect(new Set(writeIds).size).toBe(1);
  });

  test('a 409 then a 412 is checked against the write id: the conflicting write may have been ours', async () => {
    const { deps } = scripted([409, 412, { head: 'ours' }]);
    await expect(putOnce(deps, 'reports/k.json', '{}', 'application/json')).resolves.toBe(true);
  });

  test('fails when S3 keeps answering 409, so that Lambda retries', async () => {
    const { deps } = scripted([409, 409, 409, 409]);
    await expect(putOnce(deps, 'reports/k.json', '{}', 'application/json')).rejects.toMatchObject({ name: 'ConditionalRequestConflict' });
  });
});

describe('configuration: the environment and the policy domains file beside the bundle', () => {
  function codeDir(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-config-'));
    for (const [name, text] of Object.entries(files)) {
      writeFileSync(join(dir, name), text);
    }
    return dir;
  }

  test('reads the domains and modes the construct wrote, and the settings from the environment', () => {
    // GIVEN the file as the construct renders it
    const dir = codeDir({ 'policy-domains.json': renderPolicyDomainsFile(new Map([['b.example.com', 'enforce'], ['a.example.com', 'testing']])) });
    // WHEN
    const config = configFromEnvironment({
      TLSRPT_BUCKET: 'bucket', TLSRPT_METRIC_NAMESPACE: 'TlsRpt', TLSRPT_MAX_MESSAGE_BYTES: '1024', TLSRPT_MAX_REPORT_BYTES: '2048',
    }, readPolicyDomains(dir));
    // THEN
    expect(config).toEqual({
      bucket: 'bucket',
      namespace: 'TlsRpt',
      maxMessageBytes: 1024,
      maxReportBytes: 2048,
      policyDomains: new Map([['a.example.com', 'testing'], ['b.example.com', 'enforce']]),
    });
  });

  test('fails at init when the code has no policy domains file, or one it cannot read: never counts nothing quietly', () => {
    expect(() => readPolicyDomains(codeDir({}))).toThrow(/policy-domains\.json must exist in the function's code \(the TlsRptCollector construct writes it\)/);
    expect(() => readPolicyDomains(codeDir({ 'policy-domains.json': 'example.com,example.org' })))
      .toThrow(/^policy-domains\.json must be JSON, got: /);
    expect(() => readPolicyDomains(codeDir({ 'policy-domains.json': '{"version":2,"policyDomains":{}}' })))
      .toThrow('policy-domains.json must be {"version":1,"policyDomains":{...}}, got: version 2');
    expect(() => readPolicyDomains(codeDir({ 'policy-domains.json': '{"version":1,"policyDomains":{"example.com":"strict"}}' })))
      .toThrow('policy-domains.json: the mode of example.com must be one of enforce, testing, none, got: "strict"');
  });

  test('fails when a setting is missing from the environment', () => {
    expect(() => configFromEnvironment({ TLSRPT_BUCKET: 'bucket' }, new Map())).toThrow('environment variable TLSRPT_METRIC_NAMESPACE must be set');
  });
});
