/**
 * Independent client checks: what a real MTA-STS sender (mailauth, used by WildDuck and
 * ZoneMTA) and parsers written here from the RFC grammars make of the bytes this library
 * publishes. The policy text and the TXT values are what the publisher handler writes when it
 * runs over the synthesized template's publications (against in-memory S3 and Route 53, which
 * cannot run here), not the construct's properties, so these tests check what is deployed.
 *
 * Nothing here touches the network: DNS goes through mailauth's injectable resolver, and
 * `node:https` is replaced by a fake server for the one end-to-end fetch.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as https from 'node:https';
import { PassThrough } from 'node:stream';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { getPolicy, parsePolicy, resolvePolicy, validateMx } from 'mailauth/lib/mta-sts';
import { MtaSts, MtaStsMode, MtaStsPolicy, MtaStsProps } from '../src';
import { Moto, startMoto } from './support/moto';
import { deployApp, Published } from './support/published';
import { publicationIdOf } from '../src/core/policy-id';

// mailauth fetches the policy with node:https; replace it so that no request leaves the process.
jest.mock('node:https', () => ({ ...jest.requireActual('node:https'), request: jest.fn() }));

const ACCOUNT = '111111111111';
const HOSTED_ZONE_ID = 'Z0123456789ABCDEFGHIJ';
const POLICY_HOST_ADDRESS = '192.0.2.80';
const mockRequest = https.request as unknown as jest.Mock;

// ---------------------------------------------------------------------------------------------
// Reading the synthesized template
// ---------------------------------------------------------------------------------------------

interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, any>;
}
interface CfnTemplate {
  readonly Resources?: Record<string, CfnResource>;
}

/** A string property, with the tokens of an Fn::Join (the bucket name) replaced by a placeholder. */
function literalString(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) {
    throw new Error(`expected a string or an Fn::Join, got: ${JSON.stringify(value)}`);
  }
  return join[1].map(part => (typeof part === 'string' ? part : 'TOKEN')).join(join[0]);
}

function resourcesOfType(template: CfnTemplate, type: string): CfnResource[] {
  return Object.values(template.Resources ?? {}).filter(resource => resource.Type === type);
}

/** The exact policy body the template's one publication writes. */
function policyBodyOf(template: CfnTemplate): string {
  const publications = resourcesOfType(template, 'Custom::MtaStsPolicyPublication');
  expect(publications).toHaveLength(1);
  return literalString(publications[0].Properties!.PolicyText);
}

/**
 * The character-strings of one Route 53 TXT resource record: `"..." "..."`, with `\"`, `\\` and
 * `\DDD` escapes (RFC 1035 §5.1). Throws on anything that is not a sequence of quoted strings.
 */
function txtStrings(resourceRecord: string): string[] {
  const strings: string[] = [];
  const pattern = /"((?:[^"\\]|\\[0-9]{3}|\\[^0-9])*)"(?: |$)/y;
  let match: RegExpExecArray | null;
  while (pattern.lastIndex < resourceRecord.length && (match = pattern.exec(resourceRecord)) !== null) {
    strings.push(match[1].replace(/\\([0-9]{3}|.)/g, (_all, escaped: string) =>
      (escaped.length === 3 ? String.fromCharCode(Number(escaped)) : escaped)));
  }
  if (pattern.lastIndex !== resourceRecord.length || strings.length === 0) {
    throw new Error(`not a sequence of quoted TXT strings: ${resourceRecord}`);
  }
  return strings;
}

/** The TXT records at `name` as a resolver returns them: one array of character-strings per record. */
function txtRecordsAt(template: CfnTemplate, name: string): string[][] {
  const recordSets = resourcesOfType(template, 'AWS::Route53::RecordSet')
    .filter(resource => resource.Properties!.Name === name && resource.Properties!.Type === 'TXT');
  return recordSets.flatMap(resource => (resource.Properties!.ResourceRecords as string[]).map(txtStrings));
}

