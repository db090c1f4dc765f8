import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CopyObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, S3ServiceException,
} from '@aws-sdk/client-s3';
import { MetricsLog, OUTCOME } from './metrics';
import { parseMimeMessage, headerOf } from './mime';
import { Rejection, decodeReport, findReportPart } from './report-part';
import { COLLECTOR_ENVIRONMENT, COLLECTOR_POLICY_DOMAINS_FILE, parsePolicyDomainsFile } from '../../core/collector-contract';
import {
  ParseOptions, PolicyReport, STORAGE_PREFIXES, TlsRptReport, normaliseDomainName, parseTlsRptReport, reportObjectName,
  reportPartition,
} from '../../core/tlsrpt-report';

/** What the handler is configured with (from its environment in Lambda). */
export interface CollectorConfig {
  /** The bucket the receipt rule stores raw messages in and reports are written to. */
  readonly bucket: string;
  /**
   * The configured policy domains, normalised, each with its MTA-STS mode (`enforce`, `testing`,
   * `none`: the `Mode` dimension of its session metrics). Reports for others are kept apart, not counted.
   */
  readonly policyDomains: ReadonlyMap<string, string>;
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
  /** The clock; used when an event carries no time of receipt. */
  readonly now?: () => Date;
}

/** The part of the SES receipt event the handler reads (Lambda action, event invocation). */
export interface SesReceiptEvent {
  readonly Records: ReadonlyArray<{
    readonly ses: {
      readonly mail: {
        readonly messageId: string;
        /** When SES received the message: the same in every delivery of the event. */
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
  /** Positions in the report's `policies` of those that could not be read (kept aside); absent when none. */
  readonly rejectedPolicies?: number[];
}

/**
 * Handles the SES receipt rule's Lambda action: reads each raw message where the S3 action
 * stored it, stores each policy of its report once, and emits metrics for configured domains.
 *
 * Content problems never throw: the message, or the policy that cannot be read, is kept with its
 * reason. Only storage errors throw, so that Lambda retries; write-once keys make retries
 * harmless, and each metric is emitted by the delivery that wrote its object: a message is
 * counted (`Messages`) once, by the delivery that wrote its note (quarantined, rejected) or its
 * first policy's object (accepted).
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
  // The partition of what is kept comes from SES's time of receipt, not the clock: a retry on
  // another day must hit the same keys.
  const receivedDate = receivedDateOf(ses.mail.timestamp, deps);
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
    if (written.some(key => key.endsWith('.json'))) {
      metrics.message(OUTCOME.quarantined, 'dkim-not-pass');
    }
    return { messageId, outcome: 'quarantined', reason: 'dkim-not-pass', written, duplicates: [] };
  }

  let report: TlsRptReport;
  let submitter: string | null = null;
  try {
    const raw = await readRaw(deps, rawKey);
    ({ report, submitter } = readMessage(raw, config));
  } catch (error) {
    if (!(error instanceof Rejection)) {
      throw error;
    }
    const written = await keepMessage(deps, STORAGE_PREFIXES.rejected, receivedDate, envelope, error.reason, error.message);
    if (written.some(key => key.endsWith('.json'))) {
      metrics.message(OUTCOME.rejected, error.reason);
    }
    return { messageId, outcome: 'rejected', reason: error.reason, written, duplicates: [] };
  }

  const origin = { messageId, receivedDate, submitter };
  // The message is counted by the delivery that stores its first policy: exactly one delivery
  // does, however many run at once or one after another.
  const { written, duplicates } = await storeReports(deps, metrics, report.policies, origin, () => metrics.message(OUTCOME.accepted));
  written.push(...await keepRejectedPolicies(deps, metrics, report, origin));
  const rejectedPolicies = report.rejectedPolicies.map(rejected => rejected.index);
  return { messageId, outcome: 'accepted', written, duplicates, ...(rejectedPolicies.length > 0 ? { rejectedPolicies } : {}) };
}

/**
 * Reads the report of a raw message. Pure: every exception, whatever it is, becomes a Rejection
 * with its reason (`unreadable-report` for one no check foresaw), never a failed invocation.
 */
export function readMessage(raw: Buffer, config: Pick<CollectorConfig, 'policyDomains' | 'maxReportBytes'>): { report: TlsRptReport; submitter: string | null } {
  try {
    const message = parseMimeMessage(raw);
    const reportDomain = normaliseDomainName(headerOf(message, 'tls-report-domain') ?? '');
    const submitter = headerOf(message, 'tls-report-submitter') ?? null;
    const json = decodeReport(findReportPart(message.parts), config.maxReportBytes);
    // The header stands in for a missing policy-domain only when it names a configured domain.
    const options: ParseOptions = reportDomain !== null && config.policyDomains.has(reportDomain) ? { reportDomain } : {};
    return { report: readReport(json, options), submitter };
  } catch (error) {
    if (error instanceof Rejection) {
      throw error;
    }
    throw new Rejection('unreadable-report', `the report could not be read: ${describeError(error)}`);
  }
}

/**
 * Parses a report's JSON text, or throws a Rejection with every problem: `invalid-json`,
 * `nested-too-deep` or `invalid-report` (no policy could be read). Policies that cannot be read
 * are in `rejectedPolicies`.
 */
export function readReport(json: string, options: ParseOptions = {}): TlsRptReport {
  const parsed = parseTlsRptReport(json, options);
  if (!parsed.report) {
    throw new Rejection(parsed.reason ?? 'invalid-report', parsed.problems.join('; '));
  }
  return parsed.report;
}

/**
 * Parses a report's JSON text into policy reports, or throws a Rejection with every problem,
 * also when a single policy cannot be read (the whole report is refused).
 */
export function parseOrReject(json: string, options: ParseOptions = {}): PolicyReport[] {
  const report = readReport(json, options);
  if (report.rejectedPolicies.length > 0) {
    throw new Rejection('invalid-report', report.rejectedPolicies.flatMap(rejected => rejected.problems).join('; '));
  }
  return report.policies;
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
 * duplicates: neither stored nor counted again. `firstStored` is called as soon as this call
 * has stored the object of the first report (not when that one existed already).
 */
export async function storeReports(
  deps: CollectorDeps, metrics: MetricsLog, reports: readonly PolicyReport[], origin: ReportOrigin, firstStored?: () => void,
): Promise<{ written: string[]; duplicates: string[] }> {
  const written: string[] = [];
  const duplicates: string[] = [];
  for (const [index, report] of reports.entries()) {
    const mode = deps.config.policyDomains.get(report.policy_domain);
    const prefix = mode !== undefined ? STORAGE_PREFIXES.reports : STORAGE_PREFIXES.unconfigured;
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
    if (index === 0) {
      firstStored?.();
    }
    if (mode !== undefined) {
      metrics.report(OUTCOME.stored);
      metrics.sessions(report, mode);
    } else {
      metrics.report(OUTCOME.unconfigured);
    }
  }
  return { written, duplicates };
}

/**
 * Keeps the policies of a report that could not be read, all in one note under `rejected/`
 * (`<message id>.policies.json`: each policy's position, problems and entry as sent), counted
 * once as `Reports{Outcome=rejected}` each. Returns the key when this delivery wrote it.
 */
export async function keepRejectedPolicies(
  deps: CollectorDeps, metrics: MetricsLog, report: TlsRptReport, origin: ReportOrigin,
): Promise<string[]> {
  if (report.rejectedPolicies.length === 0) {
    return [];
  }
  const key = `${STORAGE_PREFIXES.rejected}received_date=${origin.receivedDate}/${origin.messageId}.policies.json`;
  const note = {
    reason: 'invalid-policy',
    detail: report.rejectedPolicies.flatMap(rejected => rejected.problems).join('; '),
    messageId: origin.messageId,
    report_id: report.reportId,
    organization_name: report.organizationName,
    submitter: origin.submitter,
    policies: report.rejectedPolicies,
  };
  const created = await putOnce(deps, key, `${safeJson(note)}\n`, 'application/json');
  deps.log(JSON.stringify({ level: 'warn', reason: 'invalid-policy', detail: note.detail, messageId: origin.messageId }));
  if (!created) {
    return [];
  }
  for (let i = 0; i < report.rejectedPolicies.length; i++) {
    metrics.report(OUTCOME.rejected);
  }
  return [key];
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

/** The user metadata (`x-amz-meta-write-id`) that tells which write stored an object. */
export const WRITE_ID_METADATA = 'write-id';
/** How often a write that S3 answers 409 (a concurrent conditional write of the key) is tried again. */
const CONFLICT_RETRIES = 3;

/**
 * Writes an object only if no object has the key (S3 conditional write, `If-None-Match: *`).
 * Returns true when this call stored it, false when it existed already (S3 answers 412).
 *
 * Each call tags its object with a random write id. When S3 stored the object but its answer
 * was lost, the SDK's retry gets 412; so after more than one attempt, a 412 is checked against
 * the stored object's write id: our own write counts as written (and is counted), another's as
 * a duplicate. A 409 (a concurrent conditional write) is tried again: the other write may fail.
 */
export async function putOnce(deps: CollectorDeps, key: string, body: string | Buffer, contentType: string): Promise<boolean> {
  const writeId = randomUUID();
  let attempts = 0;
  for (let conflicts = 0; ; conflicts++) {
    try {
      await deps.s3.send(new PutObjectCommand({
        Bucket: deps.config.bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        Metadata: { [WRITE_ID_METADATA]: writeId },
        IfNoneMatch: '*',
      }));
      return true;
    } catch (error) {
      const status = (error as S3ServiceException).$metadata?.httpStatusCode;
      attempts += (error as S3ServiceException).$metadata?.attempts ?? 1;
      if (status === 409 && conflicts < CONFLICT_RETRIES) {
        await new Promise(resolve => setTimeout(resolve, 50 * 2 ** conflicts));
        continue;
      }
      if (status === 412 || (error as Error).name === 'PreconditionFailed') {
        return attempts > 1 && await storedBy(deps, key, writeId);
      }
      throw error;
    }
  }
}

/**
 * Whether the object at `key` was stored by the write with this id. Without permission to read
 * it (S3 answers 403), it is taken for another's, with a warning: counted as a duplicate.
 */
async function storedBy(deps: CollectorDeps, key: string, writeId: string): Promise<boolean> {
  try {
    const head = await deps.s3.send(new HeadObjectCommand({ Bucket: deps.config.bucket, Key: key }));
    return head.Metadata?.[WRITE_ID_METADATA] === writeId;
  } catch (error) {
    if ((error as S3ServiceException).$metadata?.httpStatusCode !== 403) {
      throw error;
    }
    deps.log(JSON.stringify({ level: 'warn', reason: 'cannot-read-own-write', detail: `s3:GetObject on ${key} was denied`, key }));
    return false;
  }
}

/**
 * Keeps a quarantined or rejected message: a copy of the raw message and a note with the reason,
 * `<prefix>received_date=<date>/<message id>.json`. Returns the keys this call wrote; the note
 * is written once, so a retried delivery finds it and writes nothing.
 */
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
  if (await putOnce(deps, `${base}.json`, `${safeJson(note)}\n`, 'application/json')) {
    written.push(`${base}.json`);
  }
  deps.log(JSON.stringify({ level: 'warn', reason, detail, messageId: envelope.messageId }));
  return written;
}

/**
 * Reads the handler's configuration from its Lambda environment and the configured policy
 * domains (see `readPolicyDomains`).
 */
export function configFromEnvironment(env: NodeJS.ProcessEnv, policyDomains: ReadonlyMap<string, string>): CollectorConfig {
  const required = (name: string): string => {
    const value = env[name];
    if (!value) {
      throw new Error(`environment variable ${name} must be set`);
    }
    return value;
  };
  return {
    bucket: required(COLLECTOR_ENVIRONMENT.bucket),
    policyDomains,
    namespace: required(COLLECTOR_ENVIRONMENT.metricNamespace),
    maxMessageBytes: Number(required(COLLECTOR_ENVIRONMENT.maxMessageBytes)),
    maxReportBytes: Number(required(COLLECTOR_ENVIRONMENT.maxReportBytes)),
  };
}

/**
 * The configured policy domains and their modes, from COLLECTOR_POLICY_DOMAINS_FILE in `dir`
 * (the function's code directory, where the construct put it). A missing or unreadable file is a
 * packaging error: it throws, so the function fails at init instead of counting nothing.
 */
export function readPolicyDomains(dir: string): Map<string, string> {
  const path = join(dir, COLLECTOR_POLICY_DOMAINS_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`${path} must exist in the function's code (the TlsRptCollector construct writes it): ${(error as Error).message}`);
  }
  const domains = new Map<string, string>();
  for (const [domain, mode] of parsePolicyDomainsFile(text)) {
    const normalised = normaliseDomainName(domain);
    if (normalised !== null) {
      domains.set(normalised, mode);
    }
  }
  return domains;
}

/** The UTC date of SES's time of receipt, or of the clock when the event has none. */
function receivedDateOf(timestamp: string | undefined, deps: CollectorDeps): string {
  const millis = timestamp === undefined ? NaN : Date.parse(timestamp);
  return (Number.isNaN(millis) ? deps.now?.() ?? new Date() : new Date(millis)).toISOString().slice(0, 10);
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    return `${error.name}: ${error.message}`.slice(0, 500);
  }
  return String(error).slice(0, 500);
}

/** JSON text of a note; what cannot be rendered (it should not happen) is replaced by why. */
function safeJson(value: Record<string, unknown>): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    return JSON.stringify({ ...value, policies: undefined, unrenderable: describeError(error) });
  }
}
