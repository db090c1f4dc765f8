import { Duration } from 'aws-cdk-lib';
import * as fc from 'fast-check';
import { MtaStsMode, MtaStsPolicy, TlsRptRecord } from '../src';
import { matchingMxPattern, mxPatternMatches, parsePolicyText, renderPolicyText } from '../src/core/policy-text';
import { isStsRecordCandidate, parseStsRecord, renderStsRecord } from '../src/core/sts-record';
import { parseTlsRptRecord, renderTlsRptRecord } from '../src/core/tls-rpt-record';

const GOOD = 'version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.mail.example.com\r\nmax_age: 604800\r\n';

describe('policy text', () => {
  test('renders the exact policy file with CRLF line ends', () => {
    expect(renderPolicyText('testing', ['mx1.example.com', '*.mail.example.com'], 604800))
      .toBe('version: STSv1\r\nmode: testing\r\nmx: mx1.example.com\r\nmx: *.mail.example.com\r\nmax_age: 604800\r\n');
  });

  test('parses what it renders', () => {
    const result = parsePolicyText(GOOD);
    expect(result.errors).toEqual([]);
    expect(result.policy).toEqual({ version: 'STSv1', mode: 'enforce', mx: ['mx1.example.com', '*.mail.example.com'], maxAgeSeconds: 604800, extensions: [] });
  });

  test('accepts LF line ends, no final line end, spaces after the colon and mode none without mx', () => {
    expect(parsePolicyText('version: STSv1\nmode:   none\nmax_age: 0').policy?.mode).toBe('none');
  });

  test('warns about unknown keys and keeps them as extensions', () => {
    const result = parsePolicyText(GOOD + 'x-note: hello world\r\n');
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual(['line 6: unknown key "x-note" (senders ignore it)']);
    expect(result.policy?.extensions).toEqual([{ key: 'x-note', value: 'hello world' }]);
  });

  test.each([
    ['fails when a known key is capitalised', GOOD.replace('mode: enforce', 'Mode: enforce'), 'line 2: key "Mode" must be written "mode" (keys are case-sensitive; senders ignore "Mode")'],
    ['fails when mode is capitalised', GOOD.replace('mode: enforce', 'mode: Enforce'), 'line 2: mode must be exactly "enforce", "testing" or "none", got: "Enforce"'],
    ['fails when max_age is over a year', GOOD.replace('604800', '31557601'), 'line 5: max_age must be a whole number of seconds from 0 to 31557600, got: "31557601"'],
    ['fails when max_age is negative', GOOD.replace('604800', '-1'), 'max_age must be a whole number of seconds from 0 to 31557600, got: "-1"'],
    ['fails when max_age has 11 digits', GOOD.replace('604800', '00000000001'), 'max_age must be a whole number'],
    ['fails when version is not first', 'mode: enforce\r\nversion: STSv1\r\nmx: a.example.com\r\nmax_age: 1\r\n', 'line 2: "version" must be the first field'],
    ['fails when version is wrong', GOOD.replace('STSv1', 'STSv2'), 'line 1: version must be "STSv1", got: "STSv2"'],
    ['fails when a key repeats', GOOD + 'mode: testing\r\n', 'line 6: "mode" repeats line 2 (each field but mx appears once)'],
    ['fails when mode is missing', GOOD.replace('mode: enforce\r\n', ''), 'the "mode" field is missing'],
    ['fails when max_age is missing', GOOD.replace('max_age: 604800\r\n', ''), 'the "max_age" field is missing'],
    ['fails when mx is missing in enforce', 'version: STSv1\r\nmode: enforce\r\nmax_age: 1\r\n', 'no "mx" field: mode "enforce" needs at least one'],
    ['fails when an mx is an IP address', GOOD.replace('mx1.example.com', '192.0.2.1'), 'line 3: mx must be a hostname, not an IP address, got: "192.0.2.1"'],
    ['fails when an mx has a wildcard inside', GOOD.replace('mx1.example.com', 'mx*.example.com'), 'line 3: mx must be a hostname or *.hostname and may use * only as the whole leftmost label'],
    ['fails when a line is not key: value', GOOD + 'garbage\r\n', 'line 6 is not a "key: value" field, got: "garbage"'],
    ['fails when a space precedes the colon', GOOD.replace('mode: enforce', 'mode : enforce'), 'line 2 has an invalid key'],
    ['fails when a bare CR is inside a line', GOOD.replace('mode: enforce', 'mode: enforce\rmx: evil.example.com'), 'line 2 contains a CR that does not end the line'],
    ['fails when the file is empty', '', 'the policy file is empty'],
  ])('%s', (_name, text, error) => {
    const result = parsePolicyText(text);
    expect(result.policy).toBeUndefined();
    expect(result.errors.join('\n')).toContain(error);
  });

  test.each([
    ['mx1.example.com', 'mx1.example.com', true],
    ['mx1.example.com', 'MX1.Example.COM.', true],
    ['mx.example.com', 'amx.example.com', false],
    ['*.example.com', 'mx1.example.com', true],
    ['*.example.com', 'example.com', false],
    ['*.example.com', 'a.b.example.com', false],
    ['*.example.com', '.example.com', false],
  ])('pattern %s matching %s is %s (RFC 8461 §4.1)', (pattern, host, expected) => {
    expect(mxPatternMatches(pattern, host)).toBe(expected);
  });

  test('names the first pattern that matches', () => {
    expect(matchingMxPattern(['mx1.example.com', '*.example.com'], 'mx2.example.com')).toBe('*.example.com');
    expect(matchingMxPattern(['mx1.example.com'], 'mx2.example.com')).toBeUndefined();
  });
});

