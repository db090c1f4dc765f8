import { createHash } from 'node:crypto';
import { domainToASCII } from 'node:url';
import { contentIdOf } from './policy-id';

/**
 * The TLS-RPT report schema (RFC 8460 §4): a tolerant parser that normalises what real
 * reporters send and validates what the RFC requires.
 *
 * Pure: Node built-ins and the core only. Used by the collector's Lambda handler.
 *
 * Tolerated, with a note in the normalised output: `contact-info` or `organization-name`
 * missing or null, summary counts missing (counted as 0), `mx-host` as a string or an array
 * (or `mx-host-pattern`), `additional-info-uri` for `additional-information`, failure counts
 * that do not add up to the summary, unknown policy or result types, numeric strings for counts.
 *
 * Refused: not JSON, not an object, no `report-id`, no parseable `date-range`, no `policies`,
 * a policy without a `policy-domain` or `policy-type`, a negative or non-numeric count.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8460#section-4
 */

/** The policy types RFC 8460 §4.4 defines. */
export const POLICY_TYPES: readonly string[] = ['sts', 'tlsa', 'no-policy-found'];

/** The result types RFC 8460 §4.3 defines. */
export const RESULT_TYPES: readonly string[] = [
  'starttls-not-supported', 'certificate-host-mismatch', 'certificate-expired', 'certificate-not-trusted',
  'validation-failure', 'tlsa-invalid', 'dnssec-invalid', 'dane-required',
  'sts-policy-fetch-error', 'sts-policy-invalid', 'sts-webpki-invalid',
];

/** One failure-details entry, normalised (snake_case keys, absent fields as null). */
export interface FailureDetail {
  readonly result_type: string;
  readonly sending_mta_ip: string | null;
  readonly receiving_mx_hostname: string | null;
  readonly receiving_mx_helo: string | null;
  readonly receiving_ip: string | null;
  readonly failed_session_count: number;
  readonly additional_information: string | null;
  readonly failure_reason_code: string | null;
}

/**
 * One policy of a report with the report's header: the unit stored (one object per policy
 * domain and report) and the row of the query table.
 */
export interface PolicyReport {
  readonly report_id: string;
  readonly organization_name: string | null;
  readonly contact_info: string | null;
  readonly start_datetime: string;
  readonly end_datetime: string;
  readonly policy_type: string;
  readonly policy_string: string[];
  readonly policy_domain: string;
  readonly mx_host: string[];
  /** `mode` from `policy-string` (sts policies), else null. */
  readonly policy_mode: string | null;
  /** `max_age` from `policy-string` (sts policies), else null. */
  readonly policy_max_age: number | null;
  /**
   * The cdk-mta-sts content id of the policy text the reporter applied (`policy-string` lines
   * joined with CRLF), comparable with the first 16 characters of a published policy id.
   */
  readonly policy_content_id: string | null;
  readonly total_successful_session_count: number;
  readonly total_failure_session_count: number;
  readonly failure_details: FailureDetail[];
  /** What was tolerated or repaired while normalising. */
  readonly notes: string[];
}

/** A parsed report: one PolicyReport per entry of `policies`. */
export interface TlsRptReport {
  readonly reportId: string;
  readonly organizationName: string | null;
  readonly policies: PolicyReport[];
}

/** The result of parsing: a report, or every problem found. */
export interface ParseResult {
  readonly report?: TlsRptReport;
  readonly problems: string[];
}

type Json = Record<string, unknown>;

/** Parses and normalises a report from its JSON text. Never throws. */
export function parseTlsRptReport(json: string): ParseResult {
  // A UTF-8 byte order mark and trailing NULs/whitespace are seen in the wild; JSON.parse refuses them.
  const cleaned = json.replace(/^\uFEFF/, '').replace(/[\s\0]+$/, '');
  let value: unknown;
  try {
    value = JSON.parse(cleaned);
  } catch (error) {
    return { problems: [`report must be JSON, got: ${describe(cleaned.slice(0, 40))} (${(error as Error).message})`] };
  }
  return normaliseTlsRptReport(value);
}

