/**
 * Property-based tests (fast-check): for arbitrary valid inputs the rendered policy parses back
 * to exactly the normalised input and the id is the policy's hash; for arbitrary inputs made
 * invalid by one hostile change, construction fails and names the offending prop.
 *
 * The expected normal forms are computed here independently of src/: A-labels with an RFC 3492
 * Punycode encoder written in this file, parsing with mailauth and with a small strict parser.
 */
import { createHash } from 'node:crypto';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as fc from 'fast-check';
import { parsePolicy } from 'mailauth/lib/mta-sts';
import { MtaSts, MtaStsMode, MtaStsPolicy, TlsRptRecord } from '../src';
import { contentIdPartOf, nextPublicationId, publicationIdOf } from '../src/core/policy-id';

const ACCOUNT = '111111111111';
/** Runs for properties of the pure models (fast). */
const RUNS = 250;

// A fixed seed keeps CI reproducible; set FC_SEED to explore other inputs locally
// (fast-check prints the seed and the shrunk counterexample of any failure).
fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20261123) });
/** Runs for properties that build a Stack (each takes tens of milliseconds, more with synthesis). */
const CONSTRUCT_RUNS = 20;
const MAX_AGE_LIMIT = 31557600;

// ---------------------------------------------------------------------------------------------
// RFC 3492 Punycode, written from the RFC, for the expected A-labels
// ---------------------------------------------------------------------------------------------

function punycodeEncode(input: string): string {
  const base = 36;
  const tMin = 1;
  const tMax = 26;
  const codePoints = Array.from(input, ch => ch.codePointAt(0)!);
  const digit = (d: number) => String.fromCharCode(d < 26 ? 97 + d : 22 + d);
  const adapt = (delta: number, numPoints: number, firstTime: boolean): number => {
    let d = firstTime ? Math.floor(delta / 700) : Math.floor(delta / 2);
    d += Math.floor(d / numPoints);
    let k = 0;
    while (d > ((base - tMin) * tMax) / 2) {
      d = Math.floor(d / (base - tMin));
      k += base;
    }
    return k + Math.floor(((base - tMin + 1) * d) / (d + 38));
  };
  const basic = codePoints.filter(c => c < 0x80);
  let output = String.fromCodePoint(...basic) + (basic.length > 0 ? '-' : '');
  let n = 128;
  let delta = 0;
  let bias = 72;
  let h = basic.length;
  while (h < codePoints.length) {
    const m = Math.min(...codePoints.filter(c => c >= n));
    delta += (m - n) * (h + 1);
    n = m;
    for (const c of codePoints) {
      if (c < n) {
        delta++;
      }
      if (c === n) {
        let q = delta;
        for (let k = base; ; k += base) {
          const t = k <= bias ? tMin : k >= bias + tMax ? tMax : k - bias;
          if (q < t) {
            break;
          }
          output += digit(t + ((q - t) % (base - t)));
          q = Math.floor((q - t) / (base - t));
        }
        output += digit(q);
        bias = adapt(delta, h + 1, h === basic.length);
        delta = 0;
        h++;
      }
    }
    delta++;
    n++;
  }
  return output;
}

function toALabel(label: string): string {
  return /^[\x00-\x7f]*$/.test(label) ? label : `xn--${punycodeEncode(label)}`;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries: each host comes as the canonical form and a way of writing it
// ---------------------------------------------------------------------------------------------

interface Written {
  /** What the user passes. */
  readonly given: string;
  /** The normal form: lower case, A-labels, no trailing dot. */
  readonly canonical: string;
}

const ASCII_LETTERS = [...'abcdefghijklmnopqrstuvwxyz'];
const DIGITS = [...'0123456789'];
// Letters that are lower case, NFC, IDNA PVALID, free of contextual rules, and whose upper case
// maps back to them one code point at a time.
const SCRIPTS: ReadonlyArray<{ readonly letters: string[]; readonly extra: string[] }> = [
  { letters: [...'äöüéèçñåøæ'], extra: [...ASCII_LETTERS, ...DIGITS] },
  { letters: [...'абвгдежзиклмнопрстуфхцчшщыэюя'], extra: DIGITS },
  { letters: [...'αβγδεζηθικλμνξοπρστυφχψω'], extra: DIGITS },
  { letters: [...'中文网络邮件电子信箱服务器'], extra: DIGITS },
];

/** Upper-cases some characters, one code point at a time. */
function recase(text: string, flips: boolean[]): string {
  return Array.from(text, (ch, i) => (flips[i % Math.max(flips.length, 1)] ? ch.toUpperCase() : ch)).join('');
}

const asciiLabel: fc.Arbitrary<string> = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,14}[a-z0-9])?$/)
  .filter(label => label.slice(2, 4) !== '--');

