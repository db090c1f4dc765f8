import { normaliseHostname } from './hostname';

/**
 * The MTA-STS policy file (RFC 8461 §3.2): how it is rendered, how it is parsed (strictly, as
 * the check command reads what is live), and how a sender matches an MX host against it (§4.1).
 *
 * Pure: no aws-cdk-lib. The constructs render with it, the checker parses with it.
 */

/** The largest `max_age` RFC 8461 §3.2 allows, in seconds (about one year). */
export const MAX_AGE_LIMIT_SECONDS = 31_557_600;
/** The largest policy file, in bytes: the ceiling senders are advised to accept (RFC 8461 §3.3). */
export const MAX_POLICY_BYTES = 65_536;
/** The policy modes of RFC 8461 §5, exactly as written in the file. */
export const POLICY_MODES: readonly string[] = ['enforce', 'testing', 'none'];

/** The fields of a policy file that parsed. */
export interface ParsedPolicy {
  readonly version: string;
  /** `enforce`, `testing` or `none`. */
  readonly mode: string;
  /** The `mx` patterns in file order, lower-cased. */
  readonly mx: string[];
  readonly maxAgeSeconds: number;
  /** Extension fields, in file order (senders ignore them). */
  readonly extensions: Array<{ readonly key: string; readonly value: string }>;
}

/** The outcome of a strict parse: `policy` when there are no errors. */
export interface PolicyParseResult {
  readonly policy?: ParsedPolicy;
  /** What makes a sender reject the file (or a reading of RFC 8461 §3.2 this library holds to). */
  readonly errors: string[];
  /** What a sender tolerates but an operator should fix. */
  readonly warnings: string[];
}

/**
 * The exact policy file: `version`, `mode`, one `mx` line per pattern, `max_age`, each line
 * ending in CRLF. The inputs must already be valid.
 */
export function renderPolicyText(mode: string, mx: readonly string[], maxAgeSeconds: number): string {
  const lines = ['version: STSv1', `mode: ${mode}`, ...mx.map(host => `mx: ${host}`), `max_age: ${maxAgeSeconds}`];
  return lines.map(line => `${line}\r\n`).join('');
}

const KNOWN_KEYS = ['version', 'mode', 'mx', 'max_age'];
// sts-policy-ext-name (RFC 8461 §3.2); the known keys fit it too.
const FIELD_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
// sts-policy-vchar = %x21-7E, and WSP inside the value.
const FIELD_VALUE = /^[\x21-\x7e]([\x21-\x7e \t]*[\x21-\x7e])?$/;
const MAX_AGE = /^[0-9]{1,10}$/;

/**
 * Parses a policy file as strictly as RFC 8461 §3.2 reads: lines ending in LF or CRLF,
 * `key: value` fields, `version: STSv1` first, `mode` exactly `enforce`, `testing` or `none`,
 * `max_age` 1 to 10 digits up to 31557600, at least one `mx` unless mode is `none`, each `mx`
 * a hostname or `*.` + hostname (never an IP address). Known keys must be lower-case and
 * appear once (`mx` excepted); unknown keys are allowed, with a warning.
 */
