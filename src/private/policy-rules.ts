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

/**
 * Checks and normalises policy contents. `prefix` is put before each prop name, or, as a
 * function, gives the full name of each field (a multi-domain construct names a field
 * `domains[2].mx` when the domain sets it and `mx` when it comes from the defaults).
 */
export function analysePolicy(props: MtaStsPolicyProps, prefix: string | ((field: 'mode' | 'mx' | 'maxAge') => string)): PolicyAnalysis {
  const name = (field: 'mode' | 'mx' | 'maxAge') => (typeof prefix === 'string' ? `${prefix}${field}` : prefix(field));
  const problems: string[] = [];
  const MODES: readonly string[] = Object.values(MtaStsMode);
  const mode = props.mode ?? MtaStsMode.TESTING;
  if (!MODES.includes(mode)) {
    problems.push(`\`${name('mode')}\` must be one of ${MODES.map(m => `"${m}"`).join(', ')}, got: ${quote(mode)}`);
  }

  const mxIn = props.mx ?? [];
  const mx: string[] = [];
  if (Token.isUnresolved(mxIn)) {
    problems.push(`\`${name('mx')}\` must be known at synthesis time, since the policy id is a hash of the policy text, got: an unresolved token`);
  } else {
    mxIn.forEach((entry, index) => {
      const prop = `\`${name('mx')}[${index}]\``;
      if (typeof entry !== 'string') {
        problems.push(`${prop} must be a string, got: ${quote(entry)}`);
        return;
      }
      if (Token.isUnresolved(entry)) {
        problems.push(`${prop} must be known at synthesis time, since the policy id is a hash of the policy text, got: an unresolved token`);
        return;
      }
      const result = normaliseHostname(entry, { allowWildcard: true });
      if (result.problem) {
        problems.push(`${prop} must be a hostname or *.hostname and ${result.problem}, got: ${quote(entry)}`);
      } else if (!mx.includes(result.value!)) {
        mx.push(result.value!);
      }
    });
    if (mxIn.length === 0 && mode !== MtaStsMode.NONE) {
      problems.push(`\`${name('mx')}\` must list at least one MX host unless mode is "none", got: [] with mode ${quote(mode)}`);
    }
  }

  const maxAge = props.maxAge ?? DEFAULT_MAX_AGE;
  let maxAgeSeconds = DEFAULT_MAX_AGE.toSeconds();
  if (maxAge.isUnresolved()) {
    problems.push(`\`${name('maxAge')}\` must be known at synthesis time, since the policy id is a hash of the policy text, got: an unresolved token`);
  } else {
    const seconds = maxAge.toSeconds({ integral: false });
    if (!Number.isInteger(seconds)) {
      problems.push(`\`${name('maxAge')}\` must be a whole number of seconds, got: ${seconds} s`);
    } else if (seconds < 0 || seconds > MAX_AGE_LIMIT_SECONDS) {
      problems.push(`\`${name('maxAge')}\` must be between 0 and ${MAX_AGE_LIMIT_SECONDS} seconds (about one year), got: ${seconds} s`);
    } else {
      maxAgeSeconds = seconds;
    }
  }

  if (problems.length === 0) {
    const text = renderPolicy(mode, mx, maxAgeSeconds);
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > MAX_POLICY_BYTES) {
      problems.push(`\`${name('mx')}\` makes the policy file ${bytes} bytes, over the ${MAX_POLICY_BYTES} bytes senders are advised to accept; use wildcards, got: ${mx.length} hosts`);
    }
    // What is published must pass the same strict parser the check command applies to what is
    // live; a failure here is a bug in this library, not in the props.
    const parsed = parsePolicyText(text);
    if (parsed.errors.length > 0 || parsed.warnings.length > 0) {
      problems.push(`the policy file rendered from \`${name('mx')}\` and \`${name('mode')}\` does not parse under RFC 8461 §3.2 (a cdk-mta-sts bug), got: ${[...parsed.errors, ...parsed.warnings].join('; ')}`);
    }
  }
  return { problems, mode, mx, maxAgeSeconds };
}

/** The exact policy file (see core/policy-text.ts, the one place it is rendered). */
export function renderPolicy(mode: MtaStsMode, mx: readonly string[], maxAgeSeconds: number): string {
  return renderPolicyText(mode, mx, maxAgeSeconds);
}