// ---------------------------------------------------------------------------------------------
// Parsers written from the RFC grammars, independent of src/
// ---------------------------------------------------------------------------------------------

const WSP = '[ \\t]';
const FIELD_DELIM = new RegExp(`^${WSP}*;${WSP}*`);
const EXT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const EXT_VALUE = /^[\x21-\x3a\x3c\x3e-\x7e]+$/;

/**
 * Splits `<version> 1*(field-delim field) [field-delim]` into its fields (RFC 8461 §3.1 and
 * RFC 8460 §3 share this shape). A field never contains ";".
 */
function splitFields(record: string, version: string): string[] {
  if (!record.startsWith(version)) {
    throw new Error(`must start with ${version}: ${record}`);
  }
  let rest = record.slice(version.length);
  const fields: string[] = [];
  while (rest.length > 0) {
    const delim = FIELD_DELIM.exec(rest);
    if (!delim) {
      throw new Error(`expected a field delimiter at: ${JSON.stringify(rest)}`);
    }
    rest = rest.slice(delim[0].length);
    if (rest.length === 0) {
      break; // the optional trailing field-delim
    }
    const end = rest.indexOf(';');
    // White space before a ";" belongs to the next field-delim; at the very end it is not allowed.
    const field = end < 0 ? rest : rest.slice(0, end).replace(new RegExp(`${WSP}+$`), '');
    fields.push(field);
    rest = rest.slice(field.length);
  }
  if (fields.length === 0) {
    throw new Error(`must have at least one field: ${record}`);
  }
  return fields;
}

/** RFC 8461 §3.1: sts-text-record; returns the id. */
function parseStsTxtRecord(record: string): string {
  const ids: string[] = [];
  for (const field of splitFields(record, 'v=STSv1')) {
    const id = /^id=(.*)$/.exec(field);
    if (id) {
      if (!/^[A-Za-z0-9]{1,32}$/.test(id[1])) {
        throw new Error(`sts-id must be 1*32(ALPHA / DIGIT): ${id[1]}`);
      }
      ids.push(id[1]);
      continue;
    }
    const eq = field.indexOf('=');
    if (eq < 0 || !EXT_NAME.test(field.slice(0, eq)) || !EXT_VALUE.test(field.slice(eq + 1))) {
      throw new Error(`not an sts-extension: ${field}`);
    }
  }
  if (ids.length !== 1) {
    throw new Error(`must have exactly one id field: ${record}`);
  }
  return ids[0];
}

interface StrictPolicy {
  readonly version: string;
  readonly mode: string;
  readonly mx: string[];
  readonly maxAge: number;
}

// RFC 5321 §4.1.2 Domain, with the RFC 1035 length limits.
const SUB_DOMAIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;
function isDomain(name: string): boolean {
  const labels = name.split('.');
  return name.length <= 253 && labels.length >= 2 && labels.every(label => label.length <= 63 && SUB_DOMAIN.test(label));
}

/**
 * RFC 8461 §3.2 sts-policy-record, strictly: CRLF after every line (as this library promises),
 * `key:` *WSP value, version/mode/max_age exactly once, each mx an RFC 5321 Domain optionally
 * prefixed by "*.", max_age 1*10DIGIT and at most 31557600.
 */
