/**
 * The `_mta-sts` TXT record (RFC 8461 §3.1): `v=STSv1; id=<id>`.
 *
 * Pure: no aws-cdk-lib. The constructs render with it, the checker parses with it.
 */
import { parseTxtFields } from './txt-fields';

/** What every policy record begins with; senders discard other TXT records at the name. */
export const STS_RECORD_PREFIX = 'v=STSv1';

const POLICY_ID = /^[A-Za-z0-9]{1,32}$/;

/** A parsed policy record. */
export interface StsRecord {
  readonly id: string;
  /** Extension fields, in order. */
  readonly extensions: Array<{ readonly name: string; readonly value: string }>;
}

/** The outcome of parsing one record: `record` when there are no errors. */
export interface StsRecordParseResult {
  readonly record?: StsRecord;
  readonly errors: string[];
}

/** The record value announcing a policy id. */
export function renderStsRecord(policyId: string): string {
  return `${STS_RECORD_PREFIX}; id=${policyId}`;
}

/** Why a policy id is invalid (RFC 8461 §3.1: 1 to 32 letters and digits), or undefined. */
export function policyIdProblem(id: string): string | undefined {
  if (POLICY_ID.test(id)) {
    return undefined;
  }
  if (id.length === 0) {
    return 'id must not be empty';
  }
  if (id.length > 32) {
    return `id must be at most 32 characters, got ${id.length}: ${JSON.stringify(id)}`;
  }
  return `id may contain only ASCII letters and digits, got: ${JSON.stringify(id)}`;
}

/**
 * Whether a sender considers a TXT record at `_mta-sts.<domain>` at all: it must begin with
 * `v=STSv1` exactly (case-sensitive); senders discard the others.
 */
export function isStsRecordCandidate(value: string): boolean {
  return value.startsWith(STS_RECORD_PREFIX);
}

/**
 * Parses a policy record by the grammar of RFC 8461 §3.1: `v=STSv1`, then `;`-separated fields
 * (spaces and tabs allowed around `;`, a trailing `;` allowed), exactly one `id` of 1 to 32
 * letters and digits, and extension fields `name=value`.
 */
export function parseStsRecord(value: string): StsRecordParseResult {
  const parsed = parseTxtFields(value, STS_RECORD_PREFIX, ['id']);
  if (!parsed) {
    return { errors: [`the record must begin with "${STS_RECORD_PREFIX};" exactly, got: ${JSON.stringify(value)}`] };
  }
  const errors = [...parsed.errors];
  const ids = parsed.known.map(field => field.value);
  if (ids.length > 1) {
    errors.push('the record has more than one id field');
  }
  const idProblem = ids.length === 0 ? 'the record has no id field' : policyIdProblem(ids[0]);
  if (idProblem) {
    errors.push(idProblem);
  }
  if (errors.length > 0) {
    return { errors };
  }
  return { record: { id: ids[0], extensions: parsed.extensions }, errors };
}
