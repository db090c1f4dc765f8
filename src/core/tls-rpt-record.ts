import { normaliseHostname } from './hostname';
import { parseTxtFields } from './txt-fields';

/**
 * The TLS-RPT record (RFC 8460 §3): `v=TLSRPTv1; rua=<uri>[,<uri>...]` at `_smtp._tls.<domain>`.
 *
 * Pure: no aws-cdk-lib. The constructs validate and render with it, the checker parses with it.
 */

/** What every TLS-RPT record begins with; other TXT records at the name are ignored. */
export const TLS_RPT_RECORD_PREFIX = 'v=TLSRPTv1';

/** A parsed TLS-RPT record. */
export interface TlsRptRecordFields {
  /** The report URIs, in order. */
  readonly rua: string[];
  /** Extension fields, in order. */
  readonly extensions: Array<{ readonly name: string; readonly value: string }>;
}

/** The outcome of parsing one record: `record` when there are no errors. */
export interface TlsRptRecordParseResult {
  readonly record?: TlsRptRecordFields;
  readonly errors: string[];
}

/** The record value for the given (valid) report URIs. */
export function renderTlsRptRecord(rua: readonly string[]): string {
  return `${TLS_RPT_RECORD_PREFIX}; rua=${rua.join(',')}`;
}

/** Whether a TXT record at `_smtp._tls.<domain>` is a TLS-RPT record candidate: it begins with `v=TLSRPTv1`. */
export function isTlsRptRecordCandidate(value: string): boolean {
  return value.startsWith(TLS_RPT_RECORD_PREFIX);
}


/**
 * Parses a TLS-RPT record by the grammar of RFC 8460 §3: `v=TLSRPTv1`, then `;`-separated
 * fields (spaces and tabs allowed around `;`, a trailing `;` allowed), exactly one `rua` with
 * one or more URIs separated by `,` (spaces allowed around it), each valid by `ruaUriProblem`,
 * and extension fields `name=value`.
 */
export function parseTlsRptRecord(value: string): TlsRptRecordParseResult {
  const parsed = parseTxtFields(value, TLS_RPT_RECORD_PREFIX, ['rua']);
  if (!parsed) {
    return { errors: [`the record must begin with "${TLS_RPT_RECORD_PREFIX};" exactly, got: ${JSON.stringify(value)}`] };
  }
  const errors = [...parsed.errors];
  if (parsed.known.length > 1) {
    errors.push('the record has more than one rua field');
  }
  const rua = parsed.known.length > 0 ? parsed.known[0].value.split(/[ \t]*,[ \t]*/) : undefined;
  rua?.forEach((uri, index) => {
    const problem = uri === '' ? 'must not be empty' : ruaUriProblem(uri);
    if (problem) {
      errors.push(`rua URI ${index + 1} ${problem}, got: ${JSON.stringify(uri)}`);
    }
  });
  if (rua === undefined) {
    errors.push('the record has no rua field');
  }
  if (errors.length > 0 || rua === undefined) {
    return { errors };
  }
  return { record: { rua, extensions: parsed.extensions }, errors };
}

// RFC 5322 atext plus "." for the local part, less what RFC 6068 §2 requires percent-encoded in a
// mailto: URI: characters that are not URI characters ("^" "`" "{" "|" "}"), "%", "/" "?" "#",
// and "&" "=" ";"; "," is excluded too (see below).
const LOCAL_PART = /^(?:[A-Za-z0-9!$'*+_~.-]|%[0-9A-Fa-f]{2})+$/;
// RFC 3986 characters allowed in an https URI, less "," and ";" which RFC 8460 requires encoded.
const URI_CHARS = /^(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+=]|%[0-9A-Fa-f]{2})+$/;

/**
 * Why a `rua` URI is invalid, or undefined (RFC 8460 §3): a `mailto:` URI with one address, or an
 * `https:` URL with a host, in printable ASCII, with any `,` or `;` percent-encoded. Phrased to
 * follow the name of what holds the URI.
 */
export function ruaUriProblem(uri: string): string | undefined {
  if (/[\r\n]/.test(uri)) {
    return 'must not contain CR or LF';
  }
  if (/[,;]/.test(uri)) {
    return 'must percent-encode "," and ";" (%2C, %3B), which separate URIs and fields in the record';
  }
  // eslint-disable-next-line no-control-regex
  if (/[^\x21-\x7e]/.test(uri)) {
    return 'must be printable ASCII without spaces (percent-encode anything else)';
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(uri)?.[1]?.toLowerCase();
  if (scheme === 'mailto') {
    return mailtoProblem(uri.slice('mailto:'.length));
  }
  if (scheme === 'https') {
    return httpsProblem(uri);
  }
  return 'must be a mailto: address or an https: URL';
}

function mailtoProblem(address: string): string | undefined {
  const at = address.lastIndexOf('@');
  if (at <= 0) {
    return 'must be a mailto: URI with one address, local@domain';
  }
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (!LOCAL_PART.test(local) || local.includes('?') || local.startsWith('.') || local.endsWith('.') || local.includes('..')) {
    return 'must be a mailto: URI with one address whose local part is a dot-atom, with "#", "%", "&", "/", "=", "?", "^", "`", "{", "|" and "}" percent-encoded (RFC 6068; no "?" headers)';
  }
  const host = normaliseHostname(domain);
  if (host.problem || host.value !== domain.toLowerCase()) {
    return `must be a mailto: URI whose domain is a hostname (${host.problem ?? 'in its normal form'})`;
  }
  return undefined;
}

function httpsProblem(uri: string): string | undefined {
  if (!URI_CHARS.test(uri)) {
    return 'must be an https: URL of RFC 3986 characters';
  }
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'must be an https: URL';
  }
  // Read the parts as RFC 3986 does, not as the WHATWG URL parser (which skips extra slashes
  // and decodes the host): senders may use either.
  const parts = /^https:\/\/([^/?#]*)([^#]*)(?:#(.*))?$/i.exec(uri);
  if (!parts || parts[1] === '') {
    return 'must be an https: URL with an authority (https://host/...)';
  }
  if (url.username !== '' || url.password !== '' || parts[1].includes('@')) {
    return 'must be an https: URL without user information';
  }
  if (/[\[\]]/.test(parts[2]) || /[#\[\]]/.test(parts[3] ?? '')) {
    return 'must be an https: URL whose path, query and fragment percent-encode "[", "]" and any "#" after the first';
  }
  const host = normaliseHostname(parts[1].replace(/:[0-9]*$/, ''));
  if (host.problem) {
    return `must be an https: URL whose host is a DNS name (${host.problem})`;
  }
  return undefined;
}