function parsePolicyStrictly(text: string): StrictPolicy {
  if (!text.endsWith('\r\n')) {
    throw new Error('must end with CRLF');
  }
  const values = new Map<string, string[]>();
  for (const line of text.slice(0, -2).split('\r\n')) {
    const field = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,31}):[ \t]*([\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?)$/.exec(line);
    if (!field) {
      throw new Error(`not a policy field: ${JSON.stringify(line)}`);
    }
    values.set(field[1], [...(values.get(field[1]) ?? []), field[2]]);
  }
  const once = (key: string): string => {
    const found = values.get(key) ?? [];
    if (found.length !== 1) {
      throw new Error(`${key} must appear exactly once, found ${found.length}`);
    }
    return found[0];
  };
  const version = once('version');
  const mode = once('mode');
  const maxAge = once('max_age');
  const mx = values.get('mx') ?? [];
  if (version !== 'STSv1') {
    throw new Error(`version must be STSv1: ${version}`);
  }
  if (!['enforce', 'testing', 'none'].includes(mode)) {
    throw new Error(`invalid mode: ${mode}`);
  }
  if (!/^[0-9]{1,10}$/.test(maxAge) || Number(maxAge) > 31557600) {
    throw new Error(`invalid max_age: ${maxAge}`);
  }
  for (const pattern of mx) {
    if (!isDomain(pattern.startsWith('*.') ? pattern.slice(2) : pattern)) {
      throw new Error(`invalid mx: ${pattern}`);
    }
  }
  if (mx.length === 0 && mode !== 'none') {
    throw new Error('mx must appear at least once unless mode is none');
  }
  return { version, mode, mx, maxAge: Number(maxAge) };
}

// RFC 3986 §2 and §3, with "," and ";" left out of sub-delims: RFC 8460 §3 requires them encoded.
const PCT_ENCODED = '%[0-9A-Fa-f]{2}';
const UNRESERVED = 'A-Za-z0-9\\-._~';
const SUB_DELIMS = "!$&'()*+=";
const PCHAR = `(?:[${UNRESERVED}${SUB_DELIMS}:@]|${PCT_ENCODED})`;
const REG_NAME = `(?:[${UNRESERVED}${SUB_DELIMS}]|${PCT_ENCODED})*`;
const HTTPS_URI = new RegExp(
  `^[Hh][Tt][Tt][Pp][Ss]://(?:(?:[${UNRESERVED}${SUB_DELIMS}:]|${PCT_ENCODED})*@)?(${REG_NAME})(?::[0-9]*)?`
  + `(?:/${PCHAR}*)*(?:\\?(?:${PCHAR}|[/?])*)?(?:#(?:${PCHAR}|[/?])*)?$`,
);
// RFC 6068 §2: mailto:addr-spec, the local part a dot-atom of atext that needs no percent-encoding
// in a URI (ALPHA DIGIT ! $ ' * + - _ ~), or percent-encoded octets; no hfields.
const MAILTO_ATOM = `(?:[A-Za-z0-9!$'*+\\-_~]|${PCT_ENCODED})+`;
const MAILTO_URI = new RegExp(`^[Mm][Aa][Ii][Ll][Tt][Oo]:${MAILTO_ATOM}(?:\\.${MAILTO_ATOM})*@([A-Za-z0-9.-]+)$`);

/** RFC 8460 §3 tlsrpt-record; returns the rua URIs. */
function parseTlsRptRecord(record: string): string[] {
  const ruas: string[][] = [];
  for (const field of splitFields(record, 'v=TLSRPTv1')) {
    if (field.startsWith('rua=')) {
      const uris = field.slice('rua='.length).split(new RegExp(`${WSP}*,${WSP}*`));
      for (const uri of uris) {
        const httpsMatch = HTTPS_URI.exec(uri);
        const mailtoMatch = MAILTO_URI.exec(uri);
        const host = httpsMatch?.[1] ?? mailtoMatch?.[1];
        if (host === undefined || !isDomain(host.replace(/\.$/, ''))) {
          throw new Error(`tlsrpt-uri must be an https: or mailto: URI with a DNS host: ${JSON.stringify(uri)}`);
        }
      }
      ruas.push(uris);
      continue;
    }
    const eq = field.indexOf('=');
    if (eq < 0 || !EXT_NAME.test(field.slice(0, eq)) || !EXT_VALUE.test(field.slice(eq + 1))) {
      throw new Error(`not a tlsrpt-extension: ${JSON.stringify(field)}`);
    }
  }
  if (ruas.length !== 1) {
    throw new Error(`must have exactly one rua field: ${record}`);
  }
  return ruas[0];
}