describe('_mta-sts record', () => {
  test('renders and parses v=STSv1; id=...', () => {
    expect(renderStsRecord('abc123')).toBe('v=STSv1; id=abc123');
    expect(parseStsRecord('v=STSv1; id=abc123').record).toEqual({ id: 'abc123', extensions: [] });
  });

  test('accepts tabs and spaces around ";", a trailing ";" and extensions', () => {
    expect(parseStsRecord('v=STSv1 ;\tid=A1; ext.x=y-z;').record).toEqual({ id: 'A1', extensions: [{ name: 'ext.x', value: 'y-z' }] });
  });

  test('only records beginning v=STSv1, case-sensitively, are candidates', () => {
    expect(isStsRecordCandidate('v=STSv1; id=1')).toBe(true);
    expect(isStsRecordCandidate('v=stsv1; id=1')).toBe(false);
    expect(isStsRecordCandidate('v=spf1 -all')).toBe(false);
  });

  test.each([
    ['fails when the id has a hyphen', 'v=STSv1; id=abc-123', 'id may contain only ASCII letters and digits, got: "abc-123"'],
    ['fails when the id has 33 characters', `v=STSv1; id=${'a'.repeat(33)}`, 'id must be at most 32 characters, got 33'],
    ['fails when the id is empty', 'v=STSv1; id=', 'id must not be empty'],
    ['fails when there is no id', 'v=STSv1; x=1', 'the record has no id field'],
    ['fails when there are two ids', 'v=STSv1; id=1; id=2', 'the record has more than one id field'],
    ['fails when the version is lower-case', 'v=stsv1; id=1', 'the record must begin with "v=STSv1;" exactly'],
    ['fails when a field is not name=value', 'v=STSv1; id=1; junk', 'field "junk" is not name=value'],
  ])('%s', (_name, value, error) => {
    const result = parseStsRecord(value);
    expect(result.record).toBeUndefined();
    expect(result.errors.join('\n')).toContain(error);
  });
});

