import { gunzipSync } from 'node:zlib';
import { MimePart } from './mime';

/** The media types RFC 8460 §5.3 gives the report part. */
const REPORT_MEDIA_TYPES = ['application/tlsrpt+gzip', 'application/tlsrpt+json'];
/** The file name RFC 8460 §5.1 gives the report: `...json` or `...json.gz`. */
const REPORT_FILENAME = /\.json(\.gz)?$/i;

/** A content problem: the message is kept under the rejected prefix with this reason. */
export class Rejection extends Error {
  constructor(public readonly reason: string, detail: string) {
    super(detail);
  }
}

/**
 * Finds the report part of a message: by media type, else by `.json`/`.json.gz` name, else
 * the first part whose body starts with the gzip magic (mislabelled attachments).
 *
 * @throws Rejection `no-report-part` when there is none
 */
export function findReportPart(parts: readonly MimePart[]): MimePart {
  const found = parts.find(part => REPORT_MEDIA_TYPES.includes(part.mediaType))
    ?? parts.find(part => part.filename !== undefined && REPORT_FILENAME.test(part.filename))
    ?? parts.find(part => isGzip(part.body));
  if (!found) {
    const seen = parts.map(part => part.filename ? `${part.mediaType} (${part.filename})` : part.mediaType).join(', ');
    throw new Rejection('no-report-part', `no part is application/tlsrpt+gzip or +json, named *.json[.gz] or gzip data; parts: ${seen || 'none'}`);
  }
  return found;
}

/**
 * The report's JSON text: gunzipped when the body starts with the gzip magic (whatever its
 * label), else taken as JSON as is (gzip-labelled plain JSON exists). Never produces more
 * than `maxBytes`: decompression stops there.
 *
 * @throws Rejection `report-too-large`, `bad-gzip` or `not-a-report`
 */
export function decodeReport(part: MimePart, maxBytes: number): string {
  let bytes = part.body;
  if (isGzip(bytes)) {
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: maxBytes });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) {
        throw new Rejection('report-too-large', `the report decompresses to more than ${maxBytes} bytes`);
      }
      throw new Rejection('bad-gzip', `the report part is not valid gzip: ${(error as Error).message}`);
    }
  } else if (bytes.length > maxBytes) {
    throw new Rejection('report-too-large', `the report part is ${bytes.length} bytes, more than ${maxBytes}`);
  }
  const text = bytes.toString('utf8');
  if (!/^[\uFEFF\s]*\{/.test(text)) {
    throw new Rejection('not-a-report', `the ${part.mediaType} part is neither gzip nor a JSON object`);
  }
  return text;
}

/** Whether a buffer starts with the gzip magic bytes 1f 8b. */
export function isGzip(bytes: Buffer): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}