// ---------------------------------------------------------------------------------------------
// Fakes for mailauth
// ---------------------------------------------------------------------------------------------

function notFound(name: string): Error {
  return Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
}

/** A DNS resolver answering only for one policy domain, from the synthesized template. */
function fakeResolver(domain: string, policyTxt: string[][]) {
  return async (name: string, type: string): Promise<string[][] | string[]> => {
    if (type === 'TXT' && name === `_mta-sts.${domain}`) {
      return policyTxt;
    }
    if (type === 'A' && name === `mta-sts.${domain}`) {
      return [POLICY_HOST_ADDRESS];
    }
    throw notFound(name);
  };
}

/** Makes the mocked node:https answer every request with `body`, recording the request options. */
function serveOverFakeHttps(body: string): Array<Record<string, any>> {
  const requests: Array<Record<string, any>> = [];
  mockRequest.mockImplementation((options: Record<string, any>, onResponse: (res: PassThrough) => void) => {
    requests.push(options);
    const req = Object.assign(new EventEmitter(), {
      destroy: () => undefined,
      end: () => {
        const res = Object.assign(new PassThrough(), { statusCode: 200, headers: { 'content-type': 'text/plain' } });
        onResponse(res);
        res.end(Buffer.from(body, 'utf8'));
      },
    });
    return req;
  });
  return requests;
}

// ---------------------------------------------------------------------------------------------
// The configurations
// ---------------------------------------------------------------------------------------------

interface ClientCase {
  readonly name: string;
  readonly region?: string;
  readonly zoneName: string;
  readonly props: Omit<MtaStsProps, 'hostedZone'>;
  /** The normalised policy domain. */
  readonly domain: string;
  readonly mode: string;
  /** The normalised mx patterns, in order. */
  readonly mx: string[];
  readonly maxAge: number;
  readonly rua?: string[];
  /** Hosts, as DNS gives them, the policy must accept. */
  readonly covers: string[];
  /** Hosts both mailauth and the construct must refuse. */
  readonly refuses: string[];
  /** Hosts RFC 8461 §4.1 refuses but mailauth's laxer wildcard matching accepts. */
  readonly refusesStrictly: string[];
}