/** Normalises and validates an already parsed JSON value. Never throws. */
export function normaliseTlsRptReport(value: unknown): ParseResult {
  if (!isObject(value)) {
    return { problems: [`report must be a JSON object, got: ${describe(value)}`] };
  }
  const problems: string[] = [];
  const notes: string[] = [];

  const reportId = text(value['report-id']);
  if (reportId === null) {
    problems.push(`\`report-id\` must be a non-empty string, got: ${describe(value['report-id'])}`);
  }
  const organizationName = text(value['organization-name']);
  if (organizationName === null) {
    notes.push('organization-name missing');
  }
  const contactInfo = text(value['contact-info']);
  if (contactInfo === null) {
    notes.push('contact-info missing');
  }

  const range = isObject(value['date-range']) ? value['date-range'] : {};
  const start = datetime(range['start-datetime']);
  const end = datetime(range['end-datetime']);
  if (start === null) {
    problems.push(`\`date-range.start-datetime\` must be an RFC 3339 date-time, got: ${describe(range['start-datetime'])}`);
  }
  if (end === null) {
    problems.push(`\`date-range.end-datetime\` must be an RFC 3339 date-time, got: ${describe(range['end-datetime'])}`);
  }

  const rawPolicies = value.policies;
  if (!Array.isArray(rawPolicies) || rawPolicies.length === 0) {
    problems.push(`\`policies\` must be a non-empty array, got: ${describe(rawPolicies)}`);
  }
  const policies: PolicyReport[] = [];
  (Array.isArray(rawPolicies) ? rawPolicies : []).forEach((entry, index) => {
    const policy = normalisePolicy(entry, `policies[${index}]`, problems);
    if (policy && reportId !== null && start !== null && end !== null) {
      policies.push({
        report_id: reportId,
        organization_name: organizationName,
        contact_info: contactInfo,
        start_datetime: start,
        end_datetime: end,
        ...policy,
        notes: [...notes, ...policy.notes],
      });
    }
  });

  if (problems.length > 0) {
    return { problems };
  }
  return { report: { reportId: reportId!, organizationName, policies }, problems: [] };
}

/** The UTC date (`yyyy-MM-dd`) of an ISO date-time: the date partition of a stored report. */
export function dateOf(isoDatetime: string): string {
  return isoDatetime.slice(0, 10);
}

/** A domain name in the form used for partitions and comparisons: A-labels, lower case, no trailing dot. */
export function normaliseDomainName(name: string): string | null {
  const ascii = domainToASCII(name.trim().replace(/\.$/, '')).toLowerCase();
  if (ascii.length === 0 || ascii.length > 253 || !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(ascii)) {
    return null;
  }
  return ascii;
}

type PolicyPart = Omit<PolicyReport, 'report_id' | 'organization_name' | 'contact_info' | 'start_datetime' | 'end_datetime'>;

function normalisePolicy(entry: unknown, path: string, problems: string[]): PolicyPart | undefined {
  if (!isObject(entry)) {
    problems.push(`\`${path}\` must be an object, got: ${describe(entry)}`);
    return undefined;
  }
  const notes: string[] = [];
  const policy = isObject(entry.policy) ? entry.policy : {};
  const rawType = text(policy['policy-type']);
  if (rawType === null) {
    problems.push(`\`${path}.policy.policy-type\` must be one of ${POLICY_TYPES.join(', ')}, got: ${describe(policy['policy-type'])}`);
  }
  const policyType = rawType?.toLowerCase() ?? '';
  if (rawType !== null && !POLICY_TYPES.includes(policyType)) {
    notes.push(`unknown policy-type ${policyType}`);
  }
  const rawDomain = text(policy['policy-domain']);
  const domain = rawDomain === null ? null : normaliseDomainName(rawDomain);
  if (domain === null) {
    problems.push(`\`${path}.policy.policy-domain\` must be a domain name, got: ${describe(policy['policy-domain'])}`);
  }
  const policyString = strings(policy['policy-string']);
  const mxHost = strings(policy['mx-host'] ?? policy['mx-host-pattern']).map(host => host.toLowerCase());

  const summary = isObject(entry.summary) ? entry.summary : {};
  const successful = count(summary['total-successful-session-count'], `${path}.summary.total-successful-session-count`, problems, notes);
  const failed = count(summary['total-failure-session-count'], `${path}.summary.total-failure-session-count`, problems, notes);

  const rawDetails = entry['failure-details'];
  const details: FailureDetail[] = [];
  if (rawDetails !== undefined && rawDetails !== null && !Array.isArray(rawDetails)) {
    problems.push(`\`${path}.failure-details\` must be an array, got: ${describe(rawDetails)}`);
  }
  (Array.isArray(rawDetails) ? rawDetails : []).forEach((detail, index) => {
    const detailPath = `${path}.failure-details[${index}]`;
    if (!isObject(detail)) {
      problems.push(`\`${detailPath}\` must be an object, got: ${describe(detail)}`);
      return;
    }
    const resultType = text(detail['result-type'])?.toLowerCase() ?? null;
    if (resultType === null) {
      problems.push(`\`${detailPath}.result-type\` must be a string, got: ${describe(detail['result-type'])}`);
      return;
    }
    if (!RESULT_TYPES.includes(resultType)) {
      notes.push(`unknown result-type ${resultType}`);
    }
    details.push({
      result_type: resultType,
      sending_mta_ip: text(detail['sending-mta-ip']),
      receiving_mx_hostname: text(detail['receiving-mx-hostname'])?.toLowerCase().replace(/\.$/, '') ?? null,
      receiving_mx_helo: text(detail['receiving-mx-helo']),
      receiving_ip: text(detail['receiving-ip']),
      failed_session_count: count(detail['failed-session-count'], `${detailPath}.failed-session-count`, problems, notes),
      additional_information: text(detail['additional-information'] ?? detail['additional-info-uri']),
      failure_reason_code: text(detail['failure-reason-code']),
    });
  });
  const detailSum = details.reduce((sum, detail) => sum + detail.failed_session_count, 0);
  if (detailSum !== failed) {
    // RFC 8460 §4.4: failure details may overlap, so they need not add up to the summary.
    notes.push(`failure-details add up to ${detailSum}, summary says ${failed}`);
  }

  if (rawType === null || domain === null) {
    return undefined;
  }
  const fields = policyType === 'sts' ? policyFields(policyString) : {};
  const maxAge = fields.max_age !== undefined && /^\d{1,10}$/.test(fields.max_age) ? Number(fields.max_age) : null;
  return {
    policy_type: policyType,
    policy_string: policyString,
    policy_domain: domain,
    mx_host: mxHost,
    policy_mode: fields.mode?.toLowerCase() ?? null,
    policy_max_age: maxAge,
    policy_content_id: policyType === 'sts' && policyString.length > 0
      ? contentIdOf(policyString.map(line => `${line}\r\n`).join(''))
      : null,
    total_successful_session_count: successful,
    total_failure_session_count: failed,
    failure_details: details,
    notes,
  };
}