const unicodeLabel: fc.Arbitrary<string> = fc.constantFrom(...SCRIPTS).chain(script =>
  fc.tuple(fc.constantFrom(...script.letters), fc.array(fc.constantFrom(...script.letters, ...script.extra), { maxLength: 9 }), fc.nat())
    .map(([first, rest, at]) => [...rest.slice(0, at % (rest.length + 1)), first, ...rest.slice(at % (rest.length + 1))].join('')));

/** One label: canonical A-label form, written in upper/lower case, as U-label or A-label. */
const label: fc.Arbitrary<Written> = fc.tuple(
  fc.oneof({ weight: 3, arbitrary: asciiLabel }, { weight: 2, arbitrary: unicodeLabel }),
  fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
  fc.boolean(),
).map(([unicode, flips, asALabel]) => {
  const canonical = toALabel(unicode);
  return { given: recase(asALabel ? canonical : unicode, flips), canonical };
});

const topLabel = label.filter(l => !/^[0-9]+$/.test(l.canonical));

const host: fc.Arbitrary<Written> = fc.record({
  labels: fc.array(label, { minLength: 1, maxLength: 3 }),
  top: topLabel,
  wildcard: fc.boolean(),
  trailingDot: fc.boolean(),
}).map(({ labels, top, wildcard, trailingDot }) => {
  const all = [...labels, top];
  const star = wildcard ? '*.' : '';
  return {
    given: star + all.map(l => l.given).join('.') + (trailingDot ? '.' : ''),
    canonical: star + all.map(l => l.canonical).join('.'),
  };
});

const maxAge: fc.Arbitrary<{ duration: Duration; seconds: number }> = fc.oneof(
  fc.integer({ min: 0, max: MAX_AGE_LIMIT }).map(s => ({ duration: Duration.seconds(s), seconds: s })),
  fc.integer({ min: 0, max: MAX_AGE_LIMIT / 60 }).map(m => ({ duration: Duration.minutes(m), seconds: m * 60 })),
  fc.integer({ min: 0, max: 365 }).map(d => ({ duration: Duration.days(d), seconds: d * 86400 })),
);

interface PolicyInput {
  readonly mode: MtaStsMode;
  readonly mx: Written[];
  readonly maxAge: { duration: Duration; seconds: number };
}

const policyInput: fc.Arbitrary<PolicyInput> = fc.constantFrom(MtaStsMode.ENFORCE, MtaStsMode.TESTING, MtaStsMode.NONE).chain(mode =>
  fc.record({
    mode: fc.constant(mode),
    // Repeat some hosts, written differently, to exercise duplicate removal.
    mx: fc.tuple(
      fc.array(host, { minLength: mode === MtaStsMode.NONE ? 0 : 1, maxLength: 20 }),
      fc.array(fc.tuple(fc.nat(), fc.array(fc.boolean(), { minLength: 1, maxLength: 4 })), { maxLength: 3 }),
    ).map(([hosts, repeats]) => [
      ...hosts,
      ...(hosts.length === 0 ? [] : repeats.map(([i, flips]) => {
        const h = hosts[i % hosts.length];
        return { given: recase(h.given, flips), canonical: h.canonical };
      })),
    ]),
    maxAge,
  }));

function propsOf(input: PolicyInput) {
  return { mode: input.mode, mx: input.mx.map(h => h.given), maxAge: input.maxAge.duration };
}

