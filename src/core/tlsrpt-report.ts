import { createHash } from 'node:crypto';
import { domainToASCII } from 'node:url';
import { canonicalPolicyLines, reportedContentIdOf } from './policy-id';

/**
 * The TLS-RPT report schema (RFC 8460 §4): a tolerant parser that normalises what real
 * reporters send and validates what the RFC requires.
 *
 * Pure: Node built-ins and the core only. Used by the collector's Lambda handler.
 *
 * Tolerated, with a note in the normalised output: `contact-info` or `organization-name`
 * missing or null, summary counts missing (counted as 0), `mx-host` as a string or an array
 * (or `mx-host-pattern`), `additional-info-uri` for `additional-information`, failure counts
 * that do not add up to the summary, unknown policy or result types, numeric strings for counts,
 * a missing `policy-domain` when the message names the domain (`TLS-Report-Domain`).
 *
 * Refused, the whole report: not JSON, arrays and objects nested deeper than
 * {@link MAX_JSON_DEPTH}, not an object, no `report-id`, no parseable `date-range`, no
 * `policies`, more than {@link MAX_POLICIES} policies, or no policy that can be read.
 *
 * Refused, one policy (the others are kept): not an object, no `policy-type`, no
 * `policy-domain` (and none from the message), a negative or non-numeric count, a
 * `failure-details` entry that is not an object or has no `result-type`.
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

/** What a result type outside RFC 8460's is counted as, so that the metrics stay a bounded set. */
export const OTHER_RESULT_TYPE = 'other';

/**
 * The deepest nesting of arrays and objects read. A TLS-RPT report nests 5 deep
 * (report, `policies`, policy, `failure-details`, detail); anything much deeper is refused
 * before parsing, so that no step recurses through hostile input.
 */
export const MAX_JSON_DEPTH = 20;

/** The most policies one report may hold (a report covers one policy domain; real ones hold 1 to 3). */
export const MAX_POLICIES = 100;

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
 * One policy of a report with the report's header: the unit stored (one object per policy of a
 * report) and the row of the query table.
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
   * The content id of the policy the reporter applied, independent of the order in which it
   * lists the policy's lines (sts policies with a `policy-string`, else null): see
   * {@link reportedContentIdOf}.
   */
  readonly policy_content_id: string | null;
  /**
   * 0, or how many policies before this one in the same report have the same type, domain and
   * content (a reporter listing one policy twice): part of the stored object's name.
   */
  readonly policy_occurrence: number;
  readonly total_successful_session_count: number;
  readonly total_failure_session_count: number;
  readonly failure_details: FailureDetail[];
  /** What was tolerated or repaired while normalising. */
  readonly notes: string[];
}

/** A policy of a report that could not be read: kept aside with its problems, not counted. */
export interface RejectedPolicy {
  /** Its position in the report's `policies`. */
  readonly index: number;
  /** Every problem found, each naming the field, the rule and the value given. */
  readonly problems: string[];
  /** The policy entry as sent. */
  readonly entry: unknown;
}

/** A parsed report: one PolicyReport per readable entry of `policies`. */
export interface TlsRptReport {
  readonly reportId: string;
  readonly organizationName: string | null;
  readonly policies: PolicyReport[];
  /** The entries of `policies` that could not be read. */
  readonly rejectedPolicies: RejectedPolicy[];
}

/** Why a report was refused whole. */
export type ReportRefusal = 'invalid-json' | 'nested-too-deep' | 'invalid-report';

/** The result of parsing: a report, or why it was refused with every problem found. */
export interface ParseResult {
  readonly report?: TlsRptReport;
  /** Set when `report` is not. */
  readonly reason?: ReportRefusal;
  readonly problems: string[];
}

/** What the parser is told besides the report. */
export interface ParseOptions {
  /**
   * The policy domain the report's message names (its `TLS-Report-Domain` header), used for a
   * policy that has no `policy-domain` (Postfix's tlsrpt-reporter sends `no-policy-found`
   * without one). The caller passes it only when it names a domain it is configured for.
   * @default - a policy without `policy-domain` is refused
   */
  readonly reportDomain?: string;
}

type Json = Record<string, unknown>;