const CASES: ClientCase[] = [
  {
    name: 'testing mode with two MX hosts and the default maxAge',
    zoneName: 'example.com',
    props: { mx: ['mx1.example.com', 'mx2.example.com'], tlsRpt: { rua: ['mailto:tls-reports@example.com'] } },
    domain: 'example.com',
    mode: 'testing',
    mx: ['mx1.example.com', 'mx2.example.com'],
    maxAge: 604800,
    rua: ['mailto:tls-reports@example.com'],
    covers: ['mx1.example.com', 'mx2.example.com', 'MX2.Example.COM'],
    refuses: ['mx3.example.com', 'example.com', 'x.mx1.example.com', 'mx1.example.com.evil.example', 'evil-mx1.example.com', 'mx1.example.net'],
    refusesStrictly: [],
  },
  {
    name: 'enforce mode with a wildcard, a 30-day maxAge and mailto and https reports',
    zoneName: 'example.com',
    props: {
      mode: MtaStsMode.ENFORCE,
      mx: ['*.mail.example.com', 'mx.example.com'],
      maxAge: Duration.days(30),
      tlsRpt: { rua: ['mailto:tls-reports@example.com', 'https://tlsrpt.example.com/v1/report'] },
    },
    domain: 'example.com',
    mode: 'enforce',
    mx: ['*.mail.example.com', 'mx.example.com'],
    maxAge: 2592000,
    rua: ['mailto:tls-reports@example.com', 'https://tlsrpt.example.com/v1/report'],
    covers: ['mx1.mail.example.com', 'a.mail.example.com', 'mx-01.mail.example.com', 'mx.example.com'],
    refuses: ['mail.example.com', 'amail.example.com', 'mx1.mail.example.com.evil.example', 'mx1.mail.example.net', 'example.com', 'x.mx.example.com'],
    refusesStrictly: ['a.b.mail.example.com', 'mx.eu.mail.example.com'],
  },
  {
    name: 'none mode withdrawing the policy, with no MX hosts and no TLS-RPT',
    zoneName: 'example.com',
    props: { mode: MtaStsMode.NONE, mx: [], maxAge: Duration.days(1) },
    domain: 'example.com',
    mode: 'none',
    mx: [],
    maxAge: 86400,
    covers: [],
    refuses: [],
    refusesStrictly: [],
  },
  {
    name: 'internationalised domain and MX hosts in enforce mode with the longest maxAge',
    zoneName: 'bücher.example',
    props: {
      mode: MtaStsMode.ENFORCE,
      mx: ['mx.bücher.example', '*.post.bücher.example', '*.почта.example'],
      maxAge: Duration.seconds(31557600),
      tlsRpt: { rua: ['mailto:tls@xn--bcher-kva.example'] },
    },
    domain: 'xn--bcher-kva.example',
    mode: 'enforce',
    mx: ['mx.xn--bcher-kva.example', '*.post.xn--bcher-kva.example', '*.xn--80a1acny.example'],
    maxAge: 31557600,
    rua: ['mailto:tls@xn--bcher-kva.example'],
    covers: ['mx.xn--bcher-kva.example', 'mx.bücher.example', 'in1.post.xn--bcher-kva.example', 'mx1.xn--80a1acny.example'],
    refuses: ['xn--bcher-kva.example', 'mx.bucher.example', 'post.xn--bcher-kva.example', 'xn--80a1acny.example', 'mx.xn--bcher-kva.example.evil.example'],
    refusesStrictly: ['a.in1.post.xn--bcher-kva.example', 'a.mx1.xn--80a1acny.example'],
  },
  {
    name: 'testing mode on a subdomain given in upper case with a trailing dot, with a one-hour maxAge',
    zoneName: 'example.com',
    props: {
      domainName: 'EU.Example.com.',
      mx: ['MX.EU.EXAMPLE.COM.', 'mx.eu.example.com', '*.Relay.EU.example.com'],
      maxAge: Duration.hours(1),
      tlsRpt: { rua: ['https://tlsrpt.example.com/eu'] },
    },
    domain: 'eu.example.com',
    mode: 'testing',
    mx: ['mx.eu.example.com', '*.relay.eu.example.com'],
    maxAge: 3600,
    rua: ['https://tlsrpt.example.com/eu'],
    covers: ['mx.eu.example.com', 'r1.relay.eu.example.com'],
    refuses: ['mx.example.com', 'relay.eu.example.com', 'eu.example.com'],
    refusesStrictly: ['a.r1.relay.eu.example.com'],
  },
  {
    name: 'testing mode with a maxAge of zero seconds',
    zoneName: 'example.org',
    props: { mx: ['mx.example.org'], maxAge: Duration.seconds(0), tlsRpt: { rua: ['mailto:a%2Cb@example.org', 'mailto:c@example.org'] } },
    domain: 'example.org',
    mode: 'testing',
    mx: ['mx.example.org'],
    maxAge: 0,
    rua: ['mailto:a%2Cb@example.org', 'mailto:c@example.org'],
    covers: ['mx.example.org'],
    refuses: ['mx.example.com', 'mx2.example.org'],
    refusesStrictly: [],
  },
  {
    name: 'enforce mode in a stack in eu-west-1 with its certificate in a companion stack',
    region: 'eu-west-1',
    zoneName: 'example.net',
    props: { mode: MtaStsMode.ENFORCE, mx: ['mx1.example.net', 'mx2.example.net'], maxAge: Duration.days(14), tlsRpt: { rua: ['mailto:tlsrpt@example.net'] } },
    domain: 'example.net',
    mode: 'enforce',
    mx: ['mx1.example.net', 'mx2.example.net'],
    maxAge: 1209600,
    rua: ['mailto:tlsrpt@example.net'],
    covers: ['mx1.example.net', 'mx2.example.net'],
    refuses: ['mx3.example.net', 'mx1.example.com'],
    refusesStrictly: [],
  },
];