function expectedMx(input: PolicyInput): string[] {
  return [...new Set(input.mx.map(h => h.canonical))];
}

function sha256Id(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 16);
}

/** A small independent parse: CRLF lines, `key: value`, keys in the documented order. */
function parseStrictly(text: string): { mode: string; mx: string[]; maxAge: number } {
  expect(text.endsWith('\r\n')).toBe(true);
  const lines = text.slice(0, -2).split('\r\n').map(line => {
    const match = /^([a-z_]+): (\S+)$/.exec(line);
    expect(match).not.toBeNull();
    return [match![1], match![2]] as const;
  });
  const keys = lines.map(([key]) => key).join(' ');
  expect(keys).toMatch(/^version mode(?: mx)* max_age$/);
  expect(lines[0][1]).toBe('STSv1');
  expect(lines[lines.length - 1][1]).toMatch(/^[0-9]{1,10}$/);
  return {
    mode: lines[1][1],
    mx: lines.filter(([key]) => key === 'mx').map(([, value]) => value),
    maxAge: Number(lines[lines.length - 1][1]),
  };
}

// ---------------------------------------------------------------------------------------------
// Valid inputs
// ---------------------------------------------------------------------------------------------

describe('MtaStsPolicy with arbitrary valid inputs', () => {
  test('the Punycode encoder written for these tests agrees with RFC 3492 examples', () => {
    expect(punycodeEncode('bücher')).toBe('bcher-kva');
    expect(punycodeEncode('почта')).toBe('80a1acny');
    expect(punycodeEncode('中文')).toBe('fiq228c');
    expect(punycodeEncode('ü')).toBe('tda');
  });

  test('the rendered policy parses back, with mailauth and strictly, to exactly the normalised input', () => {
    fc.assert(fc.property(policyInput, (input) => {
      // WHEN
      const policy = new MtaStsPolicy(propsOf(input));

      // THEN
      const expected = { mode: input.mode, mx: expectedMx(input), maxAge: input.maxAge.seconds };
      expect(policy.mx).toEqual(expected.mx);
      expect(policy.maxAgeSeconds).toBe(expected.maxAge);
      expect(policy.text).toBe(['version: STSv1', `mode: ${expected.mode}`, ...expected.mx.map(mx => `mx: ${mx}`), `max_age: ${expected.maxAge}`, '']
        .join('\r\n'));
      const parsed = parsePolicy(policy.text);
      expect({ mode: parsed.mode, mx: parsed.mx ?? [], maxAge: parsed.maxAge }).toEqual(expected);
      expect(parseStrictly(policy.text)).toEqual(expected);
    }), { numRuns: RUNS });
  });

  test('the content id is 16 hex characters, the start of the SHA-256 of the text', () => {
    fc.assert(fc.property(policyInput, (input) => {
      const policy = new MtaStsPolicy(propsOf(input));
      expect(policy.contentId).toMatch(/^[0-9a-f]{16}$/);
      expect(policy.contentId).toBe(sha256Id(policy.text));
    }), { numRuns: RUNS });
  });

  test('every publication id is a valid RFC 8461 id that starts with the content id and is new at each publication', () => {
    fc.assert(fc.property(policyInput, fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2999-12-31T23:59:59Z'), noInvalidDate: true }),
      fc.integer({ min: 0, max: 1295 }), fc.integer({ min: 1, max: 86_400_000 }), (input, when, entropy, laterMs) => {
        const policy = new MtaStsPolicy(propsOf(input));
        const id = publicationIdOf(policy.contentId, when, entropy);
        // RFC 8461 §3.1: 1 to 32 letters and digits.
        expect(id).toMatch(/^[A-Za-z0-9]{1,32}$/);
        expect(id).toHaveLength(32);
        expect(contentIdPartOf(id)).toBe(policy.contentId);
        // Another publication at least a second later never repeats the id.
        const later = new Date(when.getTime() + Math.max(1000, laterMs));
        expect(publicationIdOf(policy.contentId, later, entropy)).not.toBe(id);
      }), { numRuns: RUNS });
  });

  test('the next publication id is later than every id the record announces, even within one second', () => {
    const stamp = fc.tuple(fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2999-12-31T23:59:59Z'), noInvalidDate: true }),
      fc.integer({ min: 0, max: 1295 }));
    fc.assert(fc.property(policyInput, stamp, fc.array(stamp, { maxLength: 3 }), (input, [when, entropy], announced) => {
      const policy = new MtaStsPolicy(propsOf(input));
      const ids = announced.map(([at, e]) => publicationIdOf(policy.contentId, at, e));
      const id = nextPublicationId(policy.contentId, when, entropy, [...ids, 'not-ours']);
      expect(id).toMatch(/^[0-9a-f]{16}[0-9]{14}[0-9a-z]{2}$/);
      expect(contentIdPartOf(id)).toBe(policy.contentId);
      for (const old of ids) {
        expect(id.slice(16) > old.slice(16)).toBe(true);
      }
      // With nothing later announced, it is the id of this moment.
      if (ids.every(old => old.slice(16) < publicationIdOf(policy.contentId, when, entropy).slice(16))) {
        expect(id).toBe(publicationIdOf(policy.contentId, when, entropy));
      }
    }), { numRuns: RUNS });
  });

  test.each([
    ['the same second', ['0123456789abcdef20261207095652ja'], '0123456789abcdef20261207095652jb'],
    ['a clock behind the last writer\'s', ['fedcba987654321020261207095700aa'], '0123456789abcdef20261207095700ab'],
    ['the last tail of a second', ['0123456789abcdef20261231235959zz'], '0123456789abcdef2027010100000000'],
    ['no id of this scheme', ['manual1', 'abc'], '0123456789abcdef20261207095652ja'],
  ])('the next publication id after %s', (_, announced, expected) => {
    const when = new Date('2026-12-07T09:56:52.500Z');
    expect(nextPublicationId('0123456789abcdef', when, parseInt('ja', 36), announced)).toBe(expected);
  });

  test('equal inputs, however written, give equal texts and ids', () => {
    fc.assert(fc.property(policyInput, (input) => {
      // GIVEN: the same policy as written and in its normal form
      const written = new MtaStsPolicy(propsOf(input));
      const again = new MtaStsPolicy(propsOf(input));
      const canonical = new MtaStsPolicy({ mode: input.mode, mx: expectedMx(input), maxAge: Duration.seconds(input.maxAge.seconds) });

      // THEN
      expect(again.contentId).toBe(written.contentId);
      expect(canonical.text).toBe(written.text);
      expect(canonical.contentId).toBe(written.contentId);
    }), { numRuns: RUNS });
  });

  test('two inputs have equal content ids exactly when their texts are equal', () => {
    fc.assert(fc.property(policyInput, policyInput, (a, b) => {
      const first = new MtaStsPolicy(propsOf(a));
      const second = new MtaStsPolicy(propsOf(b));
      expect(first.contentId === second.contentId).toBe(first.text === second.text);
    }), { numRuns: RUNS });
  });

  test('any single change to the policy changes its content id', () => {
    const change = fc.constantFrom('mode', 'maxAge', 'addMx', 'dropMx', 'reorderMx');
    fc.assert(fc.property(policyInput, change, host, (input, what, extra) => {
      // GIVEN
      const before = new MtaStsPolicy(propsOf(input));
      const mx = [...before.mx];
      let props = { mode: before.mode, mx, maxAge: Duration.seconds(before.maxAgeSeconds) };
      // WHEN
      if (what === 'mode' && mx.length > 0) {
        props = { ...props, mode: before.mode === MtaStsMode.ENFORCE ? MtaStsMode.TESTING : MtaStsMode.ENFORCE };
      } else if (what === 'maxAge') {
        props = { ...props, maxAge: Duration.seconds(before.maxAgeSeconds === MAX_AGE_LIMIT ? 0 : before.maxAgeSeconds + 1) };
      } else if (what === 'addMx' && !mx.includes(extra.canonical)) {
        props = { ...props, mx: [...mx, extra.canonical] };
      } else if (what === 'dropMx' && mx.length > 1) {
        props = { ...props, mx: mx.slice(1) };
      } else if (what === 'reorderMx' && mx.length > 1) {
        props = { ...props, mx: [...mx.slice(1), mx[0]] };
      } else {
        props = { ...props, maxAge: Duration.seconds(before.maxAgeSeconds === 0 ? 1 : before.maxAgeSeconds - 1) };
      }
      const after = new MtaStsPolicy(props);

      // THEN
      expect(after.text).not.toBe(before.text);
      expect(after.contentId).not.toBe(before.contentId);
    }), { numRuns: RUNS });
  });

  test('matchesMx accepts each host listed and exactly one label below a wildcard, nothing deeper', () => {
    fc.assert(fc.property(policyInput.filter(input => input.mode !== MtaStsMode.NONE), asciiLabel, (input, extraLabel) => {
      const policy = new MtaStsPolicy(propsOf(input));
      for (const pattern of policy.mx) {
        if (pattern.startsWith('*.')) {
          const suffix = pattern.slice(2);
          expect(policy.matchesMx(`${extraLabel}.${suffix}`)).toBe(true);
          expect(policy.matchesMx(`${extraLabel}.a.${suffix}`)).toBe(policy.mx.includes(`*.a.${suffix}`));
        } else {
          expect(policy.matchesMx(pattern)).toBe(true);
          expect(policy.matchesMx(pattern.toUpperCase())).toBe(true);
        }
      }
    }), { numRuns: RUNS });
  });
});