/** Parses and normalises a report from its JSON text. Never throws. */
export function parseTlsRptReport(json: string, options: ParseOptions = {}): ParseResult {
  // A UTF-8 byte order mark and trailing NULs/whitespace are seen in the wild; JSON.parse refuses them.
  const cleaned = json.replace(/^\uFEFF/, '').replace(/[\s\0]+$/, '');
  const depth = nestingDepth(cleaned);
  if (depth > MAX_JSON_DEPTH) {
    return { reason: 'nested-too-deep', problems: [`report must nest arrays and objects at most ${MAX_JSON_DEPTH} deep, got: ${depth} deep`] };
  }
  let value: unknown;
  try {
    value = JSON.parse(cleaned);
  } catch (error) {
    return { reason: 'invalid-json', problems: [`report must be JSON, got: ${describe(cleaned.slice(0, 40))} (${(error as Error).message})`] };
  }
  return normaliseTlsRptReport(value, options);
}

/**
 * Normalises and validates an already parsed JSON value. Never throws. The value must come from
 * JSON text (no cycles); nesting deeper than {@link MAX_JSON_DEPTH} is refused.
 */
export function normaliseTlsRptReport(value: unknown, options: ParseOptions = {}): ParseResult {
  try {
    return normalise(value, options);
  } catch (error) {
    // Nothing above is known to throw; a defect must still become a refusal, never a crash.
    return { reason: 'invalid-report', problems: [`report could not be read: ${(error as Error)?.name}: ${(error as Error)?.message}`] };
  }
}

