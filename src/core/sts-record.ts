/**
 * The `_mta-sts` TXT record (RFC 8461 §3.1): `v=STSv1; id=<id>`.
 *
 * Pure: no aws-cdk-lib. The constructs render with it, the checker parses with it.
 */

/** What every policy record begins with; senders discard other TXT records at the name. */
export const STS_RECORD_PREFIX = 'v=STSv1';

const POLICY_ID = /^[A-Za-z0-9]{1,32}$/;
const EXT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
// sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E): printable ASCII but ";" and "=".
const EXT_VALUE = /^[\x21-\x3a\x3c\x3e-\x7e]+$/;

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
  const errors: string[] = [];
  const parts = value.split(/[ \t]*;[ \t]*/);
  if (parts[0] !== STS_RECORD_PREFIX) {
    return { errors: [`the record must begin with "${STS_RECORD_PREFIX};" exactly, got: ${JSON.stringify(value)}`] };
  }
  const fields = parts.slice(1);
  if (fields.length > 0 && fields[fields.length - 1] === '') {
    fields.pop();
  }
  let id: string | undefined;
  const extensions: Array<{ name: string; value: string }> = [];
  for (const field of fields) {
    const eq = field.indexOf('=');
    const name = eq < 0 ? field : field.slice(0, eq);
    const fieldValue = eq < 0 ? '' : field.slice(eq + 1);
    if (eq < 0 || name === '') {
      errors.push(`field ${JSON.stringify(field)} is not name=value`);
    } else if (name === 'id') {
      if (id !== undefined) {
        errors.push('the record has more than one id field');
      } else {
        const problem = policyIdProblem(fieldValue);
        if (problem) {
          errors.push(problem);
        } else {
          id = fieldValue;
        }
      }
    } else if (!EXT_NAME.test(name) || !EXT_VALUE.test(fieldValue)) {
      errors.push(`field ${JSON.stringify(field)} is not a valid extension (name of letters, digits, "_", "-", "."; value of printable ASCII without ";" or "=")`);
    } else {
      extensions.push({ name, value: fieldValue });
    }
  }
  if (id === undefined && !errors.some(e => e.startsWith('id '))) {
    errors.push('the record has no id field');
  }
  if (errors.length > 0 || id === undefined) {
    return { errors };
  }
  return { record: { id, extensions }, errors };
}
