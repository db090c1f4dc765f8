import { Token } from 'aws-cdk-lib';
import { normaliseHostname, quote } from './hostname';
import type { TlsRptOptions } from '../tls-rpt';

/**
 * Checks TLS-RPT options; `prefix` is put before each prop name.
 */
export function tlsRptProblems(options: TlsRptOptions, prefix: string): string[] {
  const rua = options.rua ?? [];
  if (Token.isUnresolved(rua)) {
    return [];
  }
  if (rua.length === 0) {
    return [`\`${prefix}rua\` must list at least one mailto: or https: URI, got: []`];
  }
  const problems: string[] = [];
  const seen = new Map<string, number>();
  rua.forEach((uri, index) => {
    const prop = `\`${prefix}rua[${index}]\``;
    if (typeof uri !== 'string') {
      problems.push(`${prop} must be a string, got: ${quote(uri)}`);
      return;
    }
    if (Token.isUnresolved(uri)) {
      return;
    }
    const problem = ruaProblem(uri);
    if (problem) {
      problems.push(`${prop} ${problem}, got: ${quote(uri)}`);
    } else if (seen.has(uri)) {
      problems.push(`${prop} must not repeat \`${prefix}rua[${seen.get(uri)}]\`, got: ${quote(uri)}`);
    } else {
      seen.set(uri, index);
    }
  });
  return problems;
}

// RFC 5322 atext plus "." for the local part, less what RFC 6068 §2 requires percent-encoded in a
// mailto: URI: characters that are not URI characters ("^" "`" "{" "|" "}"), "%", "/" "?" "#",
// and "&" "=" ";"; "," is excluded too (see below).
const LOCAL_PART = /^(?:[A-Za-z0-9!$'*+_~.-]|%[0-9A-Fa-f]{2})+$/;
// RFC 3986 characters allowed in an https URI, less "," and ";" which RFC 8460 requires encoded.
const URI_CHARS = /^(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+=]|%[0-9A-Fa-f]{2})+$/;

function ruaProblem(uri: string): string | undefined {
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
