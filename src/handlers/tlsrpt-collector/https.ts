import { createHash } from 'node:crypto';
import { MetricsLog, OUTCOME } from './metrics';
import { CollectorDeps, keepMessage, putOnce, readReport } from './process';
import { Rejection, decodeReport } from './report-part';
import { COLLECTOR_HTTPS_ENVIRONMENT } from '../../core/collector-contract';
import { PolicyReport, STORAGE_PREFIXES, TlsRptReport, reportPartition } from '../../core/tlsrpt-report';

/**
 * HTTPS reception (RFC 8460 §5.4) behind a Lambda function URL: a POST of
 * `application/tlsrpt+gzip` or `application/tlsrpt+json`. The answer is 201 (stored) or 200
 * (already stored: a retry) only after the report is in the bucket; 4xx for what a retry cannot
 * fix (413 too large, 415 wrong media type, 400 not a plausible report); a storage error fails the
 * invocation (502), which senders retry with back-off (§5.5).
 *
 * Nothing authenticates a POST (the RFC defines no authentication), so:
 * - a POSTed report never shares a key with a mail report: its object name is `https-` and a hash
 *   of its whole content, so it can neither displace (be taken for) a DKIM-verified report nor
 *   another POSTed report that differs from it;
 * - it is kept under `https/` and not counted, unless the collector counts HTTPS reports
 *   (`countHttpsReports`); then it goes under `reports/` (or `unconfigured/`) beside mail reports,
 *   through the same metrics code;
 * - a date range that cannot be a real report's is rejected (see `implausibleDateRange`);
 * - a rejected body is never stored: only a small note, under `rejected/`; so are policies that
 *   cannot be read (their positions and problems, not the entries), while the others are stored.
 */

/** The part of a function URL request (payload format 2.0) the handler reads. */
export interface HttpsRequest {
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
  readonly headers?: Readonly<Record<string, string | undefined>>;
  readonly requestContext?: {
    readonly requestId?: string;
    readonly http?: { readonly method?: string; readonly sourceIp?: string; readonly userAgent?: string };
  };
}

/** A function URL response. */
export interface HttpsResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** How POSTed reports are treated. */
export interface HttpsOptions {
  /** Count them like mail reports (metrics, alarms, query table), or keep them under `https/` uncounted. */
  readonly countReports: boolean;
}

/** The options of the HTTPS processor's environment (COLLECTOR_HTTPS_ENVIRONMENT). */
export function httpsOptionsFromEnvironment(env: NodeJS.ProcessEnv): HttpsOptions {
  return { countReports: env[COLLECTOR_HTTPS_ENVIRONMENT.countReports] === 'true' };
}

/** The limits a report's `date-range` must keep to (RFC 8460 §4.4). */
export const DATE_RANGE_LIMITS = {
  /** The longest range: reports cover a UTC day (§4.1), a week leaves room for reporters that batch. */
  maxLengthMs: 7 * 24 * 3600_000,
  /** How far past the time of receipt the range may end: clock skew, and ends at the next day's 00:00:00Z. */
  maxFutureMs: 24 * 3600_000,
} as const;

/** The longest reason detail kept in a note and returned to the sender. */
const MAX_DETAIL_LENGTH = 1000;

const MEDIA_TYPES = ['application/tlsrpt+gzip', 'application/tlsrpt+json'];

/** Statuses of rejections; anything else is 400. */
const STATUS: Record<string, number> = {
  'method-not-allowed': 405,
  'unsupported-media-type': 415,
  'message-too-large': 413,
  'report-too-large': 413,
};

/**
 * Why a report's date range cannot be a real report's, or undefined when it is plausible: the
 * range must run forwards, last at most 7 days, and end no later than a day after the report was
 * received (a report is sent once its range is over).
 */