function synthesize(c: ClientCase): { app: App; mtaSts: MtaSts; template: CfnTemplate } {
  const app = new App();
  const region = c.region ?? 'us-east-1';
  const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region } });
  const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: HOSTED_ZONE_ID, zoneName: c.zoneName });
  const mtaSts = new MtaSts(stack, 'MtaSts', { hostedZone, ...c.props });
  // Outside us-east-1 the resources live in a companion stack: read every stack of the app.
  const resources = Object.assign({}, ...app.synth().stacks.map(artifact => artifact.template.Resources ?? {}));
  return { app, mtaSts, template: { Resources: resources } };
}

// The packaged publisher writes each case's policy file and records into moto.
let moto: Moto;
beforeAll(async () => {
  moto = await startMoto();
}, 60_000);
afterAll(() => moto?.stop());

describe.each(CASES)('mail clients reading $name', (c) => {
  // GIVEN / WHEN
  const { app, mtaSts, template } = synthesize(c);
  const body = policyBodyOf(template);
  let published: Published;
  let policyTxt: string[][];
  beforeAll(async () => {
    await moto.reset();
    published = await deployApp(app, moto);
    policyTxt = published.txt(`_mta-sts.${c.domain}`);
  });

  test('the publisher stores exactly the rendered policy file', () => {
    expect(published.body(c.domain)).toBe(body);
  });

  test('the deployed policy file is the one the construct rendered', () => {
    // THEN
    expect(body).toBe(mtaSts.policy.text);
    expect(body).toBe(['version: STSv1', `mode: ${c.mode}`, ...c.mx.map(mx => `mx: ${mx}`), `max_age: ${c.maxAge}`, '']
      .join('\r\n'));
  });

  test('mailauth parses the policy file to the configured mode, mx and max_age', () => {
    // WHEN
    const policy = parsePolicy(body);

    // THEN
    expect(policy.version).toBe('STSv1');
    expect(policy.mode).toBe(c.mode);
    expect(policy.mx ?? []).toEqual(c.mx);
    expect(policy.maxAge).toBe(c.maxAge);
  });

  test('the policy file follows the RFC 8461 §3.2 grammar', () => {
    expect(parsePolicyStrictly(body)).toEqual({ version: 'STSv1', mode: c.mode, mx: c.mx, maxAge: c.maxAge });
  });

  test('one _mta-sts TXT record carries an id that starts with the sha256 of the deployed policy file', async () => {
    // GIVEN
    const contentId = createHash('sha256').update(body, 'utf8').digest('hex').slice(0, 16);

    // WHEN
    const id = await resolvePolicy(`postmaster@${c.domain}`, { resolver: fakeResolver(c.domain, policyTxt) });

    // THEN
    expect(policyTxt).toHaveLength(1);
    expect(policyTxt[0].join('')).toMatch(new RegExp(`^v=STSv1; id=${contentId}[0-9]{14}[0-9a-z]{2}$`));
    const announcedId = parseStsTxtRecord(policyTxt[0].join(''));
    expect(id).toBe(announcedId);
    expect(mtaSts.policy.contentId).toBe(contentId);
  });

  test('mailauth resolves and fetches the policy end to end, from the expected host and path', async () => {
    // GIVEN
    const requests = serveOverFakeHttps(body);

    // WHEN
    const result = await getPolicy(c.domain, undefined, { resolver: fakeResolver(c.domain, policyTxt) });

    // THEN
    expect(requests).toEqual([expect.objectContaining({
      host: POLICY_HOST_ADDRESS,
      servername: `mta-sts.${c.domain}`,
      headers: { host: `mta-sts.${c.domain}` },
      path: '/.well-known/mta-sts.txt',
      method: 'GET',
      rejectUnauthorized: true,
    })]);
    expect(result.status).toBe('found');
    expect(result.policy).toEqual(expect.objectContaining({ id: parseStsTxtRecord(policyTxt[0].join('')), mode: c.mode, maxAge: c.maxAge }));
    expect(result.policy.mx ?? []).toEqual(c.mx);
  });

  test('mailauth and matchesMx accept every host the policy must cover', () => {
    const policy = parsePolicy(body);
    for (const host of c.covers) {
      expect({ host, mailauth: validateMx(host, policy).valid, matchesMx: mtaSts.policy.matchesMx(host) })
        .toEqual({ host, mailauth: true, matchesMx: true });
    }
  });

  test('mailauth and matchesMx refuse every host the policy must not cover', () => {
    const policy = parsePolicy(body);
    for (const host of c.refuses) {
      expect({ host, mailauth: validateMx(host, policy).valid, matchesMx: mtaSts.policy.matchesMx(host) })
        .toEqual({ host, mailauth: false, matchesMx: false });
    }
  });

  test('matchesMx refuses hosts more than one label below a wildcard (RFC 8461 §4.1)', () => {
    // mailauth accepts these (see "mailauth matches a wildcard at any depth" below); a sender
    // that follows the RFC does not, so the construct's own matcher must not either.
    for (const host of c.refusesStrictly) {
      expect({ host, matchesMx: mtaSts.policy.matchesMx(host) }).toEqual({ host, matchesMx: false });
    }
  });

  if (c.mode === 'none') {
    test('mode none restricts no MX for mailauth, and matchesMx accepts none', () => {
      const policy = parsePolicy(body);
      for (const host of ['mx.example.com', 'anything.example.net']) {
        expect(validateMx(host, policy)).toEqual({ valid: true, mode: 'none', testing: false });
        expect(mtaSts.policy.matchesMx(host)).toBe(false);
      }
    });
  }

  if (c.rua) {
    test('the _smtp._tls TXT record follows RFC 8460 §3 and lists the rua URIs in order', () => {
      // WHEN
      const records = txtRecordsAt(template, `_smtp._tls.${c.domain}.`);

      // THEN
      expect(records).toHaveLength(1);
      const value = records[0].join('');
      expect(value).toBe(`v=TLSRPTv1; rua=${c.rua!.join(',')}`);
      expect(parseTlsRptRecord(value)).toEqual(c.rua);
      expect(mtaSts.tlsRptRecordValue).toBe(value);
    });
  } else {
    test('no _smtp._tls TXT record is published', () => {
      expect(txtRecordsAt(template, `_smtp._tls.${c.domain}.`)).toEqual([]);
    });
  }
});

