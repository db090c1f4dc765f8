import { renderTlsRptRecord } from './core/tls-rpt-record';
import { throwIfProblems } from './private/problems';
import { tlsRptProblems } from './private/tls-rpt-rules';

/**
 * Where sending MTAs report TLS failures for a domain (the `_smtp._tls` TXT record).
 *
 * @see https://www.rfc-editor.org/rfc/rfc8460#section-3
 */
export interface TlsRptOptions {
  /**
   * Report destinations, in order: `mailto:` addresses (reports arrive as gzip attachments)
   * or `https:` URLs (reports are POSTed as `application/tlsrpt+gzip`). A `,` or `;` inside a
   * URI must be percent-encoded. Unresolved tokens are published as given, without checks.
   *
   * @see https://www.rfc-editor.org/rfc/rfc8460#section-3
   */
  readonly rua: string[];
}

/**
 * A TLS-RPT policy record, validated and rendered as the value of the `_smtp._tls` TXT record.
 *
 * The value reads `v=TLSRPTv1; rua=<uri>,<uri>`.
 *
 * Pure: it creates no AWS resources, so it can be used and tested on its own.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8460#section-3
 */
export class TlsRptRecord {
  /**
   * Lists every problem with the given options, each naming the prop, the rule and the
   * value given. An empty list means `new TlsRptRecord(options)` succeeds.
   */
  public static validate(options: TlsRptOptions): string[] {
    return tlsRptProblems(options, 'tlsRpt.');
  }

  /** The report destinations, as given. */
  public readonly rua: string[];
  /**
   * The value of the `_smtp._tls` TXT record.
   *
   * It reads `v=TLSRPTv1; rua=<uri>[,<uri>...]`.
   */
  public readonly value: string;

  /**
   * Validates the options and renders the record.
   *
   * @param options The report destinations.
   * @throws Error listing every problem when the options are invalid
   */
  constructor(options: TlsRptOptions) {
    throwIfProblems('TLS-RPT record', TlsRptRecord.validate(options));
    this.rua = [...options.rua];
    this.value = renderTlsRptRecord(this.rua);
  }
}
