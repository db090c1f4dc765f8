import { domainToASCII, domainToUnicode } from 'node:url';

/** The outcome of checking one hostname: the normalised name, or why it was refused. */
export interface HostnameResult {
  /** The normalised (lower-case, A-label, no trailing dot) name, when valid. */
  readonly value?: string;
  /** The rule the input broke, phrased to follow "`prop` ...", when invalid. */
  readonly problem?: string;
}

/** Options of `normaliseHostname`. */
export interface HostnameOptions {
  /** Accept `*.` followed by a hostname (RFC 8461 §3.2 mx patterns). */
  readonly allowWildcard?: boolean;
}

const MAX_NAME = 253;
const MAX_LABEL = 63;
const LDH_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/**
 * Scripts whose letters are easily mistaken for each other. A label mixing two of them
 * (a Cyrillic "е" in an otherwise Latin name) is refused as a likely confusable.
 */
const CONFUSABLE_SCRIPTS: ReadonlyArray<[string, RegExp]> = [
  ['Latin', /\p{Script=Latin}/u],
  ['Cyrillic', /\p{Script=Cyrillic}/u],
  ['Greek', /\p{Script=Greek}/u],
  ['Armenian', /\p{Script=Armenian}/u],
  ['Cherokee', /\p{Script=Cherokee}/u],
];

function refuse(problem: string): HostnameResult {
  return { problem };
}

/**
 * Validates a DNS hostname and normalises it: lower-cased, one trailing dot dropped,
 * internationalised labels turned into their A-label (`xn--`). Nothing else is altered:
 * a name that needs any other change (a Unicode mapping, a stray character) is refused.
 */
export function normaliseHostname(input: string, options: HostnameOptions = {}): HostnameResult {
  if (input.length === 0) {
    return refuse('must not be empty');
  }
  if (/[\r\n]/.test(input)) {
    return refuse('must not contain CR or LF');
  }
  if (/\s/u.test(input)) {
    return refuse('must not contain white space');
  }
  let name = input.endsWith('.') ? input.slice(0, -1) : input;
  let prefix = '';
  if (name.startsWith('*.')) {
    if (!options.allowWildcard) {
      return refuse('must be a hostname without a wildcard');
    }
    prefix = '*.';
    name = name.slice(2);
  }
  if (name.includes('*')) {
    return refuse(options.allowWildcard
      ? 'may use * only as the whole leftmost label (*.example.com)'
      : 'must be a hostname without a wildcard');
  }
  if (/[/:@?#\[\]]/.test(name)) {
    return refuse('must be a bare hostname: no scheme, port, path or address');
  }
  const labels = name.split('.');
  if (labels.some(label => label.length === 0)) {
    return refuse('must not contain empty labels');
  }
  const ascii: string[] = [];
  for (const label of labels) {
    const result = normaliseLabel(label);
    if (result.problem) {
      return result;
    }
    ascii.push(result.value!);
  }
  if (ascii.length < 2) {
    return refuse('must be a fully qualified name with at least two labels');
  }
  if (/^[0-9]+$/.test(ascii[ascii.length - 1])) {
    return refuse('must be a hostname, not an IP address');
  }
  const normalised = ascii.join('.');
  // A wildcard stands for at least one more character and a dot: `*.` counts, so that a pattern
  // no valid hostname can match is refused.
  if (prefix.length + normalised.length > MAX_NAME) {
    return refuse(`must be at most ${MAX_NAME} characters long (${prefix.length + normalised.length} in A-label form)`);
  }
  return { value: prefix + normalised };
}

function normaliseLabel(label: string): HostnameResult {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(label)) {
    const lower = label.toLowerCase();
    if (lower.length > MAX_LABEL) {
      return refuse(`must have labels of at most ${MAX_LABEL} characters ("${lower.slice(0, 16)}..." has ${lower.length})`);
    }
    if (!LDH_LABEL.test(lower)) {
      return refuse(/^-|-$/.test(lower)
        ? 'must not have a label that begins or ends with a hyphen'
        : 'may contain only letters, digits and hyphens in each label');
    }
    if (lower.startsWith('xn--')) {
      if (domainToASCII(lower) !== lower || domainToUnicode(lower) === '') {
        return refuse(`has an invalid A-label "${lower}"`);
      }
      // An A-label stands for its U-label: apply the same rules, so writing a name in its
      // xn-- form does not get past them (a Latin/Cyrillic mix, a stray ";" or hyphen).
      const decoded = normaliseUnicodeLabel(domainToUnicode(lower));
      if (decoded.problem) {
        return decoded;
      }
      if (decoded.value !== lower) {
        return refuse(`has an invalid A-label "${lower}"`);
      }
    }
    return { value: lower };
  }
  return normaliseUnicodeLabel(label);
}

function normaliseUnicodeLabel(label: string): HostnameResult {
  // Lower-case code point by code point: String#toLowerCase applies the Greek final-sigma rule
  // ("ΑΣ" to "ας"), where IDNA maps each "Σ" to "σ" and so names a different host.
  const unicode = Array.from(label.normalize('NFC'), ch => ch.toLowerCase()).join('');
  const aLabel = domainToASCII(unicode);
  // The label must round-trip, and lower-casing must agree with IDNA's own mapping of the label
  // as given (IDNA maps "ẞ" to "ss", lower-casing to "ß").
  if (aLabel === '' || aLabel.includes('.') || domainToUnicode(aLabel) !== unicode || domainToASCII(label) !== aLabel) {
    return refuse('has a Unicode label that is not a valid IDNA label as written (use the A-label form)');
  }
  // The ASCII characters of a U-label are copied into its A-label as they are (RFC 3492), so
  // they obey the hostname rules too; and RFC 5891 §4.2.3.1 restricts hyphens in U-labels.
  if (!LDH_LABEL.test(aLabel)) {
    return refuse('may contain only letters, digits and hyphens in each label');
  }
  if (/^-|-$/.test(unicode)) {
    return refuse('must not have a label that begins or ends with a hyphen');
  }
  if (unicode.slice(2, 4) === '--') {
    return refuse('must not have a Unicode label with hyphens in its third and fourth positions');
  }
  const scripts = CONFUSABLE_SCRIPTS.filter(([, pattern]) => pattern.test(unicode)).map(([scriptName]) => scriptName);
  if (scripts.length > 1) {
    return refuse(`has a label mixing ${scripts.join(' and ')} letters (a likely confusable)`);
  }
  if (aLabel.length > MAX_LABEL) {
    return refuse(`must have labels of at most ${MAX_LABEL} characters (the A-label "${aLabel.slice(0, 16)}..." has ${aLabel.length})`);
  }
  return { value: aLabel };
}

/**
 * Quotes a value for an error message, escaping control characters so that CR/LF show.
 */
export function quote(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}
