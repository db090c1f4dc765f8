import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { MtaSts, MtaStsDomains, MtaStsMode } from '../src';

// Whole-template snapshots of the main configurations. They complement the targeted
// assertions in mta-sts.test.ts; asset hashes are masked by test/asset-hash-serializer.ts.

const ACCOUNT = '111111111111';

function zoneIn(stack: Stack): route53.IHostedZone {
  return route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789', zoneName: 'example.com' });
}

test('testing mode with TLS-RPT in a us-east-1 stack', () => {
  const app = new App();
  const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
  new MtaSts(stack, 'MtaSts', {
    hostedZone: zoneIn(stack),
    mx: ['mx1.example.com', '*.mail.example.com'],
    tlsRpt: { rua: ['mailto:tls-reports@example.com'] },
  });
  expect(Template.fromStack(stack).toJSON()).toMatchSnapshot();
});

test('enforce mode in eu-west-1 with its resources in a us-east-1 companion stack', () => {
  const app = new App();
  const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'eu-west-1' } });
  new MtaSts(stack, 'MtaSts', {
    hostedZone: zoneIn(stack),
    mode: MtaStsMode.ENFORCE,
    mx: ['mx1.example.com', 'mx2.example.com'],
    maxAge: Duration.days(14),
    tlsRpt: { rua: ['mailto:tls-reports@example.com', 'https://tlsrpt.example.com/v1'] },
  });
  const companion = app.node.findChild('Stack-MtaSts') as Stack;
  expect({
    stack: Template.fromStack(stack).toJSON(),
    companion: Template.fromStack(companion).toJSON(),
  }).toMatchSnapshot();
});

test('mode none with a supplied certificate and no TLS-RPT', () => {
  const app = new App();
  const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
  new MtaSts(stack, 'MtaSts', {
    hostedZone: zoneIn(stack),
    mode: MtaStsMode.NONE,
    mx: [],
    maxAge: Duration.days(1),
    certificate: acm.Certificate.fromCertificateArn(stack, 'Certificate', `arn:aws:acm:us-east-1:${ACCOUNT}:certificate/abc`),
  });
  expect(Template.fromStack(stack).toJSON()).toMatchSnapshot();
});

test('MtaStsDomains with three domains in two zones', () => {
  const app = new App();
  const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const zone = zoneIn(stack);
  const other = route53.HostedZone.fromHostedZoneAttributes(stack, 'Other', { hostedZoneId: 'Z9876543210', zoneName: 'example.org' });
  new MtaStsDomains(stack, 'MtaSts', {
    mx: ['*.mail.example.net'],
    tlsRpt: { rua: ['mailto:tls-reports@example.net'] },
    domains: [
      { hostedZone: zone },
      { hostedZone: zone, domainName: 'eu.example.com', mode: MtaStsMode.ENFORCE },
      { hostedZone: other },
    ],
  });
  expect(Template.fromStack(stack).toJSON()).toMatchSnapshot();
});
