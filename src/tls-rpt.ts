import { renderTlsRptRecord } from './core/tls-rpt-record';
import { throwIfProblems } from './private/problems';
import { validateTlsRpt } from './private/tls-rpt-rules';

/**
 * Properties of a TlsRptRecord: where sending MTAs report TLS failures for a domain (the
 * `_smtp._tls` TXT record).
 *
 * @see https://www.rfc-editor.org/rfc/rfc8460#section-3
 */
export interface TlsRptRecordProps {
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
   * Lists every problem with the given props, each naming the prop, the rule and the
   * value given. An empty list means `new TlsRptRecord(props)` succeeds.
   */
  public static validate(props: TlsRptRecordProps): string[] {
    return validateTlsRpt(props, 'tlsRpt.');
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
   * Validates the props and renders the record.
   *
   * @param props The report destinations.
   * @throws Error listing every problem when the props are invalid
   */
  constructor(props: TlsRptRecordProps) {
    throwIfProblems('TlsRptRecord', TlsRptRecord.validate(props));
    this.rua = [...props.rua];
    this.value = renderTlsRptRecord(this.rua);
  }
}
