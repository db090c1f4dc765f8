import { App, Annotations as CoreAnnotations, Duration, Fn, Stack, Stage } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { LEG } from './leg';
import { MtaSts, MtaStsDomains, MtaStsMode, MtaStsProps } from '../src';
import { addMxDriftCheck } from '../src/private/mx-drift';

const ENV = { account: '111111111111', region: 'us-east-1' };
const RUA = { rua: ['mailto:tls-reports@example.com'] };

function makeApp(): { app: App; stack: Stack; zone: route53.IHostedZone } {
  const app = new App();
  const stack = new Stack(app, 'Stack', { env: ENV });
  const zone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789', zoneName: 'example.com' });
  return { app, stack, zone };
}

function mtaSts(stack: Stack, zone: route53.IHostedZone, mode: MtaStsMode, extra: Partial<MtaStsProps> = {}): MtaSts {
  return new MtaSts(stack, 'MtaSts', { hostedZone: zone, mode, mx: ['mx1.example.com', '*.mail.example.com'], maxAge: Duration.days(14), tlsRpt: RUA, ...extra });
}

function mxRecord(scope: Stack, id: string, zone: route53.IHostedZone, hosts: string[], recordName?: string): route53.MxRecord {
  return new route53.MxRecord(scope, id, { zone, recordName, values: hosts.map((hostName, i) => ({ priority: 10 * (i + 1), hostName })) });
}