function normalise(value: unknown, options: ParseOptions): ParseResult {
  if (valueDepth(value, MAX_JSON_DEPTH + 1) > MAX_JSON_DEPTH) {
    return { reason: 'nested-too-deep', problems: [`report must nest arrays and objects at most ${MAX_JSON_DEPTH} deep, got: deeper`] };
  }
  if (!isObject(value)) {
    return { reason: 'invalid-report', problems: [`report must be a JSON object, got: ${describe(value)}`] };
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
  } else if (rawPolicies.length > MAX_POLICIES) {
    problems.push(`\`policies\` must hold at most ${MAX_POLICIES} policies, got: ${rawPolicies.length}`);
  }
  if (problems.length > 0) {
    return { reason: 'invalid-report', problems };
  }

  const reportDomain = options.reportDomain === undefined ? null : normaliseDomainName(options.reportDomain);
  const policies: PolicyReport[] = [];
  const rejectedPolicies: RejectedPolicy[] = [];
  const seen = new Map<string, number>();
  (rawPolicies as unknown[]).forEach((entry, index) => {
    const path = `policies[${index}]`;
    const policyProblems: string[] = [];
    const policy = normalisePolicy(entry, path, reportDomain, policyProblems);
    if (!policy || policyProblems.length > 0) {
      rejectedPolicies.push({ index, problems: policyProblems, entry });
      return;
    }
    const identity = policyIdentity(policy);
    const occurrence = seen.get(identity) ?? 0;
    seen.set(identity, occurrence + 1);
    policies.push({
      report_id: reportId!,
      organization_name: organizationName,
      contact_info: contactInfo,
      start_datetime: start!,
      end_datetime: end!,
      ...policy,
      policy_occurrence: occurrence,
      notes: [...notes, ...policy.notes],
    });
  });

  if (policies.length === 0) {
    return { reason: 'invalid-report', problems: rejectedPolicies.flatMap(rejected => rejected.problems) };
  }
  return { report: { reportId: reportId!, organizationName, policies, rejectedPolicies }, problems: [] };
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

/** One `ResultType` of the metrics and the failed sessions counted for it. */
export interface ResultTypeCount {
  /** One of {@link RESULT_TYPES}, or {@link OTHER_RESULT_TYPE}. */
  readonly resultType: string;
  readonly failedSessions: number;
}

/**
 * The failed sessions of a policy report by result type, as counted in the metrics: result types
 * outside RFC 8460's are counted as {@link OTHER_RESULT_TYPE}; when the failure details add up
 * to more than the summary's `total-failure-session-count`, the counts are scaled down so that
 * they add up to the summary (largest remainder: each type gets its share rounded down, the
 * sessions left go to the largest remainders, ties to the larger count, then by name). They
 * never add up to more than the summary; less when the details list fewer sessions (RFC 8460
 * §4.4 lets them overlap or be partial). Sorted by result type.
 */
export function failedSessionsByResultType(report: Pick<PolicyReport, 'failure_details' | 'total_failure_session_count'>): ResultTypeCount[] {
  const byType = new Map<string, number>();
  for (const detail of report.failure_details) {
    const type = resultTypeOf(detail.result_type);
    byType.set(type, (byType.get(type) ?? 0) + detail.failed_session_count);
  }
  const counts = [...byType.entries()]
    .map(([resultType, failedSessions]) => ({ resultType, failedSessions }))
    .sort((a, b) => compare(a.resultType, b.resultType));
  return scaleToSummary(counts, report.total_failure_session_count);
}

/** A result type as a metric dimension: one of RFC 8460's, or {@link OTHER_RESULT_TYPE}. */
export function resultTypeOf(resultType: string): string {
  return RESULT_TYPES.includes(resultType) ? resultType : OTHER_RESULT_TYPE;
}

function scaleToSummary(counts: ResultTypeCount[], summary: number): ResultTypeCount[] {
  const total = counts.reduce((sum, entry) => sum + entry.failedSessions, 0);
  if (total <= summary) {
    return counts;
  }
  const [bigSummary, bigTotal] = [BigInt(summary), BigInt(total)];
  const shares = counts.map(entry => {
    const scaled = BigInt(entry.failedSessions) * bigSummary;
    return { ...entry, floor: Number(scaled / bigTotal), remainder: scaled % bigTotal };
  });
  let left = summary - shares.reduce((sum, share) => sum + share.floor, 0);
  const order = [...shares].sort((a, b) => (a.remainder === b.remainder
    ? (b.failedSessions - a.failedSessions || compare(a.resultType, b.resultType))
    : (a.remainder > b.remainder ? -1 : 1)));
  const extra = new Set<string>();
  for (const share of order) {
    if (left === 0) {
      break;
    }
    extra.add(share.resultType);
    left--;
  }
  return shares.map(share => ({ resultType: share.resultType, failedSessions: share.floor + (extra.has(share.resultType) ? 1 : 0) }));
}

type PolicyPart = Omit<PolicyReport, 'report_id' | 'organization_name' | 'contact_info' | 'start_datetime' | 'end_datetime' | 'policy_occurrence'>;

function normalisePolicy(entry: unknown, path: string, reportDomain: string | null, problems: string[]): PolicyPart | undefined {
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
  let domain = rawDomain === null ? null : normaliseDomainName(rawDomain);
  if (rawDomain === null && reportDomain !== null) {
    // Postfix's tlsrpt-reporter leaves policy-domain out of no-policy-found policies.
    domain = reportDomain;
    notes.push('policy-domain missing, taken from the TLS-Report-Domain header');
  }
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
  const unknownTypes = new Set<string>();
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
      unknownTypes.add(resultType);
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
  if (unknownTypes.size > 0) {
    const named = [...unknownTypes].slice(0, 10).join(', ');
    const more = unknownTypes.size > 10 ? ` and ${unknownTypes.size - 10} more` : '';
    notes.push(`unknown result-type${unknownTypes.size > 1 ? 's' : ''} ${named}${more}, counted as ${OTHER_RESULT_TYPE}`);
  }
  const detailSum = details.reduce((sum, detail) => sum + detail.failed_session_count, 0);
  if (detailSum > failed) {
    const counted = failedSessionsByResultType({ failure_details: details, total_failure_session_count: failed });
    notes.push(`failure-details add up to ${detailSum}, more than the summary's ${failed}: failed sessions by result type `
      + `counted as ${counted.map(c => `${c.resultType} ${c.failedSessions}`).join(', ')}`);
  } else if (detailSum < failed) {
    // RFC 8460 §4.4: failure details may be partial, so they need not add up to the summary.
    notes.push(`failure-details add up to ${detailSum}, less than the summary's ${failed}`);
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
    policy_content_id: policyType === 'sts' && policyString.length > 0 ? reportedContentIdOf(policyString) : null,
    total_successful_session_count: successful,
    total_failure_session_count: failed,
    failure_details: details,
    notes,
  };
}

/** What tells two policies of a report apart: type, domain, content (in canonical line order) and MX patterns. */
function policyIdentity(policy: Pick<PolicyReport, 'policy_type' | 'policy_domain' | 'policy_string' | 'mx_host'>): string {
  return JSON.stringify([policy.policy_type, policy.policy_domain, canonicalPolicyLines(policy.policy_string), [...policy.mx_host].sort(compare)]);
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

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The deepest nesting of arrays and objects in JSON text, counted without parsing (brackets
 * outside strings), so that deep input is refused before anything recurses through it.
 */
function nestingDepth(json: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const char = json.charCodeAt(i);
    if (inString) {
      if (char === 0x5c) { // backslash: skip the escaped character
        i++;
      } else if (char === 0x22) {
        inString = false;
      }
    } else if (char === 0x22) {
      inString = true;
    } else if (char === 0x7b || char === 0x5b) {
      deepest = Math.max(deepest, ++depth);
    } else if (char === 0x7d || char === 0x5d) {
      depth--;
    }
  }
  return deepest;
}

/** The nesting depth of a parsed value, iteratively, stopping once it exceeds `limit`. */
function valueDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== 'object' || item === null) {
      continue;
    }
    deepest = Math.max(deepest, depth);
    if (deepest > limit) {
      return deepest;
    }
    for (const child of Object.values(item)) {
      stack.push([child, depth + 1]);
    }
  }
  return deepest;
}

