/**
 * Hostile and malformed inputs, prop by prop: each must be refused before any resource exists,
 * with a message that names the prop in backticks, states the rule and quotes what was given.
 * A few inputs are normalised instead of refused; their exact policy text is checked too.
 */
import { createHash } from 'node:crypto';
import { App, Duration, Lazy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { MtaSts, MtaStsMode, MtaStsProps } from '../src';

const ACCOUNT = '111111111111';
const ZONE_NAME = 'example.com';

interface Setup {
  readonly app: App;
  readonly stack: Stack;
  readonly hostedZone: route53.IHostedZone;
}

function newStack(region = 'us-east-1'): Setup {
  const app = new App();
  const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region } });
  const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789ABCDEFGHIJ', zoneName: ZONE_NAME });
  return { app, stack, hostedZone };
}

/** A valid configuration; each row breaks one prop of it. */
function baseProps(hostedZone: route53.IHostedZone): MtaStsProps {
  return {
    hostedZone,
    mode: MtaStsMode.ENFORCE,
    mx: ['mx1.example.com', '*.mail.example.com'],
    maxAge: Duration.days(14),
    tlsRpt: { rua: ['mailto:tls-reports@example.com', 'https://tlsrpt.example.com/v1'] },
  };
}

interface HostileRow {
  readonly name: string;
  /** Overrides of the valid base configuration. */
  readonly props: (setup: Setup) => Partial<MtaStsProps>;
  /** The offending prop, as the message names it (without backticks). */
  readonly prop: string;
  /** The rule, exactly as it follows the prop name. */
  readonly rule: string;
  /** What the message says was given; JSON of `value` unless stated. */
  readonly got: string;
  readonly region?: string;
}

