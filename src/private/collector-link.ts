import { Annotations, Stack, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { WARNING_IDS } from './annotations';
import { resourceRegionOf } from './placement';
import { TlsRptRecordProps, TlsRptRecord } from '../tls-rpt';
import type { TlsRptCollector } from '../tls-rpt-collector';

/**
 * The TLS-RPT record of a domain whose reports go to a collector: the collector's address FIRST
 * (Microsoft reports only to the first URI, RFC 8460 senders may do the same), then its HTTPS
 * endpoint when it has one, then the user's own `rua` (without repeating the collector's).
 * `tlsRpt` must already be valid.
 *
 * The HTTPS endpoint's URL is known only once deployed; the record lives in the region of the
 * construct's resources (us-east-1 for a stack elsewhere), and CDK cannot reference a value of
 * another region there. So a collector in another region than the record contributes only its
 * address, with a warning on `construct` (senders that report by HTTPS are few; every big one
 * sends mail).
 */
export function tlsRptRecordWith(
  construct: IConstruct, tlsRpt: TlsRptRecordProps | undefined, collector: TlsRptCollector | undefined,
): TlsRptRecord | undefined {
  if (!collector) {
    return tlsRpt && new TlsRptRecord(tlsRpt);
  }
  let https = collector.httpsRua;
  const collectorRegion = Stack.of(collector).region;
  const recordRegion = resourceRegionOf(construct);
  if (https !== undefined && Token.isUnresolved(https) && !Token.isUnresolved(collectorRegion) && !Token.isUnresolved(recordRegion)
    && collectorRegion !== recordRegion) {
    Annotations.of(construct).addWarningV2(WARNING_IDS.COLLECTOR_HTTPS_OTHER_REGION,
      `the HTTPS endpoint of the TLS-RPT collector ${collector.node.path} (${collectorRegion}) is left out of the _smtp._tls record, which lives in `
      + `${recordRegion}: its URL is only known once deployed, and CDK cannot reference it from another region. Reports still arrive by mail; `
      + 'to receive HTTPS reports too, put the collector in a us-east-1 stack, or add its URL to `tlsRpt.rua` once deployed.');
    https = undefined;
  }
  const own = [collector.rua, ...(https ? [https] : [])];
  const rest = (tlsRpt?.rua ?? []).filter(uri => !own.includes(uri));
  return new TlsRptRecord({ rua: [...own, ...rest] });
}
