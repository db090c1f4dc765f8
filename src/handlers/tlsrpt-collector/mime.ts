/**
 * A small MIME reader (RFC 2045, 2046, 2231): headers, nested multipart bodies, base64 and
 * quoted-printable transfer encodings, part names. Enough to find a TLS-RPT report in a
 * message (RFC 8460 §5.3); it never throws on malformed input, it just finds fewer parts.
 *
 * Works on latin1 strings so every byte survives the round trip.
 */

/** One leaf part of a message, its body decoded from its transfer encoding. */
export interface MimePart {
  /** The media type, lower case (`application/tlsrpt+gzip`); `text/plain` when absent. */
  readonly mediaType: string;
  /** The file name from Content-Disposition or Content-Type, when given. */
  readonly filename?: string;
  /** The decoded body. */
  readonly body: Buffer;
}

/** A parsed message: its top-level headers and every leaf part, depth first. */
export interface MimeMessage {
  /** Header values by lower-case name, unfolded, in order. */
  readonly headers: ReadonlyMap<string, readonly string[]>;
  readonly parts: readonly MimePart[];
}

/** Nesting deeper than this is not followed (a message is not a zip bomb either). */
const MAX_DEPTH = 8;
/** At most this many leaf parts are read. */
const MAX_PARTS = 100;

/** Parses a raw RFC 5322 message. */
export function parseMimeMessage(raw: Buffer): MimeMessage {
  const text = raw.toString('latin1');
  const { headers, body } = splitEntity(text);
  const parts: MimePart[] = [];
  collectParts(headers, body, 0, parts);
  return { headers, parts };
}

/** The first value of a header, or undefined. */
export function headerOf(message: MimeMessage, name: string): string | undefined {
  return message.headers.get(name.toLowerCase())?.[0];
}

function collectParts(headers: Map<string, string[]>, body: string, depth: number, parts: MimePart[]): void {
  if (parts.length >= MAX_PARTS) {
    return;
  }
  const contentType = parseHeaderValue(headers.get('content-type')?.[0] ?? 'text/plain');
  const mediaType = contentType.value.toLowerCase() || 'text/plain';
  const boundary = contentType.params.boundary;
  if (mediaType.startsWith('multipart/') && boundary && depth < MAX_DEPTH) {
    for (const child of splitMultipart(body, boundary)) {
      const entity = splitEntity(child);
      collectParts(entity.headers, entity.body, depth + 1, parts);
    }
    return;
  }
  const disposition = parseHeaderValue(headers.get('content-disposition')?.[0] ?? '');
  const filename = disposition.params.filename ?? contentType.params.name;
  const encoding = (headers.get('content-transfer-encoding')?.[0] ?? '').trim().toLowerCase();
  parts.push({
    mediaType,
    ...(filename ? { filename } : {}),
    body: decodeBody(body, encoding),
  });
}

/** Splits an entity at its first empty line into unfolded headers and the body. */
function splitEntity(entity: string): { headers: Map<string, string[]>; body: string } {
  // An entity may start with its empty line (no headers at all).
  const match = /^\r?\n/.exec(entity) ?? /\r?\n\r?\n/.exec(entity);
  const headerText = match ? entity.slice(0, match.index) : entity;
  const body = match ? entity.slice(match.index + match[0].length) : '';
  const headers = new Map<string, string[]>();
  // Unfold: a line starting with white space continues the previous one.
  for (const line of headerText.replace(/\r?\n(?=[ \t])/g, '').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) {
      continue;
    }
    const name = line.slice(0, colon).trim().toLowerCase();
    const values = headers.get(name) ?? [];
    values.push(line.slice(colon + 1).trim());
    headers.set(name, values);
  }
  return { headers, body };
}

function splitMultipart(body: string, boundary: string): string[] {
  const delimiter = `--${boundary}`;
  const children: string[] = [];
  let current: string[] | undefined;
  for (const line of body.split(/\n/)) {
    const bare = line.replace(/\r$/, '');
    // A delimiter line is the boundary alone, or followed by `--` (the last), then optional white space.
    const rest = bare.startsWith(delimiter) ? bare.slice(delimiter.length).trimEnd() : undefined;
    if (rest === '' || rest === '--') {
      if (current) {
        // The line break before a delimiter belongs to the delimiter (RFC 2046 §5.1.1).
        children.push(current.join('\n').replace(/\r$/, ''));
      }
      if (rest === '--') {
        return children;
      }
      current = [];
      continue;
    }
    current?.push(line);
  }
  // No closing delimiter: keep what came after the last opening one.
  if (current) {
    children.push(current.join('\n'));
  }
  return children;
}

interface HeaderValue {
  readonly value: string;
  readonly params: Record<string, string>;
}

/** Parses `value; name="x"; name*=utf-8''%41`, tolerating missing quotes and stray spaces. */
function parseHeaderValue(header: string): HeaderValue {
  const [value, ...rest] = splitParams(header);
  const params: Record<string, string> = {};
  const extended: Record<string, Array<{ index: number; text: string; encoded: boolean }>> = {};
  for (const param of rest) {
    const eq = param.indexOf('=');
    if (eq <= 0) {
      continue;
    }
    const rawName = param.slice(0, eq).trim().toLowerCase();
    let text = param.slice(eq + 1).trim();
    if (text.startsWith('"') && text.endsWith('"') && text.length >= 2) {
      text = text.slice(1, -1).replace(/\\(.)/g, '$1');
    }
    // RFC 2231: name*=charset'lang'percent-encoded, name*0=..., name*1*=...
    const ext = /^([^*]+)\*(\d+)?\*?$/.exec(rawName);
    if (ext) {
      const name = ext[1];
      const index = Number(ext[2] ?? 0);
      (extended[name] ??= []).push({ index, text, encoded: rawName.endsWith('*') });
    } else {
      params[rawName] = text;
    }
  }
  for (const [name, pieces] of Object.entries(extended)) {
    pieces.sort((a, b) => a.index - b.index);
    params[name] = pieces.map((piece, position) => {
      if (!piece.encoded) {
        return piece.text;
      }
      const encoded = position === 0 ? piece.text.replace(/^[^']*'[^']*'/, '') : piece.text;
      try {
        return decodeURIComponent(encoded);
      } catch {
        return encoded;
      }
    }).join('');
  }
  return { value: value?.trim() ?? '', params };
}

/** Splits at semicolons outside double quotes. */
function splitParams(header: string): string[] {
  const pieces: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < header.length; i++) {
    const char = header[i];
    if (char === '\\' && quoted && i + 1 < header.length) {
      current += char + header[++i];
      continue;
    }
    if (char === '"') {
      quoted = !quoted;
    }
    if (char === ';' && !quoted) {
      pieces.push(current);
      current = '';
      continue;
    }
    current += char;
  }
  pieces.push(current);
  return pieces;
}

function decodeBody(body: string, encoding: string): Buffer {
  if (encoding === 'base64') {
    return Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  }
  if (encoding === 'quoted-printable') {
    const decoded = body
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    return Buffer.from(decoded, 'latin1');
  }
  return Buffer.from(body, 'latin1');
}
