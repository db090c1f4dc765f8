import { Duration, Token } from 'aws-cdk-lib';
import { normaliseHostname, quote } from './hostname';
import { MAX_AGE_LIMIT_SECONDS, MAX_POLICY_BYTES, parsePolicyText, renderPolicyText } from '../core/policy-text';
import { MtaStsMode } from '../mode';
import type { MtaStsPolicyProps } from '../policy';

export { MAX_AGE_LIMIT_SECONDS, MAX_POLICY_BYTES };

/** The result of checking policy contents; fields hold defaults where a prop was invalid. */
export interface PolicyAnalysis {
  readonly problems: string[];
  readonly mode: MtaStsMode;
  readonly mx: string[];
  readonly maxAgeSeconds: number;
}

const DEFAULT_MAX_AGE = Duration.days(7);

/** The name of a policy field as the user wrote it (`mx`, or `domains[2].mx` for a domain's own). */
export type FieldName = (field: 'mode' | 'mx' | 'maxAge') => string;

/**
 * Checks and normalises policy contents, one validator per prop. `prefix` is put before each prop
 * name, or, as a function, gives the full name of each field (a multi-domain construct names a
 * field `domains[2].mx` when the domain sets it and `mx` when it comes from the defaults).
 */
export function analysePolicy(props: Partial<MtaStsPolicyProps>, prefix: string | FieldName): PolicyAnalysis {
  const name: FieldName = field => (typeof prefix === 'string' ? `${prefix}${field}` : prefix(field));
  const mode = props.mode ?? MtaStsMode.TESTING;
  const mx = validateMx(props.mx ?? [], mode, name('mx'));
  const maxAge = validateMaxAge(props.maxAge ?? DEFAULT_MAX_AGE, name('maxAge'));
  const problems = [...validateMode(mode, name('mode')), ...mx.problems, ...maxAge.problems];
  if (problems.length === 0) {
    problems.push(...validateRendered(mode, mx.value, maxAge.value, name));
  }
  return { problems, mode, mx: mx.value, maxAgeSeconds: maxAge.value };
}

/** A checked prop: its normalised value (a default where invalid) and its problems. */
interface Checked<T> {
  readonly value: T;
  readonly problems: string[];
}

/** `mode` must be one of MtaStsMode's values. */
function validateMode(mode: MtaStsMode, prop: string): string[] {
  const modes: readonly string[] = Object.values(MtaStsMode);
  return modes.includes(mode) ? [] : [`\`${prop}\` must be one of ${modes.map(m => `"${m}"`).join(', ')}, got: ${quote(mode)}`];
}

/** `mx` must be literal hostnames or `*.` hostnames, at least one unless `mode` is NONE; normalised, duplicates dropped. */
function validateMx(mxIn: string[], mode: MtaStsMode, prop: string): Checked<string[]> {
  const mx: string[] = [];
  if (Token.isUnresolved(mxIn)) {
    return { value: mx, problems: [`\`${prop}\` must be known at synthesis time, since the policy id is a hash of the policy text, got: an unresolved token`] };
  }
  const problems: string[] = [];
  mxIn.forEach((entry, index) => {
    const entryProp = `\`${prop}[${index}]\``;
    if (typeof entry !== 'string') {
      problems.push(`${entryProp} must be a string, got: ${quote(entry)}`);
      return;
    }
    if (Token.isUnresolved(entry)) {
      problems.push(`${entryProp} must be known at synthesis time, since the policy id is a hash of the policy text, got: an unresolved token`);
      return;
    }
    const result = normaliseHostname(entry, { allowWildcard: true });
    if (result.problem) {
      problems.push(`${entryProp} must be a hostname or *.hostname and ${result.problem}, got: ${quote(entry)}`);
    } else if (!mx.includes(result.value!)) {
      mx.push(result.value!);
    }
  });
  if (mxIn.length === 0 && mode !== MtaStsMode.NONE) {
    problems.push(`\`${prop}\` must list at least one MX host unless mode is "none", got: [] with mode ${quote(mode)}`);
  }
  return { value: mx, problems };
}

/** `maxAge` must be a literal whole number of seconds within RFC 8461's limit. */
function validateMaxAge(maxAge: Duration, prop: string): Checked<number> {
  const fallback = DEFAULT_MAX_AGE.toSeconds();
  if (maxAge.isUnresolved()) {
    return { value: fallback, problems: [`\`${prop}\` must be known at synthesis time, since the policy id is a hash of the policy text, got: an unresolved token`] };
  }
  const seconds = maxAge.toSeconds({ integral: false });
  if (!Number.isInteger(seconds)) {
    return { value: fallback, problems: [`\`${prop}\` must be a whole number of seconds, got: ${seconds} s`] };
  }
  if (seconds < 0 || seconds > MAX_AGE_LIMIT_SECONDS) {
    return { value: fallback, problems: [`\`${prop}\` must be between 0 and ${MAX_AGE_LIMIT_SECONDS} seconds (about one year), got: ${seconds} s`] };
  }
  return { value: seconds, problems: [] };
}

/** The rendered file must fit the size senders accept and pass the strict parser the check command applies. */
function validateRendered(mode: MtaStsMode, mx: string[], maxAgeSeconds: number, name: FieldName): string[] {
  const text = renderPolicy(mode, mx, maxAgeSeconds);
  const bytes = Buffer.byteLength(text, 'utf8');
  const problems: string[] = [];
  if (bytes > MAX_POLICY_BYTES) {
    problems.push(`\`${name('mx')}\` makes the policy file ${bytes} bytes, over the ${MAX_POLICY_BYTES} bytes senders are advised to accept; use wildcards, got: ${mx.length} hosts`);
  }
  // A failure here is a bug in this library, not in the props.
  const parsed = parsePolicyText(text);
  if (parsed.errors.length > 0 || parsed.warnings.length > 0) {
    problems.push(`the policy file rendered from \`${name('mx')}\` and \`${name('mode')}\` does not parse under RFC 8461 §3.2 (a cdk-mta-sts bug), got: ${[...parsed.errors, ...parsed.warnings].join('; ')}`);
  }
  return problems;
}

/** The exact policy file (see core/policy-text.ts, the one place it is rendered). */
export function renderPolicy(mode: MtaStsMode, mx: readonly string[], maxAgeSeconds: number): string {
  return renderPolicyText(mode, mx, maxAgeSeconds);
}