function policyFields(lines: readonly string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of lines) {
    const match = /^\s*([A-Za-z0-9_]+)\s*:\s*(.*?)\s*$/.exec(line);
    if (match && fields[match[1]] === undefined) {
      fields[match[1]] = match[2];
    }
  }
  return fields;
}

function count(value: unknown, path: string, problems: string[], notes: string[]): number {
  if (value === undefined || value === null) {
    notes.push(`${path} missing, counted as 0`);
    return 0;
  }
  const number = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 0) {
    problems.push(`\`${path}\` must be a non-negative integer, got: ${describe(value)}`);
    return 0;
  }
  return number;
}

function datetime(value: unknown): string | null {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$/.test(value.trim())) {
    return null;
  }
  // A date-time without an offset is taken as UTC (RFC 8460 §4.4 asks for UTC anyway).
  const trimmed = value.trim();
  const withZone = /([Zz]|[+-]\d{2}:?\d{2})$/.test(trimmed) ? trimmed : `${trimmed}Z`;
  const millis = Date.parse(withZone.replace(' ', 'T'));
  return Number.isNaN(millis) ? null : new Date(millis).toISOString().replace('.000Z', 'Z');
}

function text(value: unknown): string | null {
  if (typeof value === 'number' && Number.isFinite(value)) {
    return String(value);
  }
  if (typeof value !== 'string') {
    return null;
  }
  const trimmed = value.trim();
  return trimmed.length > 0 ? trimmed : null;
}

function strings(value: unknown): string[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map(text).filter((item): item is string => item !== null);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A short, printable rendering of a value for error messages. */
function describe(value: unknown): string {
  if (value === undefined) {
    return 'undefined';
  }
  const rendered = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return rendered.length > 80 ? `${rendered.slice(0, 77)}...` : rendered;
}

/**
 * Where the collector keeps things in its bucket. Shared by the construct (lifecycle rules,
 * permissions, the query table) and the handler (the keys it writes).
 */
export const STORAGE_PREFIXES = {
  /** Raw messages as the SES receipt rule stores them: `raw/<SES message id>`. */
  raw: 'raw/',
  /** Valid reports for configured policy domains, one object per policy domain and report. */
  reports: 'reports/',
  /** Valid reports for policy domains the collector was not configured with: kept apart, not counted. */
  unconfigured: 'unconfigured/',
  /** Messages whose DKIM verdict is not PASS (RFC 8460 §3): kept, not counted. */
  quarantine: 'quarantine/',
  /** Messages that are not usable reports: kept with the reason. */
  rejected: 'rejected/',
} as const;

/** The Hive-style partition of a report object: `policy_domain=<domain>/report_date=<yyyy-MM-dd>/` (the UTC date the report starts). */
export function reportPartition(report: PolicyReport): string {
  return `policy_domain=${report.policy_domain}/report_date=${dateOf(report.start_datetime)}/`;
}

/**
 * The object name of a report within its partition: the same for every delivery of one report
 * (organisation, report id and policy domain), so a retried delivery hits the same key.
 */
export function reportObjectName(report: PolicyReport): string {
  const identity = `${report.organization_name ?? ''}\n${report.report_id}\n${report.policy_domain}`;
  return `${createHash('sha256').update(identity, 'utf8').digest('hex').slice(0, 32)}.json`;
}
