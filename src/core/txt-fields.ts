/**
 * The record grammar RFC 8461 §3.1 (`_mta-sts`) and RFC 8460 §3 (`_smtp._tls`) share:
 * `<version>` then `;`-separated fields (spaces and tabs allowed around `;`, a trailing `;`
 * allowed), each `name=value`; fields the parser does not know are extensions, whose name and
 * value have a fixed alphabet.
 *
 * Pure: no aws-cdk-lib.
 */

const EXT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
// ext-value = 1*(%x21-3A / %x3C / %x3E-7E): printable ASCII but ";" and "=".
const EXT_VALUE = /^[\x21-\x3a\x3c\x3e-\x7e]+$/;

/** One `name=value` field of a record. */
export interface TxtField {
  readonly name: string;
  readonly value: string;
}

/** The fields of a record: `known` by name (in order, repeats kept), `extensions` in order, and the errors found. */
export interface TxtFields {
  readonly known: TxtField[];
  readonly extensions: TxtField[];
  readonly errors: string[];
}

/**
 * Splits `record` into its fields. Returns undefined when it does not begin with `<version>;`
 * exactly (senders then discard it). Fields named in `knownNames` are returned as they are, for
 * the caller to check; other fields must be valid extensions.
 */
export function parseTxtFields(record: string, version: string, knownNames: readonly string[]): TxtFields | undefined {
  const parts = record.split(/[ \t]*;[ \t]*/);
  if (parts[0] !== version) {
    return undefined;
  }
  const fields = parts.slice(1);
  if (fields.length > 0 && fields[fields.length - 1] === '') {
    fields.pop();
  }
  const known: TxtField[] = [];
  const extensions: TxtField[] = [];
  const errors: string[] = [];
  for (const field of fields) {
    const eq = field.indexOf('=');
    const name = eq < 0 ? field : field.slice(0, eq);
    const value = eq < 0 ? '' : field.slice(eq + 1);
    if (eq < 0 || name === '') {
      errors.push(`field ${JSON.stringify(field)} is not name=value`);
    } else if (knownNames.includes(name)) {
      known.push({ name, value });
    } else if (!EXT_NAME.test(name) || !EXT_VALUE.test(value)) {
      errors.push(`field ${JSON.stringify(field)} is not a valid extension (name of letters, digits, "_", "-", "."; value of printable ASCII without ";" or "=")`);
    } else {
      extensions.push({ name, value });
    }
  }
  return { known, extensions, errors };
}