/** The message app.synth() throws, or undefined when it succeeds. */
function synthError(app: App): string | undefined {
  try {
    app.synth();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

function enforceError(domain: string, host: string, suggestion: string, recordPath: string): string {
  return `${domain}: \`mx\` must match every MX host of the domain (RFC 8461 §4.1), or senders in enforce mode refuse to deliver to it; `
    + `add ${suggestion} to \`mx\`, got: "${host}" in the MX record at ${recordPath}`;
}

function testingWarning(domain: string, host: string, suggestion: string, recordPath: string): string {
  return `${domain}: \`mx\` should match every MX host of the domain (RFC 8461 §4.1), or senders in testing mode report every delivery to it as a failure; `
    + `add ${suggestion} to \`mx\`, got: "${host}" in the MX record at ${recordPath} [ack: cdk-mta-sts:mxNotInPolicy]`;
}

function validationFailure(...lines: string[]): string {
  return ['Validation failed with the following errors:', ...lines.map(line => `  ${line}`)].join('\n');
}

describe('MX drift in enforce mode', () => {
  test('fails synthesis when an MX host of the domain is not matched by mx', () => {
    // GIVEN
    const { app, stack, zone } = makeApp();
    mtaSts(stack, zone, MtaStsMode.ENFORCE);
    // WHEN
    mxRecord(stack, 'Mx', zone, ['mx1.example.com.', 'MX3.example.com.']);
    // THEN
    expect(synthError(app)).toBe(validationFailure(
      `[Stack/MtaSts] ${enforceError('example.com', 'mx3.example.com', '"mx3.example.com" or "*.example.com"', 'Stack/Mx')}`,
    ));
  });

  test('passes when every MX host is matched, with priorities and trailing dots in the values', () => {
    // GIVEN
    const { app, stack, zone } = makeApp();
    mtaSts(stack, zone, MtaStsMode.ENFORCE);
    // WHEN
    mxRecord(stack, 'Mx', zone, ['mx1.example.com.', 'a.mail.example.com']);
    // THEN
    expect(synthError(app)).toBeUndefined();
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('mxNotInPolicy'))).toEqual([]);
  });

  test('lets a wildcard stand for exactly one leftmost label', () => {
    // GIVEN
    const { app, stack, zone } = makeApp();
    mtaSts(stack, zone, MtaStsMode.ENFORCE, { mx: ['*.mail.example.com'] });
    // WHEN
    mxRecord(stack, 'Mx', zone, ['a.mail.example.com', 'a.b.mail.example.com', 'mail.example.com']);
    // THEN
    expect(synthError(app)).toBe(validationFailure(
      `[Stack/MtaSts] ${enforceError('example.com', 'a.b.mail.example.com', '"a.b.mail.example.com" or "*.b.mail.example.com"', 'Stack/Mx')}`,
      `[Stack/MtaSts] ${enforceError('example.com', 'mail.example.com', '"mail.example.com" or "*.example.com"', 'Stack/Mx')}`,
    ));
  });

  test('finds an MX record in another stack of the same app, defined after the construct', () => {
    // GIVEN
    const { app, stack, zone } = makeApp();
    mtaSts(stack, zone, MtaStsMode.ENFORCE);
    // WHEN
    const mailStack = new Stack(app, 'MailStack', { env: { account: '222222222222', region: 'eu-west-1' } });
    const mailZone = route53.HostedZone.fromHostedZoneAttributes(mailStack, 'Zone', { hostedZoneId: 'Z9876543210', zoneName: 'example.com' });
    mxRecord(mailStack, 'Mx', mailZone, ['mx1.example.com', 'mx2.example.com']);
    // THEN
    expect(synthError(app)).toBe(validationFailure(
      `[Stack/MtaSts] ${enforceError('example.com', 'mx2.example.com', '"mx2.example.com" or "*.example.com"', 'MailStack/Mx')}`,
    ));
  });

  test('finds an MX record in a stage of the app', () => {
    // GIVEN
    const { app, stack, zone } = makeApp();
    mtaSts(stack, zone, MtaStsMode.ENFORCE);
    // WHEN
    const stage = new Stage(app, 'Mail');
    const mailStack = new Stack(stage, 'MailStack', { env: ENV });
    mxRecord(mailStack, 'Mx', route53.HostedZone.fromHostedZoneAttributes(mailStack, 'Zone', { hostedZoneId: 'Z1', zoneName: 'example.com' }), ['mx2.example.com']);
    // THEN
    expect(synthError(app)).toBe(validationFailure(
      `[Stack/MtaSts] ${enforceError('example.com', 'mx2.example.com', '"mx2.example.com" or "*.example.com"', 'Mail/MailStack/Mx')}`,
    ));
  });

  test('resolves a record name relative to the zone and a fully qualified one to the same policy domain', () => {
    // GIVEN
    const { app, stack, zone } = makeApp();
    mtaSts(stack, zone, MtaStsMode.ENFORCE, { domainName: 'eu.example.com', mx: ['mx1.eu.example.com'] });
    // WHEN
    mxRecord(stack, 'Relative', zone, ['mx2.eu.example.com'], 'eu');
    mxRecord(stack, 'Qualified', zone, ['mx3.eu.example.com'], 'EU.example.com.');
    mxRecord(stack, 'Apex', zone, ['mx4.example.com']);
    // THEN
    expect(synthError(app)).toBe(validationFailure(
      `[Stack/MtaSts] ${enforceError('eu.example.com', 'mx2.eu.example.com', '"mx2.eu.example.com" or "*.eu.example.com"', 'Stack/Relative')}`,
      `[Stack/MtaSts] ${enforceError('eu.example.com', 'mx3.eu.example.com', '"mx3.eu.example.com" or "*.eu.example.com"', 'Stack/Qualified')}`,
    ));
  });

  test('reads a CfnRecordSet of type MX by its Name, with or without the trailing dot', () => {
    // GIVEN
    const { app, stack, zone } = makeApp();
    mtaSts(stack, zone, MtaStsMode.ENFORCE);
    // WHEN
    new route53.CfnRecordSet(stack, 'RawMx', { hostedZoneId: 'Z0123456789', name: 'Example.COM', type: 'MX', ttl: '300', resourceRecords: ['10 mx1.example.com.', '20 mx9.example.com.'] });
    new route53.CfnRecordSet(stack, 'RawTxt', { hostedZoneId: 'Z0123456789', name: 'example.com.', type: 'TXT', ttl: '300', resourceRecords: ['"10 mx8.example.com."'] });
    // THEN
    expect(synthError(app)).toBe(validationFailure(
      `[Stack/MtaSts] ${enforceError('example.com', 'mx9.example.com', '"mx9.example.com" or "*.example.com"', 'Stack/RawMx')}`,
    ));
  });

  test('accepts a null MX (the domain receives no mail)', () => {
    // GIVEN
    const { app, stack, zone } = makeApp();
    mtaSts(stack, zone, MtaStsMode.ENFORCE);
    // WHEN
    new route53.CfnRecordSet(stack, 'NullMx', { hostedZoneId: 'Z0123456789', name: 'example.com.', type: 'MX', resourceRecords: ['0 .'] });
    // THEN
    expect(synthError(app)).toBeUndefined();
  });

  test('checks each domain of MtaStsDomains against its own policy and reports once however often the check is added', () => {
    // GIVEN
    const { app, stack } = makeApp();
    const zoneA = route53.HostedZone.fromHostedZoneAttributes(stack, 'ZoneA', { hostedZoneId: 'ZA', zoneName: 'a.example' });
    const zoneB = route53.HostedZone.fromHostedZoneAttributes(stack, 'ZoneB', { hostedZoneId: 'ZB', zoneName: 'b.example' });
    const domains = new MtaStsDomains(stack, 'MtaSts', {
      mode: MtaStsMode.ENFORCE,
      mx: ['mx.a.example'],
      tlsRpt: RUA,
      domains: [{ hostedZone: zoneA }, { hostedZone: zoneB, mx: ['*.b.example'] }],
    });
    // WHEN
    addMxDriftCheck(domains);
    addMxDriftCheck(domains);
    mxRecord(stack, 'MxA', zoneA, ['mx.a.example', 'mx.b.example']);
    mxRecord(stack, 'MxB', zoneB, ['mx.b.example', 'mx.a.example']);
    // THEN
    expect(synthError(app)).toBe(validationFailure(
      `[Stack/MtaSts] ${enforceError('a.example', 'mx.b.example', '"mx.b.example" or "*.b.example"', 'Stack/MxA')}`,
      `[Stack/MtaSts] ${enforceError('b.example', 'mx.a.example', '"mx.a.example" or "*.a.example"', 'Stack/MxB')}`,
    ));
  });

  test('suggests no wildcard when the host\'s parent is a single label', () => {
    // GIVEN
    const { app, stack, zone } = makeApp();
    mtaSts(stack, zone, MtaStsMode.ENFORCE);
    // WHEN
    mxRecord(stack, 'Mx', zone, ['example.com']);
    // THEN
    expect(synthError(app)).toBe(validationFailure(
      `[Stack/MtaSts] ${enforceError('example.com', 'example.com', '"example.com"', 'Stack/Mx')}`,
    ));
  });
});