describe('mailauth behaviour worth knowing', () => {
  test('mailauth matches a wildcard at any depth, laxer than RFC 8461 §4.1', () => {
    // GIVEN
    const policy = new MtaStsPolicy({ mode: MtaStsMode.ENFORCE, mx: ['*.mail.example.com'] });

    // WHEN
    const parsed = parsePolicy(policy.text);

    // THEN: mailauth 4.x strips the "*" and compares suffixes, so "a.b.mail.example.com" passes;
    // RFC 8461 §4.1 lets the wildcard stand for exactly one label, as matchesMx does.
    expect(validateMx('a.b.mail.example.com', parsed).valid).toBe(true);
    expect(policy.matchesMx('a.b.mail.example.com')).toBe(false);
    expect(validateMx('mail.example.com', parsed).valid).toBe(false);
    expect(policy.matchesMx('mail.example.com')).toBe(false);
  });

  test('mailauth turns U-labels into A-labels only when they contain Latin-1 letters', () => {
    // GIVEN
    const policy = new MtaStsPolicy({ mode: MtaStsMode.ENFORCE, mx: ['mx.bücher.example', 'mx.почта.example'] });
    const parsed = parsePolicy(policy.text);

    // THEN: mailauth converts only names matching /[\x7e-\xff]/, so a Cyrillic U-label is
    // compared as it is and fails. Real MX names come from DNS as A-labels, which both accept.
    expect(validateMx('mx.bücher.example', parsed).valid).toBe(true);
    expect(validateMx('mx.почта.example', parsed).valid).toBe(false);
    expect(validateMx('mx.xn--80a1acny.example', parsed).valid).toBe(true);
    expect(policy.matchesMx('mx.почта.example')).toBe(true);
    expect(policy.matchesMx('mx.xn--80a1acny.example')).toBe(true);
  });

  test('mailauth ignores a TXT record at _mta-sts that does not start with v=STSv1', async () => {
    // GIVEN
    const policy = new MtaStsPolicy({ mx: ['mx.example.com'] });
    const policyId = publicationIdOf(policy.contentId, new Date('2026-12-01T12:00:00Z'), 1);
    const resolver = fakeResolver('example.com', [['v=spf1 -all'], [`v=STSv1; id=${policyId}`]]);

    // WHEN
    const id = await resolvePolicy('example.com', { resolver });

    // THEN
    expect(id).toBe(policyId);
  });

  test('fails when two v=STSv1 records are published: mailauth refuses the domain', async () => {
    // GIVEN
    const first = new MtaStsPolicy({ mx: ['mx.example.com'] });
    const second = new MtaStsPolicy({ mx: ['mx2.example.com'] });
    const when = new Date('2026-12-01T12:00:00Z');
    const resolver = fakeResolver('example.com', [[`v=STSv1; id=${publicationIdOf(first.contentId, when, 1)}`], [`v=STSv1; id=${publicationIdOf(second.contentId, when, 2)}`]]);

    // WHEN / THEN
    await expect(resolvePolicy('example.com', { resolver })).rejects.toMatchObject({ code: 'multi_sts_records' });
  });
});