export function implausibleDateRange(report: Pick<PolicyReport, 'start_datetime' | 'end_datetime'>, receivedAt: Date): string | undefined {
  const start = Date.parse(report.start_datetime);
  const end = Date.parse(report.end_datetime);
  const range = `${report.start_datetime} to ${report.end_datetime}`;
  if (!(end > start)) {
    return `\`date-range\` must end after it starts, got: ${range}`;
  }
  if (end - start > DATE_RANGE_LIMITS.maxLengthMs) {
    return `\`date-range\` must cover at most 7 days, got: ${range}`;
  }
  if (end > receivedAt.getTime() + DATE_RANGE_LIMITS.maxFutureMs) {
    return `\`date-range\` must end before the report is sent (a day's leeway), got: ${range}, received ${receivedAt.toISOString()}`;
  }
  return undefined;
}

/**
 * The object name of a POSTed report: `https-` and a hash of the whole normalised policy report,
 * so every retry of one POST hits the same key while no other report (by mail, or POSTed with
 * other content) can.
 */
export function httpsObjectName(report: PolicyReport): string {
  return `https-${createHash('sha256').update(JSON.stringify(report), 'utf8').digest('hex').slice(0, 32)}.json`;
}

/** Handles one POSTed report. */
export async function handleHttpsReport(
  request: HttpsRequest, deps: CollectorDeps, options: HttpsOptions = httpsOptionsFromEnvironment(process.env),
): Promise<HttpsResponse> {
  const metrics = new MetricsLog(deps.config.namespace, deps.log);
  const receivedAt = deps.now?.() ?? new Date();
  const receivedDate = receivedAt.toISOString().slice(0, 10);
  const messageId = `https-${(request.requestContext?.requestId ?? `${Date.now()}`).replace(/[^A-Za-z0-9-]/g, '')}`;
  const headers = Object.fromEntries(Object.entries(request.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value ?? '']));
  const mediaType = (headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  const submitter = headers['tls-report-submitter'] || null;
  let bytes: number | null = null;
  try {
    const method = request.requestContext?.http?.method ?? 'POST';
    if (method !== 'POST') {
      throw new Rejection('method-not-allowed', `reports are POSTed, got: ${method}`);
    }
    if (!MEDIA_TYPES.includes(mediaType)) {
      throw new Rejection('unsupported-media-type', `Content-Type must be ${MEDIA_TYPES.join(' or ')}, got: "${mediaType}"`);
    }
    const body = Buffer.from(request.body ?? '', request.isBase64Encoded ? 'base64' : 'utf8');
    bytes = body.length;
    if (body.length > deps.config.maxMessageBytes) {
      throw new Rejection('message-too-large', `the body is ${body.length} bytes, more than ${deps.config.maxMessageBytes}`);
    }
    const report = readPostedReport(body, mediaType, deps.config.maxReportBytes);
    for (const policy of report.policies) {
      const problem = implausibleDateRange(policy, receivedAt);
      if (problem) {
        throw new Rejection('implausible-date-range', problem);
      }
    }
    const { written, duplicates } = await storeHttpsReports(deps, metrics, report.policies, { messageId, receivedDate, submitter }, options);
    const rejected = report.rejectedPolicies;
    if (rejected.length > 0) {
      const detail = cut(rejected.map(policy => `policies[${policy.index}]: ${policy.problems.join('; ')}`).join('; '));
      // Their positions and problems only: not the entries as sent.
      const note = { messageId, rejectedPolicies: rejected.map(policy => policy.index) };
      await keepMessage(deps, STORAGE_PREFIXES.rejected, receivedDate, note, 'invalid-policy', detail);
      rejected.forEach(() => metrics.report(OUTCOME.rejected));
    }
    // Counted once: a repeated POST of a stored report adds nothing (as a redelivered message).
    if (written.length > 0) {
      metrics.message(OUTCOME.accepted);
    }
    return json(written.length > 0 ? 201 : 200, {
      stored: written.length, duplicates: duplicates.length, ...(rejected.length > 0 ? { rejected: rejected.length } : {}),
    });
  } catch (error) {
    if (!(error instanceof Rejection)) {
      throw error;
    }
    const detail = cut(error.message);
    // A small note of the rejected POST, never its body: who sent what, and why it was refused.
    const note: RejectedPost = {
      messageId,
      contentType: mediaType.slice(0, 200) || null,
      bytes,
      sourceIp: request.requestContext?.http?.sourceIp ?? null,
      userAgent: (request.requestContext?.http?.userAgent ?? headers['user-agent'] ?? '').slice(0, 200) || null,
      submitter: submitter?.slice(0, 200) ?? null,
    };
    await keepMessage(deps, STORAGE_PREFIXES.rejected, receivedDate, note, error.reason, detail);
    metrics.message(OUTCOME.rejected, error.reason);
    return json(STATUS[error.reason] ?? 400, { error: error.reason, detail });
  }
}