const MX_RULE = 'must be a hostname or *.hostname and';
const DOMAIN_RULE = 'must be a domain name and';
const IDNA_RULE = 'has a Unicode label that is not a valid IDNA label as written (use the A-label form)';
const OUTSIDE_ZONE_RULE = "must be the hosted zone's name (example.com), a name below it, or the domain whose mta-sts name the zone is (delegated)";
const UNRESOLVED = 'must be known at synthesis time, since the policy id is a hash of the policy text';
const LONG_NAME = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(58)}.com`;
const LONG_WILDCARD = `*.${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(56)}.com`;

/** A row that puts `value` at `mx[index]`. */
function mxRow(name: string, value: string, rule: string, index = 0): HostileRow {
  return {
    name,
    props: () => ({ mx: index === 0 ? [value, 'mx1.example.com'] : ['mx1.example.com', value] }),
    prop: `mx[${index}]`,
    rule: `${MX_RULE} ${rule}`,
    got: JSON.stringify(value),
  };
}

function domainRow(name: string, value: string, rule: string): HostileRow {
  return { name, props: () => ({ domainName: value }), prop: 'domainName', rule, got: JSON.stringify(value) };
}

function ruaRow(name: string, rua: string[], rule: string, index = 0): HostileRow {
  return { name, props: () => ({ tlsRpt: { rua } }), prop: `tlsRpt.rua[${index}]`, rule, got: JSON.stringify(rua[index]) };
}

function modeRow(name: string, value: string): HostileRow {
  return {
    name,
    props: () => ({ mode: value as MtaStsMode }),
    prop: 'mode',
    rule: 'must be one of "enforce", "testing", "none"',
    got: JSON.stringify(value),
  };
}

const ROWS: HostileRow[] = [
  // mx: injection into the policy file
  mxRow('fails when CR LF in an mx would forge a policy line', 'mx2.example.com\r\nmx: *.evil.example', 'must not contain CR or LF', 1),
  mxRow('fails when a bare LF in an mx would forge a mode line', 'mx.example.com\nmode: none', 'must not contain CR or LF'),
  mxRow('fails when a Unicode line separator is put into an mx', 'mx.example.com\u2028mx: evil.example', 'must not contain white space'),
  mxRow('fails when an mx ends in a semicolon', 'mx.example.com;', 'may contain only letters, digits and hyphens in each label'),
  mxRow('fails when two hosts are given in one mx entry', 'mx.example.com,mx2.example.com', 'may contain only letters, digits and hyphens in each label'),
  mxRow('fails when an mx starts with white space', ' mx.example.com', 'must not contain white space'),
  // mx: wildcards
  mxRow('fails when an mx has two wildcard labels', '*.*.example.com', 'may use * only as the whole leftmost label (*.example.com)'),
  mxRow('fails when a wildcard is part of a label', 'mx*.example.com', 'may use * only as the whole leftmost label (*.example.com)'),
  mxRow('fails when a wildcard has no dot after it', '*example.com', 'may use * only as the whole leftmost label (*.example.com)'),
  mxRow('fails when a wildcard is not the leftmost label', 'mx.*.example.com', 'may use * only as the whole leftmost label (*.example.com)'),
  mxRow('fails when an mx is a lone wildcard', '*', 'may use * only as the whole leftmost label (*.example.com)'),
  mxRow('fails when a wildcard covers a top-level domain', '*.com', 'must be a fully qualified name with at least two labels'),
  // mx: not a bare hostname
  mxRow('fails when an mx has a port', 'mx.example.com:25', 'must be a bare hostname: no scheme, port, path or address'),
  mxRow('fails when an mx is a URL', 'smtp://mx.example.com', 'must be a bare hostname: no scheme, port, path or address'),
  mxRow('fails when an mx is an https URL with a path', 'https://mx.example.com/', 'must be a bare hostname: no scheme, port, path or address'),
  mxRow('fails when an mx is an email address', 'postmaster@mx.example.com', 'must be a bare hostname: no scheme, port, path or address'),
  mxRow('fails when an mx is an IPv4 address', '192.0.2.25', 'must be a hostname, not an IP address'),
  mxRow('fails when an mx is a bracketed IPv6 address', '[2001:db8::25]', 'must be a bare hostname: no scheme, port, path or address'),
  mxRow('fails when an mx is a bare IPv6 address', '2001:db8::25', 'must be a bare hostname: no scheme, port, path or address'),
  // mx: DNS syntax
  mxRow('fails when an mx has an empty label', 'mx..example.com', 'must not contain empty labels'),
  mxRow('fails when an mx starts with a dot', '.mx.example.com', 'must not contain empty labels'),
  mxRow('fails when an mx has two trailing dots', 'mx.example.com..', 'must not contain empty labels'),
  mxRow('fails when an mx is empty', '', 'must not be empty'),
  mxRow('fails when an mx has a 64-character label', `${'a'.repeat(64)}.example.com`, 'must have labels of at most 63 characters ("aaaaaaaaaaaaaaaa..." has 64)'),
  mxRow('fails when an mx is 254 characters long', LONG_NAME, 'must be at most 253 characters long (254 in A-label form)'),
  mxRow('fails when a wildcard mx could only match names over 253 characters', LONG_WILDCARD, 'must be at most 253 characters long (254 in A-label form)'),
  mxRow('fails when an mx has an underscore', 'mx_1.example.com', 'may contain only letters, digits and hyphens in each label'),
  mxRow('fails when an mx label begins with a hyphen', '-mx.example.com', 'must not have a label that begins or ends with a hyphen'),
  mxRow('fails when an mx has one label', 'localhost', 'must be a fully qualified name with at least two labels'),
  // mx: Unicode confusables and invisibles
  mxRow('fails when an mx label mixes Latin and Cyrillic letters', 'm\u0430il.example.com', 'has a label mixing Latin and Cyrillic letters (a likely confusable)'),
  mxRow('fails when the same confusable is given as an A-label', 'xn--mil-6cd.example.com', 'has a label mixing Latin and Cyrillic letters (a likely confusable)'),
  mxRow('fails when an mx label mixes Latin and Greek letters', 'm\u03b1il.example.com', 'has a label mixing Latin and Greek letters (a likely confusable)'),
  mxRow('fails when an mx is written in fullwidth characters', '\uff4d\uff58.example.com', IDNA_RULE),
  mxRow('fails when an mx uses an ideographic full stop', 'mx\u3002example.com', IDNA_RULE),
  mxRow('fails when an mx uses a fullwidth full stop', 'mx\uff0eexample.com', IDNA_RULE),
  mxRow('fails when an mx hides a zero-width space', 'mx\u200b.example.com', IDNA_RULE),
  mxRow('fails when an mx hides a zero-width joiner', 'm\u200dx.example.com', IDNA_RULE),
  mxRow('fails when an mx hides a soft hyphen', 'mx\u00ad.example.com', IDNA_RULE),
  mxRow('fails when an mx starts with a byte order mark', '\ufeffmx.example.com', 'must not contain white space'),
  mxRow('fails when IDNA would map an mx label differently from lower-casing', 'mx.stra\u1e9ee.example', IDNA_RULE),
  mxRow('fails when a Unicode label carries a semicolon into its A-label', 'b\u00fc;cher.example', 'may contain only letters, digits and hyphens in each label'),
  mxRow('fails when a Unicode label begins with a hyphen', '-b\u00fccher.example', 'must not have a label that begins or ends with a hyphen'),
  mxRow('fails when an mx has an invalid A-label', 'xn--a.example.com', 'has an invalid A-label "xn--a"'),
  {
    name: 'fails when an mx is an unresolved token',
    props: () => ({ mx: ['mx1.example.com', Lazy.string({ produce: () => 'mx2.example.com' })] }),
    prop: 'mx[1]',
    rule: UNRESOLVED,
    got: 'an unresolved token',
  },
  {
    name: 'fails when mx is empty in enforce mode',
    props: () => ({ mx: [] }),
    prop: 'mx',
    rule: 'must list at least one MX host unless mode is "none"',
    got: '[] with mode "enforce"',
  },
  {
    name: 'fails when mx is empty in the default testing mode',
    props: () => ({ mx: [], mode: undefined }),
    prop: 'mx',
    rule: 'must list at least one MX host unless mode is "none"',
    got: '[] with mode "testing"',
  },
  // domainName
  domainRow('fails when CR LF in domainName would forge a record name', 'example.com\r\n_mta-sts.evil.example', `${DOMAIN_RULE} must not contain CR or LF`),
  domainRow('fails when domainName ends in a semicolon', 'example.com;', `${DOMAIN_RULE} may contain only letters, digits and hyphens in each label`),
  domainRow('fails when domainName is a wildcard', '*.example.com', `${DOMAIN_RULE} must be a hostname without a wildcard`),
  domainRow('fails when domainName is outside the hosted zone', 'example.net', OUTSIDE_ZONE_RULE),
  domainRow('fails when domainName only ends with the zone name as text', 'evilexample.com', OUTSIDE_ZONE_RULE),
  domainRow('fails when domainName is an mta-sts name outside the zone', 'mta-sts.example.net', OUTSIDE_ZONE_RULE),
  {
    name: 'fails when domainName is too long for an ACM certificate name',
    props: () => ({ domainName: `${'a'.repeat(45)}.example.com` }),
    prop: 'domainName',
    rule: `must be at most 56 characters so that "mta-sts.${'a'.repeat(45)}.example.com" fits ACM's 64-character limit on a certificate's domain name `
      + '(or pass a certificate)',
    got: `"${'a'.repeat(45)}.example.com" (57 characters)`,
  },
  {
    name: 'fails when domainName is an unresolved token',
    props: () => ({ domainName: Lazy.string({ produce: () => 'example.com' }) }),
    prop: 'domainName',
    rule: 'must be known at synthesis time, since it names the domain\'s resources and records',
    got: 'an unresolved token',
  },
  domainRow('fails when domainName mixes Latin and Cyrillic letters', 'ex\u0430mple.com', `${DOMAIN_RULE} has a label mixing Latin and Cyrillic letters (a likely confusable)`),
  domainRow('fails when domainName has a port', 'mail.example.com:443', `${DOMAIN_RULE} must be a bare hostname: no scheme, port, path or address`),
  domainRow('fails when domainName is a URL', 'https://example.com', `${DOMAIN_RULE} must be a bare hostname: no scheme, port, path or address`),
  domainRow('fails when domainName uses an ideographic full stop', 'eu\u3002example.com', `${DOMAIN_RULE} ${IDNA_RULE}`),
  domainRow('fails when domainName has an empty label', 'eu..example.com', `${DOMAIN_RULE} must not contain empty labels`),
  domainRow('fails when domainName is an IP address', '192.0.2.1', `${DOMAIN_RULE} must be a hostname, not an IP address`),
  // maxAge
  { name: 'fails when maxAge is half a second', props: () => ({ maxAge: Duration.millis(500) }), prop: 'maxAge', rule: 'must be a whole number of seconds', got: '0.5 s' },
  {
    name: 'fails when maxAge is one second over a year',
    props: () => ({ maxAge: Duration.seconds(31557601) }),
    prop: 'maxAge',
    rule: 'must be between 0 and 31557600 seconds (about one year)',
    got: '31557601 s',
  },
  {
    name: 'fails when maxAge is 366 days',
    props: () => ({ maxAge: Duration.days(366) }),
    prop: 'maxAge',
    rule: 'must be between 0 and 31557600 seconds (about one year)',
    got: '31622400 s',
  },
  {
    name: 'fails when maxAge is an unresolved token',
    props: () => ({ maxAge: Duration.seconds(Lazy.number({ produce: () => 60 })) }),
    prop: 'maxAge',
    rule: UNRESOLVED,
    got: 'an unresolved token',
  },
  // mode
  modeRow('fails when CR LF in mode would forge an mx line', 'enforce\r\nmx: *.evil.example'),
  modeRow('fails when mode is in upper case', 'ENFORCE'),
  modeRow('fails when mode is unknown', 'strict'),
  // tlsRpt.rua
  { name: 'fails when rua is empty', props: () => ({ tlsRpt: { rua: [] } }), prop: 'tlsRpt.rua', rule: 'must list at least one mailto: or https: URI', got: '[]' },
  ruaRow('fails when CR LF in a rua would forge a second record',
    ['mailto:tls-reports@example.com', 'mailto:b@example.com\r\nv=TLSRPTv1; rua=mailto:evil@example.net'], 'must not contain CR or LF', 1),
  ruaRow('fails when a semicolon in a rua would forge a field', ['mailto:tls@example.com; rua=mailto:evil@example.net'],
    'must percent-encode "," and ";" (%2C, %3B), which separate URIs and fields in the record'),
  ruaRow('fails when a comma in a rua would add a destination', ['mailto:tls@example.com,mailto:evil@example.net'],
    'must percent-encode "," and ";" (%2C, %3B), which separate URIs and fields in the record'),
  ruaRow('fails when a rua uses http', ['http://tlsrpt.example.com/v1'], 'must be a mailto: address or an https: URL'),
  ruaRow('fails when a rua is a bare address', ['tls-reports@example.com'], 'must be a mailto: address or an https: URL'),
  ruaRow('fails when a rua uses ftp', ['ftp://tlsrpt.example.com/'], 'must be a mailto: address or an https: URL'),
  ruaRow('fails when a rua repeats', ['mailto:tls@example.com', 'mailto:tls@example.com'], 'must not repeat `tlsRpt.rua[0]`', 1),
  ruaRow('fails when a mailto local part has characters that are not URI characters', ['mailto:tls{x}@example.com'],
    'must be a mailto: URI with one address whose local part is a dot-atom, with "#", "%", "&", "/", "=", "?", "^", "`", "{", "|" and "}" percent-encoded (RFC 6068; no "?" headers)'),
  ruaRow('fails when a "#" in a mailto local part would cut the address short', ['mailto:tls#x@example.com'],
    'must be a mailto: URI with one address whose local part is a dot-atom, with "#", "%", "&", "/", "=", "?", "^", "`", "{", "|" and "}" percent-encoded (RFC 6068; no "?" headers)'),
  ruaRow('fails when an https rua has an empty authority', ['https:///tlsrpt.example.com/v1'], 'must be an https: URL with an authority (https://host/...)'),
  ruaRow('fails when an https rua has brackets in its path', ['https://tlsrpt.example.com/a[1]'],
    'must be an https: URL whose path, query and fragment percent-encode "[", "]" and any "#" after the first'),
  ruaRow('fails when an https rua has user information', ['https://user@tlsrpt.example.com/'], 'must be an https: URL without user information'),
  ruaRow('fails when an https rua host is an IPv4 address', ['https://192.0.2.1/report'], 'must be an https: URL whose host is a DNS name (must be a hostname, not an IP address)'),
  ruaRow('fails when an https rua host is an IPv6 address', ['https://[2001:db8::1]/report'],
    'must be an https: URL whose host is a DNS name (must be a bare hostname: no scheme, port, path or address)'),
  ruaRow('fails when a mailto rua carries headers', ['mailto:tls@example.com?subject=x'],
    'must be a mailto: URI whose domain is a hostname (must be a bare hostname: no scheme, port, path or address)'),
  ruaRow('fails when a mailto rua domain has a Cyrillic letter', ['mailto:tls@ex\u0430mple.com'], 'must be printable ASCII without spaces (percent-encode anything else)'),
  ruaRow('fails when a rua hides a zero-width space', ['https://tlsrpt.example.com/\u200bv1'], 'must be printable ASCII without spaces (percent-encode anything else)'),
  ruaRow('fails when a mailto rua has no address', ['mailto:'], 'must be a mailto: URI with one address, local@domain'),
  // certificate
  {
    name: 'fails when the certificate is in another region than us-east-1',
    props: ({ stack }) => ({
      certificate: acm.Certificate.fromCertificateArn(stack, 'Certificate', `arn:aws:acm:eu-west-1:${ACCOUNT}:certificate/11111111-2222-3333-4444-555555555555`),
    }),
    prop: 'certificate',
    rule: 'must be in us-east-1, the only region CloudFront takes certificates from',
    got: `a certificate in "eu-west-1" (arn:aws:acm:eu-west-1:${ACCOUNT}:certificate/11111111-2222-3333-4444-555555555555)`,
  },
  {
    name: 'fails when the certificate ARN is not an ACM ARN',
    props: ({ stack }) => ({ certificate: acm.Certificate.fromCertificateArn(stack, 'Certificate', `arn:aws:iam::${ACCOUNT}:server-certificate/mta-sts`) }),
    prop: 'certificate',
    rule: 'must be an ACM certificate ARN (arn:aws:acm:us-east-1:<account>:certificate/<id>)',
    got: `"arn:aws:iam::${ACCOUNT}:server-certificate/mta-sts"`,
  },
  {
    name: 'fails when the certificate ARN has no region',
    props: ({ stack }) => ({ certificate: acm.Certificate.fromCertificateArn(stack, 'Certificate', `arn:aws:acm::${ACCOUNT}:certificate/abc`) }),
    prop: 'certificate',
    rule: 'must be an ACM certificate ARN (arn:aws:acm:us-east-1:<account>:certificate/<id>)',
    got: `"arn:aws:acm::${ACCOUNT}:certificate/abc"`,
  },
  {
    name: 'fails when the certificate ARN smuggles a newline',
    props: ({ stack }) => ({ certificate: acm.Certificate.fromCertificateArn(stack, 'Certificate', `arn:aws:acm:us-east-1:${ACCOUNT}:certificate/abc\nx`) }),
    prop: 'certificate',
    rule: 'must be an ACM certificate ARN (arn:aws:acm:us-east-1:<account>:certificate/<id>)',
    got: `"arn:aws:acm:us-east-1:${ACCOUNT}:certificate/abc\\nx"`,
  },
  // hostedZone
  {
    name: 'fails when the zone id is an unresolved token in a stack outside us-east-1',
    region: 'eu-west-1',
    props: ({ stack }) => ({ hostedZone: new route53.PublicHostedZone(stack, 'HostileZone', { zoneName: ZONE_NAME }) }),
    prop: 'hostedZone',
    rule: 'must have a literal hosted zone id when the stack is outside us-east-1, since the construct\'s resources are then created in a companion stack '
      + 'in us-east-1: import the zone with HostedZone.fromHostedZoneAttributes',
    got: 'a zone whose id is an unresolved token (stack "Stack" in eu-west-1)',
  },
];

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('MtaSts refuses hostile and malformed input', () => {
  test('the table covers every prop with at least 45 rows', () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(45);
    expect(new Set(ROWS.map(row => row.prop.replace(/\[[0-9]+\]$/, ''))))
      .toEqual(new Set(['mx', 'domainName', 'maxAge', 'mode', 'tlsRpt.rua', 'certificate', 'hostedZone']));
    expect(new Set(ROWS.map(row => row.name)).size).toBe(ROWS.length);
  });

  test.each(ROWS.map(row => [row.name, row] as const))('%s', (_name, row) => {
    // GIVEN
    const setup = newStack(row.region);
    const props = { ...baseProps(setup.hostedZone), ...row.props(setup) };

    // WHEN
    let error: Error | undefined;
    try {
      new MtaSts(setup.stack, 'MtaSts', props);
    } catch (e) {
      error = e as Error;
    }

    // THEN: one problem, naming the prop, the rule and the value given
    expect(error).toBeDefined();
    expect(error!.message).toMatch(new RegExp(`^Invalid MtaSts props at Stack/MtaSts \\(1 problem\\):\\n {2}- \`${escapeRegExp(row.prop)}\` `));
    expect(error!.message).toBe(`Invalid MtaSts props at Stack/MtaSts (1 problem):\n  - \`${row.prop}\` ${row.rule}, got: ${row.got}`);

    // THEN: nothing of ours was created, no companion stack either, and the app synthesizes to no resources but the row's own zone
    expect(setup.stack.node.findChild('MtaSts').node.children).toEqual([]);
    const assembly = setup.app.synth();
    expect(assembly.stacks.map(artifact => artifact.stackName)).toEqual(['Stack']);
    const resources = Object.keys(assembly.getStackByName('Stack').template.Resources ?? {}).filter(id => !id.startsWith('HostileZone'));
    expect(resources).toEqual([]);
  });

  test('fails once, listing every problem in prop order, when several props are hostile', () => {
    // GIVEN
    const { stack, hostedZone } = newStack();

    // WHEN / THEN
    expect(() => new MtaSts(stack, 'MtaSts', {
      ...baseProps(hostedZone),
      domainName: 'example.net',
      mx: ['mx1.example.com', 'mx*.example.com', 'mx.example.com\r\nmode: none'],
      maxAge: Duration.seconds(31557601),
      tlsRpt: { rua: ['http://tlsrpt.example.com/'] },
    })).toThrow([
      'Invalid MtaSts props at Stack/MtaSts (5 problems):',
      `  - \`domainName\` ${OUTSIDE_ZONE_RULE}, got: "example.net"`,
      '  - `mx[1]` must be a hostname or *.hostname and may use * only as the whole leftmost label (*.example.com), got: "mx*.example.com"',
      '  - `mx[2]` must be a hostname or *.hostname and must not contain CR or LF, got: "mx.example.com\\r\\nmode: none"',
      '  - `maxAge` must be between 0 and 31557600 seconds (about one year), got: 31557601 s',
      '  - `tlsRpt.rua[0]` must be a mailto: address or an https: URL, got: "http://tlsrpt.example.com/"',
    ].join('\n'));
    expect(stack.node.findChild('MtaSts').node.children).toEqual([]);
  });
});

