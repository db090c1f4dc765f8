import { MetricsLog, OUTCOME } from './metrics';
import { CollectorDeps, keepMessage, parseOrReject, storeReports } from './process';
import { Rejection, decodeReport } from './report-part';
import { STORAGE_PREFIXES } from '../../core/tlsrpt-report';

/**
 * HTTPS reception (RFC 8460 §5.4) behind a Lambda function URL: a POST of
 * `application/tlsrpt+gzip` or `application/tlsrpt+json`. The answer is 201 (stored) or 200
 * (already stored: a retry) only after the report is in the bucket; 4xx for what a retry cannot
 * fix (413 too large, 415 wrong media type, 400 not a report); a storage error fails the
 * invocation (502), which senders retry with back-off (§5.5).
 */

/** The part of a function URL request (payload format 2.0) the handler reads. */
export interface HttpsRequest {
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
  readonly headers?: Readonly<Record<string, string | undefined>>;
  readonly requestContext?: { readonly requestId?: string; readonly http?: { readonly method?: string } };
}

/** A function URL response. */
export interface HttpsResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const MEDIA_TYPES = ['application/tlsrpt+gzip', 'application/tlsrpt+json'];

/** Statuses of rejections; anything else is 400. */
const STATUS: Record<string, number> = {
  'method-not-allowed': 405,
  'unsupported-media-type': 415,
  'message-too-large': 413,
  'report-too-large': 413,
};

/** Handles one POSTed report. */
export async function handleHttpsReport(request: HttpsRequest, deps: CollectorDeps): Promise<HttpsResponse> {
  const metrics = new MetricsLog(deps.config.namespace, deps.log);
  const receivedDate = (deps.now?.() ?? new Date()).toISOString().slice(0, 10);
  const messageId = `https-${(request.requestContext?.requestId ?? `${Date.now()}`).replace(/[^A-Za-z0-9-]/g, '')}`;
  const headers = Object.fromEntries(Object.entries(request.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value ?? '']));
  const mediaType = (headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  let body: Buffer | undefined;
  try {
    const method = request.requestContext?.http?.method ?? 'POST';
    if (method !== 'POST') {
      throw new Rejection('method-not-allowed', `reports are POSTed, got: ${method}`);
    }
    if (!MEDIA_TYPES.includes(mediaType)) {
      throw new Rejection('unsupported-media-type', `Content-Type must be ${MEDIA_TYPES.join(' or ')}, got: "${mediaType}"`);
    }
    body = Buffer.from(request.body ?? '', request.isBase64Encoded ? 'base64' : 'utf8');
    if (body.length > deps.config.maxMessageBytes) {
      const size = body.length;
      body = undefined; // not kept
      throw new Rejection('message-too-large', `the body is ${size} bytes, more than ${deps.config.maxMessageBytes}`);
    }
    const reports = parseOrReject(decodeReport({ mediaType, body }, deps.config.maxReportBytes));
    const { written, duplicates } = await storeReports(deps, metrics, reports, {
      messageId, receivedDate, submitter: headers['tls-report-submitter'] || null,
    });
    metrics.message(OUTCOME.accepted);
    return json(written.length > 0 ? 201 : 200, { stored: written.length, duplicates: duplicates.length });
  } catch (error) {
    if (!(error instanceof Rejection)) {
      throw error;
    }
    await keepMessage(deps, STORAGE_PREFIXES.rejected, receivedDate, { messageId }, error.reason, error.message,
      body ? { bytes: body, extension: '.bin', contentType: mediaType || 'application/octet-stream' } : undefined);
    metrics.message(OUTCOME.rejected, error.reason);
    return json(STATUS[error.reason] ?? 400, { error: error.reason, detail: error.message });
  }
}

function json(statusCode: number, body: unknown): HttpsResponse {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