const ruaUri: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.stringMatching(/^[a-z0-9](?:[a-z0-9+_~-]{0,10}[a-z0-9])?$/), fc.array(asciiLabel, { minLength: 1, maxLength: 3 }), fc.stringMatching(/^[a-z]{2,6}$/))
    .map(([local, labels, top]) => `mailto:${local}@${[...labels, top].join('.')}`),
  fc.tuple(fc.array(asciiLabel, { minLength: 1, maxLength: 3 }), fc.stringMatching(/^[a-z]{2,6}$/), fc.array(fc.stringMatching(/^[A-Za-z0-9._~-]{1,8}$/), { maxLength: 3 }))
    .map(([labels, top, path]) => `https://${[...labels, top].join('.')}/${path.join('/')}`),
);
const ruaList = fc.uniqueArray(ruaUri, { minLength: 1, maxLength: 5 });

describe('TlsRptRecord with arbitrary valid inputs', () => {
  test('the record splits back into exactly the rua list, in order', () => {
    fc.assert(fc.property(ruaList, (rua) => {
      const record = new TlsRptRecord({ rua });
      const match = /^v=TLSRPTv1; rua=([^;\s]+)$/.exec(record.value);
      expect(match).not.toBeNull();
      expect(match![1].split(',')).toEqual(rua);
    }), { numRuns: RUNS });
  });
});

