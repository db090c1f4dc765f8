import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { ACCOUNT } from './fixtures';
import { MtaSts, MtaStsDomains, TlsRptCollector } from '../src';

/**
 * A collector with HTTPS reception referenced by constructs whose records live in another
 * region (the us-east-1 companion stack of a stack elsewhere): the function URL cannot be
 * referenced across regions, so only the collector's address goes into the record, with a warning.
 */
function app(region: string) {
  const application = new App();
  const stack = new Stack(application, 'Mail', { env: { account: ACCOUNT, region } });
  const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789', zoneName: 'example.com' });
  const collector = new TlsRptCollector(stack, 'Reports', { hostedZone, httpsReception: true });
  return { application, stack, hostedZone, collector };
}

describe('a collector with HTTPS reception in another region than the records', () => {
  test('MtaSts in eu-west-1 synthesizes, with only the collector\'s address in the record and a warning naming both regions', () => {
    // GIVEN
    const { application, stack, hostedZone, collector } = app('eu-west-1');

    // WHEN
    const mtaSts = new MtaSts(stack, 'MtaSts', { hostedZone, mx: ['mx1.example.com'], tlsRptCollector: collector });
    const assembly = application.synth();

    // THEN
    expect(mtaSts.tlsRptRecordValue).toBe(`v=TLSRPTv1; rua=${collector.rua}`);
    const companion = assembly.getStackByName('Mail-MtaSts');
    Template.fromJSON(companion.template).hasResourceProperties('AWS::Route53::RecordSet', {
      Name: '_smtp._tls.example.com.', Type: 'TXT', ResourceRecords: [`"v=TLSRPTv1; rua=${collector.rua}"`],
    });
    Annotations.fromStack(stack).hasWarning('/Mail/MtaSts', Match.stringLikeRegexp(
      '^the HTTPS endpoint of the TLS-RPT collector Mail/Reports \\(eu-west-1\\) is left out of the _smtp._tls record, which lives in us-east-1: '
      + '.*\\[ack: cdk-mta-sts:collectorHttpsOtherRegion\\]$'));
  });

  test('MtaStsDomains in eu-west-1 synthesizes the same way', () => {
    // GIVEN
    const { application, stack, hostedZone, collector } = app('eu-west-1');

    // WHEN
    new MtaStsDomains(stack, 'MtaSts', { mx: ['mx1.example.com'], tlsRptCollector: collector, domains: [{ hostedZone }] });
    const assembly = application.synth();

    // THEN
    Template.fromJSON(assembly.getStackByName('Mail-MtaSts').template).hasResourceProperties('AWS::Route53::RecordSet', {
      Name: '_smtp._tls.example.com.', Type: 'TXT', ResourceRecords: [`"v=TLSRPTv1; rua=${collector.rua}"`],
    });
    Annotations.fromStack(stack).hasWarning('/Mail/MtaSts', Match.stringLikeRegexp('cdk-mta-sts:collectorHttpsOtherRegion'));
  });

  test('in us-east-1 the HTTPS endpoint follows the address, with no warning', () => {
    // GIVEN
    const { stack, hostedZone, collector } = app('us-east-1');

    // WHEN
    new MtaSts(stack, 'MtaSts', { hostedZone, mx: ['mx1.example.com'], tlsRptCollector: collector });

    // THEN
    const record = Object.values(Template.fromStack(stack).findResources('AWS::Route53::RecordSet', { Properties: { Name: '_smtp._tls.example.com.' } }));
    expect(JSON.stringify(record[0].Properties.ResourceRecords)).toContain('FunctionUrl');
    Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('collectorHttpsOtherRegion'));
  });
});
