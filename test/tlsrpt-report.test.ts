import { googleReport, mailRuReport, microsoftReport, rfcExampleReport } from './support/tlsrpt-messages';
import { contentIdOf } from '../src/core/policy-id';
import { normaliseDomainName, parseTlsRptReport } from '../src/core/tlsrpt-report';

describe('parseTlsRptReport', () => {
  test('the RFC 8460 example parses into one policy report', () => {
    const { report, problems } = parseTlsRptReport(JSON.stringify(rfcExampleReport()));
    expect(problems).toEqual([]);
    expect(report!.policies).toHaveLength(1);
    expect(report!.policies[0]).toMatchObject({
      report_id: '5065427c-23d3-47ca-b6e0-946ea0e8c4be',
      policy_domain: 'company-y.example',
      mx_host: ['*.mail.company-y.example'],
      policy_mode: 'testing',
      policy_max_age: 86400,
      total_successful_session_count: 5326,
      total_failure_session_count: 303,
      notes: [],
    });
  });

  test('the policy content id is the cdk-mta-sts content id of the policy-string lines joined with CRLF', () => {
    const { report } = parseTlsRptReport(JSON.stringify(googleReport()));
    expect(report!.policies[0].policy_content_id)
      .toBe(contentIdOf('version: STSv1\r\nmode: testing\r\nmx: mx1.example.com\r\nmx: *.mail.example.com\r\nmax_age: 604800\r\n'));
  });

  test.each([
    ['a byte order mark and trailing NULs', `\uFEFF${JSON.stringify(googleReport())}\n\0\0`],
    ['counts as numeric strings', JSON.stringify({ ...googleReport(), policies: [{ ...(googleReport().policies as any[])[0], summary: { 'total-successful-session-count': '42', 'total-failure-session-count': '0' } }] })],
  ])('tolerates %s', (_, text) => {
    const { report, problems } = parseTlsRptReport(text);
    expect(problems).toEqual([]);
    expect(report!.policies[0].total_successful_session_count).toBe(42);
  });

  test('Microsoft- and Mail.ru-style reports parse, with notes for what was tolerated', () => {
    expect(parseTlsRptReport(JSON.stringify(microsoftReport())).report!.policies[0].notes).toEqual([]);
    expect(parseTlsRptReport(JSON.stringify(mailRuReport())).report!.policies[0]).toMatchObject({
      contact_info: null,
      policy_domain: 'example.com',
      notes: ['contact-info missing', 'failure-details add up to 5, summary says 2'],
    });
  });

  test('a missing summary is counted as 0 with a note', () => {
    const report = { ...googleReport(), policies: [{ policy: { 'policy-type': 'no-policy-found', 'policy-domain': 'example.com' } }] };
    expect(parseTlsRptReport(JSON.stringify(report)).report!.policies[0]).toMatchObject({
      policy_type: 'no-policy-found',
      total_successful_session_count: 0,
      total_failure_session_count: 0,
      notes: [
        'policies[0].summary.total-successful-session-count missing, counted as 0',
        'policies[0].summary.total-failure-session-count missing, counted as 0',
      ],
    });
  });

  test.each([
    ['fails when the text is not JSON', '{"a":', [/^report must be JSON, got: "\{\\"a\\":"/]],
    ['fails when the JSON is an array', '[]', ['report must be a JSON object, got: []']],
    ['fails when the report id, dates and policies are missing', '{}', [
      '`report-id` must be a non-empty string, got: undefined',
      '`date-range.start-datetime` must be an RFC 3339 date-time, got: undefined',
      '`date-range.end-datetime` must be an RFC 3339 date-time, got: undefined',
      '`policies` must be a non-empty array, got: undefined',
    ]],
    ['fails when a policy has no domain and a negative count', JSON.stringify({
      ...googleReport(),
      policies: [{ policy: { 'policy-type': 'sts', 'policy-domain': 'not a domain' }, summary: { 'total-successful-session-count': -1, 'total-failure-session-count': 0 } }],
    }), [
      '`policies[0].policy.policy-domain` must be a domain name, got: "not a domain"',
      '`policies[0].summary.total-successful-session-count` must be a non-negative integer, got: -1',
    ]],
  ])('%s', (_, text, expected) => {
    const { report, problems } = parseTlsRptReport(text as string);
    expect(report).toBeUndefined();
    expect(problems).toEqual((expected as Array<string | RegExp>).map(item => typeof item === 'string' ? item : expect.stringMatching(item)));
  });
});

describe('normaliseDomainName', () => {
  test.each([
    ['Example.COM.', 'example.com'],
    ['bücher.example', 'xn--bcher-kva.example'],
    ['a..b', null],
    ['-bad.example', null],
    ['', null],
  ])('%s -> %s', (input, expected) => {
    expect(normaliseDomainName(input)).toBe(expected);
  });
});