// ---------------------------------------------------------------------------------------------
// Invalid inputs
// ---------------------------------------------------------------------------------------------

/** Characters that must never survive into a hostname: separators, controls, look-alikes, invisibles. */
const HOSTILE_HOST_CHARS = [
  '\r', '\n', '\r\n', ';', ',', ' ', '\t', ':', '/', '@', '?', '#', '[', ']', '_', '*', '"', "'", '\\', '<', '>', '%', '!', '$', '=', '&',
  '\u0000', '\u007f', '\u00a0', '\u00ad', '\u200b', '\u200c', '\u200d', '\u2028', '\ufeff', '\u3002', '\uff0e', '\uff61', '\uff41',
];

/** Inserts `ch` at position `at` (modulo the length plus one). */
function inject(text: string, ch: string, at: number): string {
  const i = at % (text.length + 1);
  return text.slice(0, i) + ch + text.slice(i);
}

const hostileMx = fc.record({
  input: policyInput.filter(input => input.mx.length > 0),
  index: fc.nat(),
  ch: fc.constantFrom(...HOSTILE_HOST_CHARS),
  at: fc.nat(),
}).map(({ input, index, ch, at }) => {
  const mx = input.mx.map(h => h.given);
  const i = index % mx.length;
  mx[i] = inject(mx[i], ch, at);
  return { props: { ...propsOf(input), mx }, index: i, bad: mx[i] };
});

