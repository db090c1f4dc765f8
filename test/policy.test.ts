import { createHash } from 'node:crypto';
import { Duration } from 'aws-cdk-lib';
import { MtaStsMode, MtaStsPolicy } from '../src';
import { reportedContentIdOf } from '../src/core/policy-id';

const CRLF = '\r\n';

describe('MtaStsPolicy rendering', () => {
  test('renders version, mode, one mx line per host and max_age, each ending in CRLF', () => {
    // GIVEN / WHEN
    const policy = new MtaStsPolicy({
      mode: MtaStsMode.ENFORCE,
      mx: ['mx1.example.com', '*.mail.example.com'],
      maxAge: Duration.days(14),
    });

    // THEN
    expect(policy.text).toBe(
      'version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.mail.example.com\r\nmax_age: 1209600\r\n',
    );
  });

  test('defaults to mode testing and a max_age of seven days', () => {
    const policy = new MtaStsPolicy({ mx: ['mx.example.com'] });
    expect(policy.text).toBe(['version: STSv1', 'mode: testing', 'mx: mx.example.com', 'max_age: 604800', ''].join(CRLF));
    expect(policy.mode).toBe(MtaStsMode.TESTING);
    expect(policy.maxAgeSeconds).toBe(604800);
  });

  test('renders mode none without mx lines when none are given', () => {
    const policy = new MtaStsPolicy({ mode: MtaStsMode.NONE, mx: [], maxAge: Duration.seconds(86400) });
    expect(policy.text).toBe('version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n');
  });

  test('accepts the largest max_age the RFC allows', () => {
    const policy = new MtaStsPolicy({ mx: ['mx.example.com'], maxAge: Duration.seconds(31557600) });
    expect(policy.text).toContain('max_age: 31557600\r\n');
  });
});

describe('MtaStsPolicy normalisation', () => {
  test.each([
    ['upper case', ['MX1.Example.COM'], ['mx1.example.com']],
    ['one trailing dot', ['mx1.example.com.'], ['mx1.example.com']],
    ['a wildcard with a trailing dot', ['*.Mail.Example.com.'], ['*.mail.example.com']],
    ['a Unicode name', ['mx.bücher.example'], ['mx.xn--bcher-kva.example']],
    ['a Unicode name in upper case', ['MX.BÜCHER.example'], ['mx.xn--bcher-kva.example']],
    ['an A-label as given', ['mx.xn--bcher-kva.example'], ['mx.xn--bcher-kva.example']],
    ['duplicates, keeping the first', ['b.example.com', 'a.example.com', 'B.example.com.'], ['b.example.com', 'a.example.com']],
    ['duplicates that differ only in script form', ['mx.xn--bcher-kva.example', 'mx.bücher.example'], ['mx.xn--bcher-kva.example']],
  ])('normalises %s', (_name, mx, expected) => {
    const policy = new MtaStsPolicy({ mx });
    expect(policy.mx).toEqual(expected);
    expect(policy.text).toBe(['version: STSv1', 'mode: testing', ...expected.map(h => `mx: ${h}`), 'max_age: 604800', ''].join(CRLF));
  });

  test('equivalent inputs give the same text and id', () => {
    const a = new MtaStsPolicy({ mx: ['MX.bücher.example.', 'mx.BÜCHER.example'] });
    const b = new MtaStsPolicy({ mx: ['mx.xn--bcher-kva.example'] });
    expect(a.text).toBe(b.text);
    expect(a.contentId).toBe(b.contentId);
  });
});