/** What the note of a rejected POST records besides the reason. */
interface RejectedPost {
  /** `https-<request id>`. */
  readonly messageId: string;
  readonly contentType: string | null;
  /** The body's size; the body itself is not kept. */
  readonly bytes: number | null;
  readonly sourceIp: string | null;
  readonly userAgent: string | null;
  readonly submitter: string | null;
}

/** A reason detail, cut to MAX_DETAIL_LENGTH. */
function cut(detail: string): string {
  return detail.length > MAX_DETAIL_LENGTH ? `${detail.slice(0, MAX_DETAIL_LENGTH - 3)}...` : detail;
}

/** Decodes and parses a POSTed body; whatever goes wrong while reading it is the sender's problem (4xx), never a 502. */
function readPostedReport(body: Buffer, mediaType: string, maxReportBytes: number): TlsRptReport {
  try {
    // No TLS-Report-Domain header over HTTPS: a policy without policy-domain cannot be read.
    return readReport(decodeReport({ mediaType, body }, maxReportBytes));
  } catch (error) {
    if (error instanceof Rejection) {
      throw error;
    }
    throw new Rejection('unreadable-report', `the report could not be read: ${(error as Error).name ?? 'Error'}`);
  }
}

/** Where a POSTed report came from, stored with it. */
interface HttpsOrigin {
  readonly messageId: string;
  readonly receivedDate: string;
  readonly submitter: string | null;
}

/**
 * Stores each POSTed policy report once, in the HTTPS key space (see `httpsObjectName`): under
 * `https/` uncounted, or, when HTTPS reports count, under `reports/` (configured domains, counted
 * through the same metrics code as mail reports) or `unconfigured/`.
 */
async function storeHttpsReports(
  deps: CollectorDeps, metrics: MetricsLog, reports: readonly PolicyReport[], origin: HttpsOrigin, options: HttpsOptions,
): Promise<{ written: string[]; duplicates: string[] }> {
  const written: string[] = [];
  const duplicates: string[] = [];
  for (const report of reports) {
    const mode = deps.config.policyDomains.get(report.policy_domain);
    const prefix = !options.countReports ? STORAGE_PREFIXES.https : mode !== undefined ? STORAGE_PREFIXES.reports : STORAGE_PREFIXES.unconfigured;
    const key = `${prefix}${reportPartition(report)}${httpsObjectName(report)}`;
    const stored = { ...report, message_id: origin.messageId, received_date: origin.receivedDate, submitter: origin.submitter };
    // One line of JSON per object: the query table's SerDe reads one record per line.
    if (!await putOnce(deps, key, `${JSON.stringify(stored)}\n`, 'application/json')) {
      duplicates.push(key);
      metrics.report(OUTCOME.duplicate);
      continue;
    }
    written.push(key);
    if (mode === undefined) {
      metrics.report(OUTCOME.unconfigured);
    } else if (options.countReports) {
      metrics.report(OUTCOME.stored);
      metrics.sessions(report, mode);
    } else {
      metrics.report(OUTCOME.uncounted);
    }
  }
  return { written, duplicates };
}

function json(statusCode: number, body: unknown): HttpsResponse {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