/** A Latin label with a Cyrillic look-alike put in: "mаil" with U+0430. */
const confusableMx = fc.record({
  labels: fc.array(fc.stringMatching(/^[a-z]{2,10}$/), { minLength: 2, maxLength: 3 }),
  which: fc.nat(),
  ch: fc.constantFrom('а', 'е', 'о', 'р', 'с', 'х', 'у', 'і'),
  at: fc.nat(),
}).map(({ labels, which, ch, at }) => {
  const copy = [...labels];
  const i = which % copy.length;
  copy[i] = inject(copy[i], ch, at);
  return copy.join('.');
});

describe('MtaStsPolicy with arbitrary invalid inputs', () => {
  test('fails when a hostile character is put into one mx host, naming that entry', () => {
    fc.assert(fc.property(hostileMx, ({ props, index, bad }) => {
      // WHEN
      const problems = MtaStsPolicy.validate(props);

      // THEN
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(new RegExp(`^\`mx\\[${index}\\]\` must be a hostname or \\*\\.hostname and .+, got: `));
      expect(problems[0].endsWith(`got: ${JSON.stringify(bad)}`)).toBe(true);
      expect(() => new MtaStsPolicy(props)).toThrow(`\`mx[${index}]\``);
    }), { numRuns: RUNS });
  });

  test('fails when a Latin label has a Cyrillic look-alike in it', () => {
    fc.assert(fc.property(confusableMx, (mx) => {
      expect(() => new MtaStsPolicy({ mx: ['mx.example.com', mx] }))
        .toThrow(`\`mx[1]\` must be a hostname or *.hostname and has a label mixing Latin and Cyrillic letters (a likely confusable), got: ${JSON.stringify(mx)}`);
    }), { numRuns: RUNS });
  });

  test('fails when a label is longer than 63 characters', () => {
    fc.assert(fc.property(fc.stringMatching(/^[a-z]{64,100}$/), fc.boolean(), (long, wildcard) => {
      const mx = `${wildcard ? '*.' : ''}${long}.example.com`;
      expect(() => new MtaStsPolicy({ mx: [mx] })).toThrow(/^Invalid MtaStsPolicy props \(1 problem\):\n {2}- `mx\[0\]` must be a hostname or \*\.hostname and must have labels of at most 63 characters/);
    }), { numRuns: RUNS });
  });

  test('fails when maxAge is above one year or not a whole number of seconds, naming maxAge', () => {
    const badMaxAge = fc.oneof(
      fc.integer({ min: MAX_AGE_LIMIT + 1, max: 9_999_999_999 }).map(s => ({ duration: Duration.seconds(s), rule: 'must be between 0 and 31557600 seconds' })),
      fc.integer({ min: 1, max: 9_999_999_999 }).filter(ms => ms % 1000 !== 0)
        .map(ms => ({ duration: Duration.millis(ms), rule: 'must be a whole number of seconds' })),
    );
    fc.assert(fc.property(policyInput, badMaxAge, (input, { duration, rule }) => {
      const props = { ...propsOf(input), maxAge: duration };
      expect(MtaStsPolicy.validate(props)).toEqual([expect.stringMatching(new RegExp(`^\`maxAge\` ${rule}`))]);
      expect(() => new MtaStsPolicy(props)).toThrow('`maxAge` ');
    }), { numRuns: RUNS });
  });
});

const HOSTILE_URI_CHARS = [
  '\r', '\n', ';', ',', ' ', '\t', '"', '<', '>', '\\', '^', '`', '{', '}', '|', '\u0000', '\u007f', 'é', '\u200b', '\u00a0', '\uff0c',
];