describe('MtaStsPolicy contentId', () => {
  test('is the first 16 hexadecimal characters of the SHA-256 of the policy bytes', () => {
    const policy = new MtaStsPolicy({ mx: ['mx.example.com'] });
    const expected = createHash('sha256').update(Buffer.from(policy.text, 'utf8')).digest('hex').slice(0, 16);
    expect(policy.contentId).toBe(expected);
    expect(policy.contentId).toMatch(/^[0-9a-f]{16}$/);
  });

  test('is a fixed value for a fixed policy, on any machine', () => {
    // sha256("version: STSv1\r\nmode: testing\r\nmx: mx.example.com\r\nmax_age: 604800\r\n"), first 16 hex
    const policy = new MtaStsPolicy({ mx: ['mx.example.com'] });
    expect(policy.contentId).toBe('862e2bab291cfe99');
  });

  test.each([
    ['the mode', { mode: MtaStsMode.ENFORCE }],
    ['an mx host', { mx: ['mx2.example.com'] }],
    ['the mx order', { mx: ['b.example.com', 'a.example.com'] }],
    ['max_age', { maxAge: Duration.days(8) }],
  ])('changes when %s changes', (_name, change) => {
    const base = { mode: MtaStsMode.TESTING, mx: ['a.example.com', 'b.example.com'], maxAge: Duration.days(7) };
    const before = new MtaStsPolicy(base);
    const after = new MtaStsPolicy({ ...base, ...change });
    expect(after.text).not.toBe(before.text);
    expect(after.contentId).not.toBe(before.contentId);
  });
});

describe('MtaStsPolicy reportedContentId', () => {
  test('is the content id of the policy lines sorted: the same for every order a reporter lists them in', () => {
    // GIVEN
    const policy = new MtaStsPolicy({ mode: MtaStsMode.ENFORCE, mx: ['mx1.example.com', '*.mail.example.com'], maxAge: Duration.days(14) });
    const sorted = 'max_age: 1209600\r\nmode: enforce\r\nmx: *.mail.example.com\r\nmx: mx1.example.com\r\nversion: STSv1\r\n';

    // THEN: Google lists max_age before the mx lines, Microsoft after; both give this id
    expect(policy.reportedContentId).toBe(createHash('sha256').update(sorted, 'utf8').digest('hex').slice(0, 16));
    expect(reportedContentIdOf(['version: STSv1', 'mode: enforce', 'max_age: 1209600', 'mx: mx1.example.com', 'mx: *.mail.example.com'])).toBe(policy.reportedContentId);
    expect(reportedContentIdOf(['version: STSv1', 'mode: enforce', 'mx: *.mail.example.com', 'mx: mx1.example.com', 'max_age: 1209600'])).toBe(policy.reportedContentId);
    expect(policy.reportedContentId).not.toBe(policy.contentId);
  });

  test('changes when the policy changes', () => {
    const testing = new MtaStsPolicy({ mx: ['mx.example.com'] });
    const enforce = new MtaStsPolicy({ mode: MtaStsMode.ENFORCE, mx: ['mx.example.com'] });
    expect(enforce.reportedContentId).not.toBe(testing.reportedContentId);
  });
});

describe('MtaStsPolicy.matchesMx (RFC 8461 §4.1)', () => {
  const policy = new MtaStsPolicy({ mode: MtaStsMode.ENFORCE, mx: ['mx1.example.com', '*.mail.example.com'] });

  test.each([
    ['mx1.example.com', true],
    ['MX1.example.com.', true],
    ['a.mail.example.com', true],
    ['mail.example.com', false],
    ['a.b.mail.example.com', false],
    ['mx2.example.com', false],
    ['example.com', false],
  ])('%s matches: %s', (host, expected) => {
    expect(policy.matchesMx(host)).toBe(expected);
  });

  test('mode none matches nothing', () => {
    expect(new MtaStsPolicy({ mode: MtaStsMode.NONE, mx: ['mx1.example.com'] }).matchesMx('mx1.example.com')).toBe(false);
  });
});