describe('the RFC 8460 §3 parser written for these tests', () => {
  test.each([
    ['v=TLSRPTv1; rua=mailto:a@example.com', ['mailto:a@example.com']],
    ['v=TLSRPTv1;rua=mailto:a@example.com;', ['mailto:a@example.com']],
    ['v=TLSRPTv1 ; rua=mailto:a@example.com , https://r.example.com/x?y=1 ; ext=1', ['mailto:a@example.com', 'https://r.example.com/x?y=1']],
    ['v=TLSRPTv1; rua=mailto:a%2Cb%3Bc@example.com', ['mailto:a%2Cb%3Bc@example.com']],
  ])('accepts %j', (record, rua) => {
    expect(parseTlsRptRecord(record)).toEqual(rua);
  });

  test.each([
    ['a missing version', 'rua=mailto:a@example.com'],
    ['a wrong version', 'v=TLSRPTv2; rua=mailto:a@example.com'],
    ['no rua', 'v=TLSRPTv1; ext=1'],
    ['two rua fields', 'v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com'],
    ['an http URI', 'v=TLSRPTv1; rua=http://r.example.com/'],
    ['a bare address', 'v=TLSRPTv1; rua=a@example.com'],
    ['an empty rua', 'v=TLSRPTv1; rua='],
    ['a space inside a URI', 'v=TLSRPTv1; rua=https://r.example.com/a b'],
    ['a "{" in a mailto local part', 'v=TLSRPTv1; rua=mailto:a{b@example.com'],
    ['mailto headers', 'v=TLSRPTv1; rua=mailto:a@example.com?subject=x'],
    ['trailing white space without a delimiter', 'v=TLSRPTv1; rua=mailto:a@example.com '],
    ['a field without a delimiter', 'v=TLSRPTv1 rua=mailto:a@example.com'],
  ])('fails when the record has %s', (_name, record) => {
    expect(() => parseTlsRptRecord(record)).toThrow();
  });
});