const hostileRua = fc.record({ rua: ruaList, index: fc.nat(), ch: fc.constantFrom(...HOSTILE_URI_CHARS), at: fc.nat() })
  .map(({ rua, index, ch, at }) => {
    const copy = [...rua];
    const i = index % copy.length;
    copy[i] = inject(copy[i], ch, at);
    return { rua: copy, index: i, bad: copy[i] };
  });

describe('TlsRptRecord with arbitrary invalid inputs', () => {
  test('fails when a hostile character is put into one rua URI, naming that entry', () => {
    fc.assert(fc.property(hostileRua, ({ rua, index, bad }) => {
      const problems = TlsRptRecord.validate({ rua });
      expect(problems).toEqual([expect.stringMatching(new RegExp(`^\`tlsRpt\\.rua\\[${index}\\]\` .+, got: `))]);
      expect(problems[0].endsWith(`got: ${JSON.stringify(bad)}`)).toBe(true);
      expect(() => new TlsRptRecord({ rua })).toThrow(`\`tlsRpt.rua[${index}]\``);
    }), { numRuns: RUNS });
  });
});

// ---------------------------------------------------------------------------------------------
// The construct
// ---------------------------------------------------------------------------------------------

function newStack(): { app: App; stack: Stack; hostedZone: route53.IHostedZone } {
  const app = new App();
  const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789ABCDEFGHIJ', zoneName: 'example.com' });
  return { app, stack, hostedZone };
}

function deployedPublication(stack: Stack): Record<string, any> {
  const publications = Object.values(Template.fromStack(stack).findResources('Custom::MtaStsPolicyPublication'));
  expect(publications).toHaveLength(1);
  return publications[0].Properties;
}

describe('MtaSts with arbitrary inputs', () => {
  test('deploys exactly the normalised policy and announces ids that start with its sha256', () => {
    fc.assert(fc.property(policyInput, ruaList, (input, rua) => {
      // GIVEN
      const { stack, hostedZone } = newStack();

      // WHEN
      const mtaSts = new MtaSts(stack, 'MtaSts', { hostedZone, ...propsOf(input), tlsRpt: { rua } });

      // THEN
      const publication = deployedPublication(stack);
      const body = publication.PolicyText;
      const parsed = parsePolicy(body);
      expect({ mode: parsed.mode, mx: parsed.mx ?? [], maxAge: parsed.maxAge })
        .toEqual({ mode: input.mode, mx: expectedMx(input), maxAge: input.maxAge.seconds });
      expect(mtaSts.policy.contentId).toBe(sha256Id(body));
      expect(publication.ContentId).toBe(sha256Id(body));
      expect(publication.RecordName).toBe('_mta-sts.example.com');
      expect(contentIdPartOf(publicationIdOf(publication.ContentId, new Date(), 7))).toBe(sha256Id(body));
    }), { numRuns: CONSTRUCT_RUNS });
  });

  test('fails when one mx host, rua URI or the domain name is hostile, naming the prop and creating nothing', () => {
    const hostile = fc.oneof(
      hostileMx.map(({ props, index }) => ({ props: { ...props }, prop: `\`mx[${index}]\`` })),
      hostileRua.map(({ rua, index }) => ({ props: { mx: ['mx.example.com'], tlsRpt: { rua } }, prop: `\`tlsRpt.rua[${index}]\`` })),
      fc.tuple(fc.constantFrom(...HOSTILE_HOST_CHARS), fc.nat()).map(([ch, at]) => ({
        props: { mx: ['mx.example.com'], domainName: inject('mail.example.com', ch, at) },
        prop: '`domainName`',
      })),
    );
    fc.assert(fc.property(hostile, ({ props, prop }) => {
      // GIVEN
      const { stack, hostedZone } = newStack();

      // WHEN / THEN
      expect(() => new MtaSts(stack, 'MtaSts', { hostedZone, ...props }))
        .toThrow(new RegExp(`^Invalid MtaSts props at Stack/MtaSts \\(1 problem\\):\\n {2}- ${prop.replace(/[.[\]]/g, '\\$&')} `));
      expect(stack.node.findChild('MtaSts').node.children).toHaveLength(0);
    }), { numRuns: CONSTRUCT_RUNS * 3 });
  });
});