describe('MtaStsPolicy validation', () => {
  test.each([
    ['fails when mx is empty outside mode none', { mx: [] }, '`mx` must list at least one MX host unless mode is "none", got: [] with mode "testing"'],
    ['fails when an mx has a port', { mx: ['mx.example.com:25'] }, '`mx[0]` must be a hostname or *.hostname and must be a bare hostname: no scheme, port, path or address, got: "mx.example.com:25"'],
    ['fails when an mx has a scheme', { mx: ['smtp://mx.example.com'] }, '`mx[0]` must be a hostname or *.hostname and must be a bare hostname: no scheme, port, path or address, got: "smtp://mx.example.com"'],
    ['fails when an mx has a path', { mx: ['mx.example.com/x'] }, '`mx[0]` must be a hostname or *.hostname and must be a bare hostname'],
    ['fails when an mx has a space', { mx: ['mx .example.com'] }, '`mx[0]` must be a hostname or *.hostname and must not contain white space, got: "mx .example.com"'],
    ['fails when a wildcard is not the whole leftmost label', { mx: ['mx*.example.com'] }, '`mx[0]` must be a hostname or *.hostname and may use * only as the whole leftmost label (*.example.com), got: "mx*.example.com"'],
    ['fails when a wildcard is nested', { mx: ['*.*.example.com'] }, '`mx[0]` must be a hostname or *.hostname and may use * only as the whole leftmost label'],
    ['fails when a wildcard has no dot', { mx: ['*example.com'] }, '`mx[0]` must be a hostname or *.hostname and may use * only as the whole leftmost label'],
    ['fails when a label is over 63 characters', { mx: [`${'a'.repeat(64)}.example.com`] }, '`mx[0]` must be a hostname or *.hostname and must have labels of at most 63 characters'],
    ['fails when a name is over 253 characters', { mx: [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(58)}.com`] }, '`mx[0]` must be a hostname or *.hostname and must be at most 253 characters long (254 in A-label form)'],
    ['fails when a label begins with a hyphen', { mx: ['-mx.example.com'] }, '`mx[0]` must be a hostname or *.hostname and must not have a label that begins or ends with a hyphen, got: "-mx.example.com"'],
    ['fails when a label ends with a hyphen', { mx: ['mx-.example.com'] }, '`mx[0]` must be a hostname or *.hostname and must not have a label that begins or ends with a hyphen'],
    ['fails when a label is empty', { mx: ['mx..example.com'] }, '`mx[0]` must be a hostname or *.hostname and must not contain empty labels, got: "mx..example.com"'],
    ['fails when an mx contains CR LF', { mx: ['mx.example.com\r\nmode: none'] }, '`mx[0]` must be a hostname or *.hostname and must not contain CR or LF, got: "mx.example.com\\r\\nmode: none"'],
    ['fails when an mx is an IP address', { mx: ['192.0.2.1'] }, '`mx[0]` must be a hostname or *.hostname and must be a hostname, not an IP address, got: "192.0.2.1"'],
    ['fails when an mx has one label', { mx: ['localhost'] }, '`mx[0]` must be a hostname or *.hostname and must be a fully qualified name with at least two labels'],
    ['fails when maxAge is over one year', { mx: ['mx.example.com'], maxAge: Duration.seconds(31557601) }, '`maxAge` must be between 0 and 31557600 seconds (about one year), got: 31557601 s'],
    ['fails when maxAge is not whole seconds', { mx: ['mx.example.com'], maxAge: Duration.millis(1500) }, '`maxAge` must be a whole number of seconds, got: 1.5 s'],
    ['fails when mode is not a known mode', { mx: ['mx.example.com'], mode: 'strict' as MtaStsMode }, '`mode` must be one of "enforce", "testing", "none", got: "strict"'],
  ])('%s', (_name, props, message) => {
    expect(() => new MtaStsPolicy(props)).toThrow(message);
    expect(MtaStsPolicy.validate(props).join('\n')).toContain(message);
  });

  test('fails once with every problem listed, each naming its index', () => {
    const props = { mx: ['ok.example.com', 'bad host', 'mx*.example.com'], maxAge: Duration.seconds(31557601) };
    expect(MtaStsPolicy.validate(props)).toEqual([
      '`mx[1]` must be a hostname or *.hostname and must not contain white space, got: "bad host"',
      '`mx[2]` must be a hostname or *.hostname and may use * only as the whole leftmost label (*.example.com), got: "mx*.example.com"',
      '`maxAge` must be between 0 and 31557600 seconds (about one year), got: 31557601 s',
    ]);
    expect(() => new MtaStsPolicy(props)).toThrow(/^Invalid MtaStsPolicy props \(3 problems\):\n {2}- `mx\[1\]`/);
  });

  test('fails when the policy file would exceed 64 KiB', () => {
    const mx = Array.from({ length: 400 }, (_, i) => `mx${i}.${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.example.com`);
    expect(() => new MtaStsPolicy({ mx })).toThrow(/`mx` makes the policy file \d+ bytes, over the 65536 bytes/);
  });
});
