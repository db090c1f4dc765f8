import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { MtaSts, MtaStsDomains, MtaStsMode, TlsRptCollector } from '../src';

const ENV = { account: '111111111111', region: 'us-east-1' };

function setUp() {
  const app = new App();
  const stack = new Stack(app, 'Stack', { env: ENV });
  const zone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789', zoneName: 'example.com' });
  const collector = new TlsRptCollector(stack, 'Collector', { hostedZone: zone });
  return { app, stack, zone, collector };
}

function tlsRptRecords(stack: Stack): Record<string, string[]> {
  const records = Template.fromStack(stack).findResources('AWS::Route53::RecordSet', { Properties: { Type: 'TXT' } });
  return Object.fromEntries(Object.values(records)
    .filter(r => String(r.Properties.Name).startsWith('_smtp._tls.'))
    .map(r => [r.Properties.Name, r.Properties.ResourceRecords]));
}

describe('a TlsRptCollector passed to the constructs', () => {
  test('puts the collector\'s address first in the rua list of MtaSts, before the user\'s own, without repeating it', () => {
    // GIVEN
    const { stack, zone, collector } = setUp();
    // WHEN
    const mtaSts = new MtaSts(stack, 'MtaSts', {
      hostedZone: zone,
      mx: ['mx.example.com'],
      tlsRpt: { rua: ['mailto:tls@example.com', collector.rua] },
      tlsRptCollector: collector,
    });
    // THEN
    expect(collector.rua).toBe('mailto:reports@tlsrpt.example.com');
    expect(mtaSts.tlsRptRecordValue).toBe('v=TLSRPTv1; rua=mailto:reports@tlsrpt.example.com,mailto:tls@example.com');
    expect(tlsRptRecords(stack)).toEqual({ '_smtp._tls.example.com.': ['"v=TLSRPTv1; rua=mailto:reports@tlsrpt.example.com,mailto:tls@example.com"'] });
  });

  test('publishes a TLS-RPT record with only the collector when tlsRpt is left out, and does not warn', () => {
    const { stack, zone, collector } = setUp();
    const mtaSts = new MtaSts(stack, 'MtaSts', { hostedZone: zone, mx: ['mx.example.com'], tlsRptCollector: collector });
    expect(mtaSts.tlsRptRecordValue).toBe('v=TLSRPTv1; rua=mailto:reports@tlsrpt.example.com');
    expect(mtaSts.node.metadata.filter(m => String(m.data).includes('cdk-mta-sts:noTlsRpt'))).toEqual([]);
  });

  test('registers each domain with its mode, so reports are counted and enforce domains get an alarm', () => {
    // GIVEN
    const { stack, zone, collector } = setUp();
    // WHEN
    new MtaStsDomains(stack, 'Domains', {
      mx: ['mx.example.com'],
      tlsRpt: { rua: ['mailto:tls@example.com'] },
      tlsRptCollector: collector,
      domains: [
        { hostedZone: zone, domainName: 'a.example.com' },
        { hostedZone: zone, domainName: 'b.example.com', mode: MtaStsMode.ENFORCE, tlsRpt: { rua: ['https://r.example.com/v1'] } },
      ],
    });
    // THEN
    expect(collector.policyDomainNames).toEqual(['a.example.com', 'b.example.com']);
    expect(collector.enforceAlarm('b.example.com')).toBeDefined();
    expect(collector.enforceAlarm('a.example.com')).toBeUndefined();
    expect(tlsRptRecords(stack)).toEqual({
      '_smtp._tls.a.example.com.': ['"v=TLSRPTv1; rua=mailto:reports@tlsrpt.example.com,mailto:tls@example.com"'],
      '_smtp._tls.b.example.com.': ['"v=TLSRPTv1; rua=mailto:reports@tlsrpt.example.com,https://r.example.com/v1"'],
    });
  });
});