export function parsePolicyText(text: string): PolicyParseResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  if (text.length === 0) {
    return { errors: ['the policy file is empty'], warnings };
  }
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  const rawLines = body.split('\n');
  const fields: Array<{ key: string; value: string; line: number }> = [];
  rawLines.forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.includes('\r')) {
      errors.push(`line ${lineNo} contains a CR that does not end the line (lines end in LF or CRLF)`);
      return;
    }
    if (line.trim() === '') {
      warnings.push(`line ${lineNo} is blank (RFC 8461 §3.2 has no blank lines; some senders reject them)`);
      return;
    }
    const colon = line.indexOf(':');
    if (colon < 0) {
      errors.push(`line ${lineNo} is not a "key: value" field, got: ${JSON.stringify(line)}`);
      return;
    }
    const key = line.slice(0, colon);
    const value = line.slice(colon + 1).replace(/^[ \t]+/, '').replace(/[ \t]+$/, '');
    if (!FIELD_NAME.test(key)) {
      errors.push(`line ${lineNo} has an invalid key (letters, digits, "_", "-", ".", no space before ":"), got: ${JSON.stringify(key)}`);
      return;
    }
    if (!FIELD_VALUE.test(value)) {
      errors.push(`line ${lineNo} (${key}) has an empty value or one with characters other than printable ASCII, got: ${JSON.stringify(value)}`);
      return;
    }
    fields.push({ key, value, line: lineNo });
  });

  const seen = new Map<string, number>();
  let version: string | undefined;
  let mode: string | undefined;
  let maxAgeSeconds: number | undefined;
  const mx: string[] = [];
  const extensions: Array<{ key: string; value: string }> = [];
  fields.forEach(({ key, value, line }, index) => {
    const lower = key.toLowerCase();
    if (KNOWN_KEYS.includes(lower) && key !== lower) {
      errors.push(`line ${line}: key "${key}" must be written "${lower}" (keys are case-sensitive; senders ignore "${key}")`);
      return;
    }
    if (!KNOWN_KEYS.includes(key)) {
      warnings.push(`line ${line}: unknown key "${key}" (senders ignore it)`);
      extensions.push({ key, value });
      return;
    }
    if (key !== 'mx' && seen.has(key)) {
      errors.push(`line ${line}: "${key}" repeats line ${seen.get(key)} (each field but mx appears once)`);
      return;
    }
    seen.set(key, line);
    switch (key) {
      case 'version':
        if (index !== 0) {
          errors.push(`line ${line}: "version" must be the first field`);
        }
        if (value !== 'STSv1') {
          errors.push(`line ${line}: version must be "STSv1", got: ${JSON.stringify(value)}`);
        } else {
          version = value;
        }
        break;
      case 'mode':
        if (!POLICY_MODES.includes(value)) {
          errors.push(`line ${line}: mode must be exactly "enforce", "testing" or "none", got: ${JSON.stringify(value)}`);
        } else {
          mode = value;
        }
        break;
      case 'max_age':
        if (!MAX_AGE.test(value) || Number(value) > MAX_AGE_LIMIT_SECONDS) {
          errors.push(`line ${line}: max_age must be a whole number of seconds from 0 to ${MAX_AGE_LIMIT_SECONDS}, got: ${JSON.stringify(value)}`);
        } else {
          maxAgeSeconds = Number(value);
        }
        break;
      default: {
        const problem = mxPatternProblem(value);
        if (problem) {
          errors.push(`line ${line}: mx ${problem}, got: ${JSON.stringify(value)}`);
        } else {
          mx.push(value.toLowerCase());
        }
      }
    }
  });
  if (!seen.has('version')) {
    errors.push('the "version: STSv1" field is missing');
  }
  if (!seen.has('mode')) {
    errors.push('the "mode" field is missing');
  }
  if (!seen.has('max_age')) {
    errors.push('the "max_age" field is missing');
  }
  if (mode !== undefined && mode !== 'none' && !seen.has('mx')) {
    errors.push(`no "mx" field: mode "${mode}" needs at least one`);
  }
  if (errors.length > 0 || version === undefined || mode === undefined || maxAgeSeconds === undefined) {
    return { errors, warnings };
  }
  return { policy: { version, mode, mx, maxAgeSeconds, extensions }, errors, warnings };
}

/**
 * Why a policy `mx` value is invalid, or undefined: it must be a hostname or `*.` + hostname
 * in ASCII (A-labels for internationalised names), never an IP address.
 */
export function mxPatternProblem(value: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[^\x21-\x7e]/.test(value)) {
    return 'must be an ASCII hostname (A-labels for internationalised names)';
  }
  if (/^\[.*\]$/.test(value) || /^[0-9.]+$/.test(value) || value.includes(':')) {
    return 'must be a hostname, not an IP address';
  }
  const result = normaliseHostname(value, { allowWildcard: true });
  if (result.problem) {
    return `must be a hostname or *.hostname and ${result.problem}`;
  }
  return undefined;
}

/**
 * Whether an MX pattern accepts a host, per RFC 8461 §4.1: an exact (case-insensitive)
 * match, or `*.` standing for exactly one leftmost label.
 */
export function mxPatternMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  const h = host.toLowerCase().replace(/\.$/, '');
  if (!p.startsWith('*.')) {
    return p === h;
  }
  const dot = h.indexOf('.');
  return dot > 0 && h.slice(dot + 1) === p.slice(2);
}

/** The first of `patterns` that accepts `host` (RFC 8461 §4.1), or undefined. */
export function matchingMxPattern(patterns: readonly string[], host: string): string | undefined {
  return patterns.find(pattern => mxPatternMatches(pattern, host));
}