interface NormalisedRow {
  readonly name: string;
  readonly mx: string[];
  readonly domainName?: string;
  /** The exact mx lines expected, in order. */
  readonly expectedMx: string[];
  readonly expectedDomain: string;
}

const NORMALISED: NormalisedRow[] = [
  { name: 'upper case to lower case', mx: ['MX1.Example.COM'], expectedMx: ['mx1.example.com'], expectedDomain: 'example.com' },
  { name: 'one trailing dot dropped', mx: ['mx1.example.com.'], expectedMx: ['mx1.example.com'], expectedDomain: 'example.com' },
  { name: 'a wildcard in upper case with a trailing dot', mx: ['*.Mail.Example.COM.'], expectedMx: ['*.mail.example.com'], expectedDomain: 'example.com' },
  { name: 'a Unicode name to its A-label', mx: ['mx.bücher.example'], expectedMx: ['mx.xn--bcher-kva.example'], expectedDomain: 'example.com' },
  { name: 'a Unicode name in upper case to its A-label', mx: ['MX.BÜCHER.EXAMPLE'], expectedMx: ['mx.xn--bcher-kva.example'], expectedDomain: 'example.com' },
  { name: 'a decomposed Unicode name to the A-label of its composed form', mx: ['mx.bu\u0308cher.example'], expectedMx: ['mx.xn--bcher-kva.example'], expectedDomain: 'example.com' },
  { name: 'a Greek capital sigma as IDNA maps it, not as a final sigma', mx: ['mx.\u0391\u03a3.example'], expectedMx: ['mx.xn--mxa0b.example'], expectedDomain: 'example.com' },
  { name: 'an A-label in upper case to lower case', mx: ['MX.XN--BCHER-KVA.EXAMPLE'], expectedMx: ['mx.xn--bcher-kva.example'], expectedDomain: 'example.com' },
  {
    name: 'duplicates dropped, the first kept, however written',
    mx: ['mx2.example.com', 'mx1.example.com', 'MX2.example.com.', 'mx.bücher.example', 'mx.xn--bcher-kva.example'],
    expectedMx: ['mx2.example.com', 'mx1.example.com', 'mx.xn--bcher-kva.example'],
    expectedDomain: 'example.com',
  },
  { name: 'a domainName in upper case with a trailing dot', mx: ['mx1.example.com'], domainName: 'EU.Example.COM.', expectedMx: ['mx1.example.com'], expectedDomain: 'eu.example.com' },
];