describe('TLS-RPT record', () => {
  test('renders and parses several rua URIs', () => {
    const value = renderTlsRptRecord(['mailto:r@example.com', 'https://r.example.com/v1']);
    expect(value).toBe('v=TLSRPTv1; rua=mailto:r@example.com,https://r.example.com/v1');
    expect(parseTlsRptRecord(value).record?.rua).toEqual(['mailto:r@example.com', 'https://r.example.com/v1']);
  });

  test('accepts spaces around "," and a trailing ";"', () => {
    expect(parseTlsRptRecord('v=TLSRPTv1;rua=mailto:a@example.com , mailto:b@example.com;').record?.rua)
      .toEqual(['mailto:a@example.com', 'mailto:b@example.com']);
  });

  test.each([
    ['fails when there is no rua', 'v=TLSRPTv1;', 'the record has no rua field'],
    ['fails when a rua uses http', 'v=TLSRPTv1; rua=http://r.example.com/', 'rua URI 1 must be a mailto: address or an https: URL, got: "http://r.example.com/"'],
    ['fails when a rua is empty', 'v=TLSRPTv1; rua=mailto:a@example.com,', 'rua URI 2 must not be empty'],
    ['fails when the version is wrong', 'v=TLSRPTv2; rua=mailto:a@example.com', 'the record must begin with "v=TLSRPTv1;" exactly'],
    ['fails when rua repeats as a field', 'v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com', 'the record has more than one rua field'],
  ])('%s', (_name, value, error) => {
    const result = parseTlsRptRecord(value);
    expect(result.record).toBeUndefined();
    expect(result.errors.join('\n')).toContain(error);
  });
});

describe('one grammar for what is published and what is checked', () => {
  const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
  const host = fc.array(label, { minLength: 2, maxLength: 4 }).map(labels => labels.join('.')).filter(h => !/\.[0-9]+$/.test(h));
  const pattern = fc.tuple(fc.boolean(), host).map(([wild, h]) => (wild ? `*.${h}` : h));

  test('every policy the constructs render parses strictly to the same fields', () => {
    fc.assert(fc.property(
      fc.constantFrom(MtaStsMode.ENFORCE, MtaStsMode.TESTING),
      fc.array(pattern, { minLength: 1, maxLength: 5 }),
      fc.integer({ min: 0, max: 31557600 }),
      (mode, mx, seconds) => {
        const published = new MtaStsPolicy({ mode, mx, maxAge: Duration.seconds(seconds) });
        const parsed = parsePolicyText(published.text);
        expect(parsed.errors).toEqual([]);
        expect(parsed.warnings).toEqual([]);
        expect(parsed.policy).toEqual({ version: 'STSv1', mode, mx: published.mx, maxAgeSeconds: seconds, extensions: [] });
      },
    ), { seed: 20261201, numRuns: 200 });
  });

  test('every TLS-RPT record the constructs render parses strictly to the same URIs', () => {
    const uri = fc.oneof(host.map(h => `mailto:tls-reports@${h}`), host.map(h => `https://${h}/v1/tlsrpt`));
    fc.assert(fc.property(fc.uniqueArray(uri, { minLength: 1, maxLength: 4 }), rua => {
      const parsed = parseTlsRptRecord(new TlsRptRecord({ rua }).value);
      expect(parsed.errors).toEqual([]);
      expect(parsed.record?.rua).toEqual(rua);
    }), { seed: 20261201, numRuns: 200 });
  });

  test('the MX matching of the published model and of the checker agree', () => {
    const patterns = fc.array(pattern, { minLength: 1, maxLength: 4 });
    fc.assert(fc.property(patterns, label, fc.nat(), fc.integer({ min: 0, max: 2 }), (mx, extra, pick, depth) => {
      // Candidates near the patterns: the base name itself, one label more, two labels more.
      const base = mx[pick % mx.length].replace(/^\*\./, '');
      const candidate = [...Array(depth).fill(extra), base].join('.');
      const published = new MtaStsPolicy({ mode: MtaStsMode.ENFORCE, mx });
      expect(published.matchesMx(candidate)).toBe(matchingMxPattern(published.mx, candidate) !== undefined);
      // An oracle written from RFC 8461 §4.1: equal, or "*." and the candidate less its first label.
      const rest = candidate.split('.').slice(1).join('.');
      expect(published.matchesMx(candidate)).toBe(published.mx.some(p => p === candidate || (p.startsWith('*.') && rest === p.slice(2))));
    }), { seed: 20261201, numRuns: 200 });
  });
});
