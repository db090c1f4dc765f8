import { App, Annotations as CoreAnnotations, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { MtaSts, MtaStsDomains, MtaStsMode } from '../src';

// A domain whose _smtp._tls record is managed outside the stack publishes no TLS-RPT record
// and acknowledges the warning, as the README's Troubleshooting section says.

const ENV = { account: '111111111111', region: 'us-east-1' };
const NO_TLS_RPT = 'cdk-mta-sts:noTlsRpt';
const REASON = '_smtp._tls is managed by our mail provider';

function noTlsRptWarning(domain: string): string {
  return `${domain}: no \`tlsRpt\` given, so no _smtp._tls record is published and senders cannot report MTA-STS or TLS failures (RFC 8460). [ack: ${NO_TLS_RPT}]`;
}

function makeStack(): { app: App; stack: Stack; zone: route53.IHostedZone } {
  const app = new App();
  const stack = new Stack(app, 'Stack', { env: ENV });
  const zone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789', zoneName: 'example.com' });
  return { app, stack, zone };
}

function withoutTlsRpt(stack: Stack, zone: route53.IHostedZone, mode = MtaStsMode.TESTING): MtaSts {
  return new MtaSts(stack, 'MtaSts', { hostedZone: zone, mode, mx: mode === MtaStsMode.NONE ? [] : ['mx1.example.com'] });
}

function warnings(stack: Stack): Array<[string, unknown]> {
  return Annotations.fromStack(stack).findWarning('*', Match.anyValue()).map(m => [m.id, m.entry.data]);
}

describe('publishing no TLS-RPT record', () => {
  test('warns by default, on the construct', () => {
    // GIVEN
    const { stack, zone } = makeStack();
    // WHEN
    withoutTlsRpt(stack, zone);
    // THEN
    expect(warnings(stack)).toEqual([['/Stack/MtaSts', noTlsRptWarning('example.com')]]);
    expect(Template.fromStack(stack).findResources('AWS::Route53::RecordSet', { Properties: { Type: 'TXT', Name: '_smtp._tls.example.com.' } })).toEqual({});
  });

  test('is silenced by acknowledging the warning on the stack, before the construct is created', () => {
    // GIVEN
    const { stack, zone } = makeStack();
    CoreAnnotations.of(stack).acknowledgeWarning(NO_TLS_RPT, REASON);
    // WHEN
    withoutTlsRpt(stack, zone);
    // THEN
    expect(warnings(stack)).toEqual([]);
  });

  test('is silenced by acknowledging the warning on the stack, after the construct is created', () => {
    // GIVEN
    const { stack, zone } = makeStack();
    withoutTlsRpt(stack, zone);
    // WHEN
    CoreAnnotations.of(stack).acknowledgeWarning(NO_TLS_RPT, REASON);
    // THEN
    expect(warnings(stack)).toEqual([]);
  });

  test('is silenced by acknowledging the warning on the construct after creating it', () => {
    // GIVEN
    const { stack, zone } = makeStack();
    const mtaSts = withoutTlsRpt(stack, zone);
    // WHEN
    CoreAnnotations.of(mtaSts).acknowledgeWarning(NO_TLS_RPT, REASON);
    // THEN
    expect(warnings(stack)).toEqual([]);
  });

  test('keeps the other warnings of the construct', () => {
    // GIVEN
    const { stack, zone } = makeStack();
    CoreAnnotations.of(stack).acknowledgeWarning(NO_TLS_RPT, REASON);
    // WHEN
    withoutTlsRpt(stack, zone, MtaStsMode.NONE);
    // THEN
    expect(warnings(stack)).toEqual([[
      '/Stack/MtaSts',
      'example.com: mode "none" withdraws the policy; keep it published for at least the previous max_age before removing MTA-STS (RFC 8461 §8.3). [ack: cdk-mta-sts:modeNone]',
    ]]);
  });

  test('is not silenced by an acknowledgement on the app made before the construct exists (aws-cdk-lib looks only at the scopes between)', () => {
    // GIVEN
    const { app, stack, zone } = makeStack();
    CoreAnnotations.of(app).acknowledgeWarning(NO_TLS_RPT, REASON);
    // WHEN
    withoutTlsRpt(stack, zone);
    // THEN
    expect(warnings(stack)).toEqual([['/Stack/MtaSts', noTlsRptWarning('example.com')]]);
  });

  test('is silenced by acknowledging the warning on the app after the construct is created', () => {
    // GIVEN
    const { app, stack, zone } = makeStack();
    withoutTlsRpt(stack, zone);
    // WHEN
    CoreAnnotations.of(app).acknowledgeWarning(NO_TLS_RPT, REASON);
    // THEN
    expect(warnings(stack)).toEqual([]);
  });

  test('is silenced in MtaStsDomains for every domain by the stack or the construct, also when the resources live in the us-east-1 companion stack', () => {
    // GIVEN
    const build = (region: string) => {
      const app = new App();
      const stack = new Stack(app, 'Stack', { env: { ...ENV, region } });
      const zone = (name: string) => route53.HostedZone.fromHostedZoneAttributes(stack, name, { hostedZoneId: `Z${name.length}`, zoneName: name });
      const domains = new MtaStsDomains(stack, 'MtaSts', {
        mx: ['mx1.example.com'],
        domains: [{ hostedZone: zone('a.example') }, { hostedZone: zone('b.example') }],
      });
      return { stack, domains };
    };
    const unacknowledged = build('eu-west-1');
    const onStack = build('us-east-1');
    const onConstruct = build('us-east-1');
    const onStackElsewhere = build('eu-west-1');
    // WHEN
    CoreAnnotations.of(onStack.stack).acknowledgeWarning(NO_TLS_RPT, REASON);
    CoreAnnotations.of(onConstruct.domains).acknowledgeWarning(NO_TLS_RPT, REASON);
    CoreAnnotations.of(onStackElsewhere.stack).acknowledgeWarning(NO_TLS_RPT, REASON);
    // THEN: the warnings are on the construct, in the user's stack, one per domain
    expect(warnings(unacknowledged.stack)).toEqual([
      ['/Stack/MtaSts', noTlsRptWarning('a.example')],
      ['/Stack/MtaSts', noTlsRptWarning('b.example')],
    ]);
    expect(warnings(onStack.stack)).toEqual([]);
    expect(warnings(onConstruct.stack)).toEqual([]);
    expect(warnings(onStackElsewhere.stack)).toEqual([]);
  });
});