describe('MtaSts normalises rather than refuses', () => {
  test.each(NORMALISED.map(row => [row.name, row] as const))('%s', (_name, row) => {
    // GIVEN
    const { stack, hostedZone } = newStack();

    // WHEN
    const mtaSts = new MtaSts(stack, 'MtaSts', { ...baseProps(hostedZone), mx: row.mx, domainName: row.domainName });

    // THEN
    const text = ['version: STSv1', 'mode: enforce', ...row.expectedMx.map(mx => `mx: ${mx}`), 'max_age: 1209600', ''].join('\r\n');
    expect(mtaSts.policy.text).toBe(text);
    expect(mtaSts.domainName).toBe(row.expectedDomain);
    expect(mtaSts.policy.contentId).toBe(createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 16));
    const template = Template.fromStack(stack);
    const publications = Object.values(template.findResources('Custom::MtaStsPolicyPublication'));
    expect(publications).toHaveLength(1);
    expect(publications[0].Properties).toEqual(expect.objectContaining({
      DomainName: row.expectedDomain,
      PolicyText: text,
      ContentId: mtaSts.policy.contentId,
      ObjectKey: `policies/${row.expectedDomain}/.well-known/mta-sts.txt`,
      RecordName: `_mta-sts.${row.expectedDomain}`,
    }));
  });
});