/** A short, printable rendering of a value for error messages. Never throws. */
function describe(value: unknown): string {
  if (value === undefined) {
    return 'undefined';
  }
  let rendered: string;
  try {
    rendered = JSON.stringify(value) ?? String(value);
  } catch {
    rendered = Array.isArray(value) ? '[...]' : typeof value === 'object' ? '{...}' : String(value);
  }
  return rendered.length > 80 ? `${rendered.slice(0, 77)}...` : rendered;
}

/**
 * Where the collector keeps things in its bucket. Shared by the construct (lifecycle rules,
 * permissions, the query table) and the handler (the keys it writes).
 */
export const STORAGE_PREFIXES = {
  /** Raw messages as the SES receipt rule stores them: `raw/<SES message id>`. */
  raw: 'raw/',
  /** Valid reports for configured policy domains, one object per policy of a report. */
  reports: 'reports/',
  /** Valid reports for policy domains the collector was not configured with: kept apart, not counted. */
  unconfigured: 'unconfigured/',
  /** Messages whose DKIM verdict is not PASS (RFC 8460 §3): kept, not counted. */
  quarantine: 'quarantine/',
  /** Messages that are not usable reports, and policies that cannot be read: kept with the reason. */
  rejected: 'rejected/',
  /** Reports POSTed over HTTPS (not authenticated, RFC 8460 §5.4): kept apart, not counted, unless HTTPS reports count. */
  https: 'https/',
} as const;

/** The Hive-style partition of a report object: `policy_domain=<domain>/report_date=<yyyy-MM-dd>/` (the UTC date the report starts). */
export function reportPartition(report: PolicyReport): string {
  return `policy_domain=${report.policy_domain}/report_date=${dateOf(report.start_datetime)}/`;
}

/**
 * The object name of one policy of a report within its partition: a hash of the organisation,
 * the report id and the policy (type, domain, content in canonical line order, MX patterns,
 * occurrence). The same for every delivery of the report, whatever the order of its policies,
 * so a retried or repeated delivery hits the same key; different for each policy of a report
 * (Microsoft's `sts` and `tlsa` policies of one domain are two objects). Counts are not part of
 * it: a report sent again with other counts is still the same report.
 */
export function reportObjectName(report: PolicyReport): string {
  const identity = JSON.stringify([report.organization_name ?? '', report.report_id, policyIdentity(report), report.policy_occurrence ?? 0]);
  return `${createHash('sha256').update(identity, 'utf8').digest('hex').slice(0, 32)}.json`;
}
