import { TlsRptOptions, TlsRptRecord } from '../tls-rpt';
import type { TlsRptCollector } from '../tls-rpt-collector';

/**
 * The TLS-RPT record of a domain whose reports go to a collector: the collector's address FIRST
 * (Microsoft reports only to the first URI, RFC 8460 senders may do the same), then its HTTPS
 * endpoint when it has one, then the user's own `rua` (without repeating the collector's).
 * `tlsRpt` must already be valid.
 */
export function tlsRptRecordWith(tlsRpt: TlsRptOptions | undefined, collector: TlsRptCollector | undefined): TlsRptRecord | undefined {
  if (!collector) {
    return tlsRpt && new TlsRptRecord(tlsRpt);
  }
  const own = [collector.rua, ...(collector.httpsRua ? [collector.httpsRua] : [])];
  const rest = (tlsRpt?.rua ?? []).filter(uri => !own.includes(uri));
  return new TlsRptRecord({ rua: [...own, ...rest] });
}