describe('MX drift in testing and none modes', () => {
  test('warns in testing mode, once however often the app is synthesized', () => {
    // GIVEN
    const { app, stack, zone } = makeApp();
    mtaSts(stack, zone, MtaStsMode.TESTING);
    // WHEN
    mxRecord(stack, 'Mx', zone, ['mx1.example.com', 'mx3.example.com']);
    // THEN
    expect(synthError(app)).toBeUndefined();
    Annotations.fromStack(stack); // a second synthesis
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('mxNotInPolicy'))).toEqual([{
      id: '/Stack/MtaSts',
      level: 'warning',
      entry: expect.objectContaining({ data: testingWarning('example.com', 'mx3.example.com', '"mx3.example.com" or "*.example.com"', 'Stack/Mx') }),
    }]);
  });

  test('lets the testing-mode warning be acknowledged on the stack', () => {
    // GIVEN
    const { stack, zone } = makeApp();
    mtaSts(stack, zone, MtaStsMode.TESTING);
    mxRecord(stack, 'Mx', zone, ['mx3.example.com']);
    // WHEN
    CoreAnnotations.of(stack).acknowledgeWarning('cdk-mta-sts:mxNotInPolicy', 'moving to mx3 next week');
    // THEN
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('mxNotInPolicy'))).toEqual([]);
  });

  test('says nothing in mode none', () => {
    // GIVEN
    const { app, stack, zone } = makeApp();
    mtaSts(stack, zone, MtaStsMode.NONE, { mx: [] });
    // WHEN
    mxRecord(stack, 'Mx', zone, ['mx3.example.com']);
    // THEN
    expect(synthError(app)).toBeUndefined();
    const messages = Annotations.fromStack(stack);
    expect(messages.findWarning('*', Match.stringLikeRegexp('MX'))).toEqual([]);
    expect(messages.findInfo('*', Match.anyValue())).toEqual([]);
  });

  test('ignores the MX records of a domain that publishes no policy, such as a subdomain', () => {
    // GIVEN
    const { app, stack, zone } = makeApp();
    mtaSts(stack, zone, MtaStsMode.ENFORCE);
    // WHEN
    mxRecord(stack, 'SubdomainMx', zone, ['mx.other.example'], 'eu');
    const otherZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'OtherZone', { hostedZoneId: 'Z2', zoneName: 'example.net' });
    mxRecord(stack, 'OtherMx', otherZone, ['mx.other.example']);
    // THEN
    expect(synthError(app)).toBeUndefined();
    expect(Annotations.fromStack(stack).findInfo('*', Match.anyValue())).toEqual([]);
  });
});

