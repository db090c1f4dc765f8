import { COLLECTOR_ENVIRONMENT } from '../../core/collector-contract';
import { CopyObjectCommand, GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { MetricsLog, OUTCOME } from './metrics';
import { parseMimeMessage, headerOf } from './mime';
import { Rejection, decodeReport, findReportPart } from './report-part';
import {
  PolicyReport, STORAGE_PREFIXES, normaliseDomainName, parseTlsRptReport, reportObjectName, reportPartition,
} from '../../core/tlsrpt-report';

/** What the handler is configured with (from its environment in Lambda). */
export interface CollectorConfig {
  /** The bucket the receipt rule stores raw messages in and reports are written to. */
  readonly bucket: string;
  /** The configured policy domains, normalised. Reports for others are kept apart, not counted. */
  readonly policyDomains: ReadonlySet<string>;
  /** The CloudWatch namespace of the embedded metrics. */
  readonly namespace: string;
  /** Raw messages larger than this are rejected unread. */
  readonly maxMessageBytes: number;
  /** Decompression stops at this many bytes; larger reports are rejected. */
  readonly maxReportBytes: number;
}

/** What the handler uses from its surroundings; tests pass an S3 client for a loopback server. */
export interface CollectorDeps {
  readonly s3: S3Client;
  readonly config: CollectorConfig;
  /** Writes one line to the function's log (EMF lines included). */
  readonly log: (line: string) => void;
  /** The clock; received-date partitions of quarantined and rejected messages come from it. */
  readonly now?: () => Date;
}

/** The part of the SES receipt event the handler reads (Lambda action, event invocation). */
export interface SesReceiptEvent {
  readonly Records: ReadonlyArray<{
    readonly ses: {
      readonly mail: {
        readonly messageId: string;
        readonly timestamp?: string;
        readonly source?: string;
        readonly commonHeaders?: { readonly subject?: string; readonly from?: string[] };
      };
      readonly receipt: {
        readonly dkimVerdict?: { readonly status?: string };
        readonly spfVerdict?: { readonly status?: string };
        readonly spamVerdict?: { readonly status?: string };
        readonly virusVerdict?: { readonly status?: string };
      };
    };
  }>;
}

/** What happened to one message. */
export interface MessageResult {
  readonly messageId: string;
  readonly outcome: 'accepted' | 'quarantined' | 'rejected';
  readonly reason?: string;
  /** Keys written for this message (not those that already existed). */
  readonly written: string[];
  /** Report objects that already existed: a retried delivery, not stored or counted again. */
  readonly duplicates: string[];
}

/**
 * Handles the SES receipt rule's Lambda action: reads each raw message where the S3 action
 * stored it, stores its report once per policy domain, and emits metrics for configured
 * domains. Content problems never throw (the message is kept with its reason); only storage
 * errors do, so that Lambda retries, which the write-once keys make harmless.
 */
export async function handleSesEvent(event: SesReceiptEvent, deps: CollectorDeps): Promise<MessageResult[]> {
  const results: MessageResult[] = [];
  for (const record of event.Records ?? []) {
    results.push(await handleMessage(record.ses, deps));
  }
  return results;
}

async function handleMessage(ses: SesReceiptEvent['Records'][number]['ses'], deps: CollectorDeps): Promise<MessageResult> {
  const { config } = deps;
  const metrics = new MetricsLog(config.namespace, deps.log);
  const messageId = ses.mail.messageId;
  const rawKey = `${STORAGE_PREFIXES.raw}${messageId}`;
  const receivedDate = (deps.now?.() ?? new Date()).toISOString().slice(0, 10);
  const verdicts = {
    dkim: ses.receipt.dkimVerdict?.status ?? 'MISSING',
    spf: ses.receipt.spfVerdict?.status ?? 'MISSING',
    spam: ses.receipt.spamVerdict?.status ?? 'MISSING',
    virus: ses.receipt.virusVerdict?.status ?? 'MISSING',
  };
  const envelope = { messageId, rawKey, source: ses.mail.source ?? null, subject: ses.mail.commonHeaders?.subject ?? null, verdicts };

  // RFC 8460 §3: a report without a valid DKIM signature MUST be ignored. Keep it for a human.
  if (verdicts.dkim !== 'PASS') {
    const written = await keepMessage(deps, STORAGE_PREFIXES.quarantine, receivedDate, envelope, 'dkim-not-pass',
      `the SES DKIM verdict is ${verdicts.dkim}, not PASS (RFC 8460 section 3)`);
    metrics.message(OUTCOME.quarantined, 'dkim-not-pass');
    return { messageId, outcome: 'quarantined', reason: 'dkim-not-pass', written, duplicates: [] };
  }

  let reports: PolicyReport[];
  let reportHeaders: Record<string, string | null>;
  try {
    const raw = await readRaw(deps, rawKey);
    const message = parseMimeMessage(raw);
    reportHeaders = {
      reportDomain: headerOf(message, 'tls-report-domain') ?? null,
      submitter: headerOf(message, 'tls-report-submitter') ?? null,
    };
    reports = parseOrReject(decodeReport(findReportPart(message.parts), config.maxReportBytes));
  } catch (error) {
    if (!(error instanceof Rejection)) {
      throw error;
    }
    const written = await keepMessage(deps, STORAGE_PREFIXES.rejected, receivedDate, envelope, error.reason, error.message);
    metrics.message(OUTCOME.rejected, error.reason);
    return { messageId, outcome: 'rejected', reason: error.reason, written, duplicates: [] };
  }

  const { written, duplicates } = await storeReports(deps, metrics, reports, { messageId, receivedDate, submitter: reportHeaders.submitter });
  metrics.message(OUTCOME.accepted);
  return { messageId, outcome: 'accepted', written, duplicates };
}

/** Where a report came from, stored with it. */
export interface ReportOrigin {
  /** The SES message id, or `https-<request id>` for a report POSTed over HTTPS. */
  readonly messageId: string;
  readonly receivedDate: string;
  /** The TLS-Report-Submitter header, when given. */
  readonly submitter: string | null;
}

/**
 * Stores each policy report once (S3 conditional write): configured domains under `reports/`
 * and counted, others under `unconfigured/` and not counted. Objects that already existed are
 * duplicates: neither stored nor counted again.
 */
export async function storeReports(
  deps: CollectorDeps, metrics: MetricsLog, reports: readonly PolicyReport[], origin: ReportOrigin,
): Promise<{ written: string[]; duplicates: string[] }> {
  const written: string[] = [];
  const duplicates: string[] = [];
  for (const report of reports) {
    const configured = deps.config.policyDomains.has(report.policy_domain);
    const prefix = configured ? STORAGE_PREFIXES.reports : STORAGE_PREFIXES.unconfigured;
    const key = `${prefix}${reportPartition(report)}${reportObjectName(report)}`;
    const stored = { ...report, message_id: origin.messageId, received_date: origin.receivedDate, submitter: origin.submitter };
    // One line of JSON per object: the query table's SerDe reads one record per line.
    const created = await putOnce(deps, key, `${JSON.stringify(stored)}\n`, 'application/json');
    if (!created) {
      duplicates.push(key);
      metrics.report(OUTCOME.duplicate);
      continue;
    }
    written.push(key);
    if (configured) {
      metrics.report(OUTCOME.stored);
      metrics.sessions(report);
    } else {
      metrics.report(OUTCOME.unconfigured);
    }
  }
  return { written, duplicates };
}

/** Parses a report's JSON text into policy reports, or throws a Rejection with every problem. */
export function parseOrReject(json: string): PolicyReport[] {
  const parsed = parseTlsRptReport(json);
  if (!parsed.report) {
    const reason = parsed.problems[0]?.startsWith('report must be JSON') ? 'invalid-json' : 'invalid-report';
    throw new Rejection(reason, parsed.problems.join('; '));
  }
  return parsed.report.policies;
}

/** Reads the raw message, refusing to read more than the configured size. */
async function readRaw(deps: CollectorDeps, key: string): Promise<Buffer> {
  const max = deps.config.maxMessageBytes;
  let response;
  try {
    response = await deps.s3.send(new GetObjectCommand({ Bucket: deps.config.bucket, Key: key }));
  } catch (error) {
    if (error instanceof S3ServiceException && error.name === 'NoSuchKey') {
      throw new Rejection('raw-message-missing', `no raw message at ${key}`);
    }
    throw error;
  }
  const body = response.Body as (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
  if (response.ContentLength !== undefined && response.ContentLength > max) {
    body?.destroy?.();
    throw new Rejection('message-too-large', `the message is ${response.ContentLength} bytes, more than ${max}`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    total += chunk.length;
    if (total > max) {
      body?.destroy?.();
      throw new Rejection('message-too-large', `the message is more than ${max} bytes`);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/**
 * Writes an object only if no object has the key (S3 conditional write, `If-None-Match: *`).
 * Returns false when it existed: S3 answers 412 Precondition Failed (or 409 on a concurrent write).
 */
async function putOnce(deps: CollectorDeps, key: string, body: string | Buffer, contentType: string): Promise<boolean> {
  try {
    await deps.s3.send(new PutObjectCommand({
      Bucket: deps.config.bucket,
      Key: key,
      Body: body,
      ContentType: contentType,
      IfNoneMatch: '*',
    }));
    return true;
  } catch (error) {
    const status = (error as S3ServiceException).$metadata?.httpStatusCode;
    if (status === 412 || status === 409 || (error as Error).name === 'PreconditionFailed') {
      return false;
    }
    throw error;
  }
}

/** Keeps a quarantined or rejected message: a copy of the raw message and a note with the reason. */
export async function keepMessage(
  deps: CollectorDeps, prefix: string, receivedDate: string, envelope: { messageId: string; rawKey?: string },
  reason: string, detail: string, body?: { bytes: Buffer; extension: string; contentType: string },
): Promise<string[]> {
  const base = `${prefix}received_date=${receivedDate}/${envelope.messageId}`;
  const written: string[] = [];
  if (body) {
    if (await putOnce(deps, `${base}${body.extension}`, body.bytes, body.contentType)) {
      written.push(`${base}${body.extension}`);
    }
  } else if (envelope.rawKey && reason !== 'raw-message-missing') {
    try {
      await deps.s3.send(new CopyObjectCommand({
        Bucket: deps.config.bucket,
        Key: `${base}.eml`,
        CopySource: `${deps.config.bucket}/${encodeURIComponent(envelope.rawKey).replace(/%2F/g, '/')}`,
        ContentType: 'message/rfc822',
      }));
      written.push(`${base}.eml`);
    } catch (error) {
      if (!(error instanceof S3ServiceException && error.name === 'NoSuchKey')) {
        throw error;
      }
    }
  }
  const note = { reason, detail, ...envelope };
  if (await putOnce(deps, `${base}.json`, `${JSON.stringify(note)}\n`, 'application/json')) {
    written.push(`${base}.json`);
  }
  deps.log(JSON.stringify({ level: 'warn', reason, detail, messageId: envelope.messageId }));
  return written;
}

/** Reads the handler's configuration from its Lambda environment. */
export function configFromEnvironment(env: NodeJS.ProcessEnv): CollectorConfig {
  const required = (name: string): string => {
    const value = env[name];
    if (!value) {
      throw new Error(`environment variable ${name} must be set`);
    }
    return value;
  };
  const domains = (env[COLLECTOR_ENVIRONMENT.policyDomains] ?? '').split(',')
    .map(domain => normaliseDomainName(domain))
    .filter((domain): domain is string => domain !== null);
  return {
    bucket: required(COLLECTOR_ENVIRONMENT.bucket),
    policyDomains: new Set(domains),
    namespace: required(COLLECTOR_ENVIRONMENT.metricNamespace),
    maxMessageBytes: Number(required(COLLECTOR_ENVIRONMENT.maxMessageBytes)),
    maxReportBytes: Number(required(COLLECTOR_ENVIRONMENT.maxReportBytes)),
  };
}