describe('MX drift and values it cannot read', () => {
  test('skips an MX value that is a token, with a note, and checks the literal ones', () => {
    // GIVEN
    const { app, stack, zone } = makeApp();
    mtaSts(stack, zone, MtaStsMode.ENFORCE);
    // WHEN
    mxRecord(stack, 'Mx', zone, ['mx1.example.com', Fn.importValue('MailHost')]);
    // THEN
    expect(synthError(app)).toBeUndefined();
    expect(Annotations.fromStack(stack).findInfo('*', Match.anyValue()).map(m => [m.id, m.entry.data])).toEqual([[
      '/Stack/MtaSts',
      'example.com: the MX drift check skipped 1 value(s) of the MX record at Stack/Mx that are unresolved tokens, '
        + 'so make sure every host they name is matched by `mx`. [ack: cdk-mta-sts:mxNotChecked]',
    ]]);
  });

  test('skips an MX record whose name is a token, with a note', () => {
    // GIVEN
    const { app, stack, zone } = makeApp();
    mtaSts(stack, zone, MtaStsMode.ENFORCE);
    // WHEN
    new route53.CfnRecordSet(stack, 'TokenMx', { hostedZoneId: 'Z0123456789', name: Fn.importValue('MailDomain'), type: 'MX', resourceRecords: ['10 mx9.example.com.'] });
    // THEN
    expect(synthError(app)).toBeUndefined();
    expect(Annotations.fromStack(stack).findInfo('*', Match.anyValue()).map(m => [m.id, m.entry.data])).toEqual([[
      '/Stack/MtaSts',
      'The MX drift check skipped the MX record at Stack/TokenMx: its name is an unresolved token, '
        + 'so make sure every host it lists is matched by `mx` of its policy domain. [ack: cdk-mta-sts:mxNotChecked]',
    ]]);
  });

  test('skips an MX value that is not "<priority> <host>", with a note', () => {
    // GIVEN
    const { app, stack, zone } = makeApp();
    mtaSts(stack, zone, MtaStsMode.ENFORCE);
    // WHEN
    new route53.CfnRecordSet(stack, 'OddMx', { hostedZoneId: 'Z0123456789', name: 'example.com.', type: 'MX', resourceRecords: ['10 mx9.example.com. extra'] });
    // THEN
    expect(synthError(app)).toBeUndefined();
    expect(Annotations.fromStack(stack).findInfo('*', Match.anyValue()).map(m => [m.id, m.entry.data])).toEqual([[
      '/Stack/MtaSts',
      'example.com: the MX drift check skipped the value "10 mx9.example.com. extra" of the MX record at Stack/OddMx: it is not "<priority> <host>". [ack: cdk-mta-sts:mxNotChecked]',
    ]]);
  });

  test('lets the notes be acknowledged on the stack, by their id, where aws-cdk-lib has acknowledgeInfo (not 2.197.0)', () => {
    // GIVEN
    const { app, stack, zone } = makeApp();
    mtaSts(stack, zone, MtaStsMode.ENFORCE);
    mxRecord(stack, 'Mx', zone, ['mx1.example.com', Fn.importValue('MailHost')]);
    const annotations = CoreAnnotations.of(stack) as unknown as { acknowledgeInfo?: (id: string, reason: string) => void };
    // WHEN
    if (LEG === 'latest') {
      annotations.acknowledgeInfo!('cdk-mta-sts:mxNotChecked', 'the imported host is in mx');
    }
    // THEN
    expect(synthError(app)).toBeUndefined();
    if (LEG === 'minimum') {
      expect(annotations.acknowledgeInfo).toBeUndefined();
      expect(Annotations.fromStack(stack).findInfo('*', Match.anyValue())).toHaveLength(1);
    } else {
      expect(Annotations.fromStack(stack).findInfo('*', Match.anyValue())).toEqual([]);
    }
  });
});
