import { attachedReport, fixture, googleReport, mailRuReport, microsoftReport, rfcExampleReport } from './support/tlsrpt-messages';
import { canonicalPolicyLines, contentIdOf, reportedContentIdOf } from '../src/core/policy-id';
import { renderPolicyText } from '../src/core/policy-text';
import {
  MAX_JSON_DEPTH, MAX_POLICIES, PolicyReport, failedSessionsByResultType, normaliseDomainName,
  normaliseTlsRptReport, parseTlsRptReport, reportObjectName, resultTypeOf,
} from '../src/core/tlsrpt-report';

const parse = (report: unknown, reportDomain?: string) => parseTlsRptReport(JSON.stringify(report), reportDomain ? { reportDomain } : {});
const policiesOf = (report: unknown, reportDomain?: string): PolicyReport[] => parse(report, reportDomain).report!.policies;

describe('parseTlsRptReport', () => {
  test('the RFC 8460 example parses into one policy report', () => {
    const { report, problems } = parse(rfcExampleReport());
    expect(problems).toEqual([]);
    expect(report!.policies).toHaveLength(1);
    expect(report!.rejectedPolicies).toEqual([]);
    expect(report!.policies[0]).toMatchObject({
      report_id: '5065427c-23d3-47ca-b6e0-946ea0e8c4be',
      policy_domain: 'company-y.example',
      mx_host: ['*.mail.company-y.example'],
      policy_mode: 'testing',
      policy_max_age: 86400,
      policy_occurrence: 0,
      total_successful_session_count: 5326,
      total_failure_session_count: 303,
      notes: [],
    });
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
    expect(policiesOf(microsoftReport())[0].notes).toEqual([]);
    expect(policiesOf(mailRuReport())[0]).toMatchObject({
      contact_info: null,
      policy_domain: 'example.com',
      notes: [
        'contact-info missing',
        'failure-details add up to 5, more than the summary\'s 2: failed sessions by result type counted as '
          + 'certificate-host-mismatch 1, sts-webpki-invalid 1',
      ],
    });
  });

  test('a missing summary is counted as 0 with a note', () => {
    const report = { ...googleReport(), policies: [{ policy: { 'policy-type': 'no-policy-found', 'policy-domain': 'example.com' } }] };
    expect(policiesOf(report)[0]).toMatchObject({
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
    ['fails when the text is not JSON', '{"a":', 'invalid-json', [/^report must be JSON, got: "\{\\"a\\":"/]],
    ['fails when the JSON is an array', '[]', 'invalid-report', ['report must be a JSON object, got: []']],
    ['fails when the report id, dates and policies are missing', '{}', 'invalid-report', [
      '`report-id` must be a non-empty string, got: undefined',
      '`date-range.start-datetime` must be an RFC 3339 date-time, got: undefined',
      '`date-range.end-datetime` must be an RFC 3339 date-time, got: undefined',
      '`policies` must be a non-empty array, got: undefined',
    ]],
    ['fails when its only policy has no domain and a negative count', JSON.stringify({
      ...googleReport(),
      policies: [{ policy: { 'policy-type': 'sts', 'policy-domain': 'not a domain' }, summary: { 'total-successful-session-count': -1, 'total-failure-session-count': 0 } }],
    }), 'invalid-report', [
      '`policies[0].policy.policy-domain` must be a domain name, got: "not a domain"',
      '`policies[0].summary.total-successful-session-count` must be a non-negative integer, got: -1',
    ]],
    ['fails when there are more than 100 policies', JSON.stringify({
      ...googleReport(), policies: Array.from({ length: MAX_POLICIES + 1 }, () => (googleReport().policies as any[])[0]),
    }), 'invalid-report', ['`policies` must hold at most 100 policies, got: 101']],
  ])('%s', (_, text, reason, expected) => {
    const { report, problems, reason: refusal } = parseTlsRptReport(text as string);
    expect(report).toBeUndefined();
    expect(refusal).toBe(reason);
    expect(problems).toEqual((expected as Array<string | RegExp>).map(item => typeof item === 'string' ? item : expect.stringMatching(item)));
  });
});

describe('each policy of a report on its own', () => {
  const microsoft = () => attachedReport(fixture('microsoft-sts-tlsa.eml'));

  test('Microsoft\'s sts and tlsa policies for one domain get two object names, whatever their order', () => {
    // GIVEN the Microsoft-style report, and the same with its policies the other way round
    const report = microsoft();
    const reversed = { ...report, policies: [...report.policies].reverse() };
    // WHEN
    const names = policiesOf(report).map(policy => [policy.policy_type, reportObjectName(policy)]);
    const reversedNames = policiesOf(reversed).map(policy => [policy.policy_type, reportObjectName(policy)]);
    // THEN
    expect(names.map(([type]) => type)).toEqual(['sts', 'tlsa']);
    expect(names[0][1]).not.toBe(names[1][1]);
    expect(Object.fromEntries(reversedNames)).toEqual(Object.fromEntries(names));
  });

  test('an object name does not depend on the counts, so a report sent again with other counts is the same report', () => {
    const report = microsoft();
    const recounted = { ...report, policies: report.policies.map((p: any) => ({ ...p, summary: { ...p.summary, 'total-successful-session-count': 99 } })) };
    expect(policiesOf(recounted).map(reportObjectName)).toEqual(policiesOf(report).map(reportObjectName));
  });

  test('a policy listed twice is two objects: the second is its occurrence 1', () => {
    const entry = (googleReport().policies as any[])[0];
    const policies = policiesOf({ ...googleReport(), policies: [entry, entry] });
    expect(policies.map(policy => policy.policy_occurrence)).toEqual([0, 1]);
    expect(new Set(policies.map(reportObjectName)).size).toBe(2);
  });

  test('a policy that cannot be read is set aside with its problems while the others are kept', () => {
    // GIVEN the Microsoft-style report whose tlsa policy has a negative count
    const report = microsoft();
    report.policies[1].summary['total-failure-session-count'] = -3;
    // WHEN
    const { report: parsed, problems } = parse(report);
    // THEN
    expect(problems).toEqual([]);
    expect(parsed!.policies.map(policy => policy.policy_type)).toEqual(['sts']);
    expect(parsed!.rejectedPolicies).toEqual([{
      index: 1,
      problems: ['`policies[1].summary.total-failure-session-count` must be a non-negative integer, got: -3'],
      entry: report.policies[1],
    }]);
  });

  test('the TLS-Report-Domain header stands in for a missing policy-domain, with a note', () => {
    // GIVEN a Postfix tlsrpt-reporter report: no-policy-found without policy-domain
    const postfix = attachedReport(fixture('postfix-no-policy-found.eml'));
    expect(postfix.policies[0].policy).toEqual({ 'policy-type': 'no-policy-found' });
    // WHEN / THEN
    expect(policiesOf(postfix, 'Example.NET.')[0]).toMatchObject({
      policy_type: 'no-policy-found',
      policy_domain: 'example.net',
      notes: ['policy-domain missing, taken from the TLS-Report-Domain header'],
    });
    expect(parse(postfix)).toEqual({
      reason: 'invalid-report',
      problems: ['`policies[0].policy.policy-domain` must be a domain name, got: undefined'],
    });
  });

  test('the header does not replace a policy-domain that is there but invalid', () => {
    const report = { ...googleReport(), policies: [{ policy: { 'policy-type': 'sts', 'policy-domain': 'not a domain' } }] };
    expect(parse(report, 'example.com').problems).toEqual(['`policies[0].policy.policy-domain` must be a domain name, got: "not a domain"']);
  });
});

describe('hostile nesting', () => {
  test('fails when a report nests 100,000 levels deep, early and without throwing', () => {
    // GIVEN 200 KB of nested arrays inside a valid-looking report
    const text = `{"report-id":"x","policies":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    // WHEN
    const result = parseTlsRptReport(text);
    // THEN
    expect(result).toEqual({ reason: 'nested-too-deep', problems: ['report must nest arrays and objects at most 20 deep, got: 100001 deep'] });
  });

  test('brackets inside strings do not count', () => {
    const report = { ...googleReport(), 'report-id': `${'['.repeat(1000)}"{\\` };
    expect(parse(report).problems).toEqual([]);
  });

  test('a report exactly 20 deep is read; 21 deep is refused', () => {
    const nest = (depth: number): unknown => (depth === 0 ? 1 : [nest(depth - 1)]);
    // The report object is level 1, so an extension field holding 19 levels makes 20.
    expect(parse({ ...googleReport(), extension: nest(MAX_JSON_DEPTH - 1) }).problems).toEqual([]);
    expect(parse({ ...googleReport(), extension: nest(MAX_JSON_DEPTH) }).reason).toBe('nested-too-deep');
  });

  test('fails when an already parsed value nests deeper than 20, without recursing through it', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) {
      deep = [deep];
    }
    expect(normaliseTlsRptReport({ ...googleReport(), policies: deep })).toEqual({
      reason: 'nested-too-deep', problems: ['report must nest arrays and objects at most 20 deep, got: deeper'],
    });
  });
});

describe('the policy content id', () => {
  const policyLines = ['version: STSv1', 'mode: testing', 'mx: mx1.example.com', 'mx: *.mail.example.com', 'max_age: 604800'];

  test('is the content id of the sorted policy lines, each ending in CRLF', () => {
    expect(policiesOf(googleReport())[0].policy_content_id)
      .toBe(contentIdOf('max_age: 604800\r\nmode: testing\r\nmx: *.mail.example.com\r\nmx: mx1.example.com\r\nversion: STSv1\r\n'));
  });

  test('is the same for a published policy file and for every line order a reporter may use', () => {
    const published = renderPolicyText('testing', ['mx1.example.com', '*.mail.example.com'], 604800);
    const id = reportedContentIdOf(published.split('\r\n'));
    expect(reportedContentIdOf(policyLines)).toBe(id);
    expect(reportedContentIdOf([...policyLines].reverse())).toBe(id);
    expect(reportedContentIdOf(['mode:testing ', ' version : STSv1', 'max_age:604800', 'mx: *.mail.example.com', 'mx:mx1.example.com', ''])).toBe(id);
    expect(reportedContentIdOf([published])).toBe(id);
    expect(reportedContentIdOf(['version: STSv1', 'mode: enforce', ...policyLines.slice(2)])).not.toBe(id);
  });

  test('Google and Microsoft list one policy in different orders and get the same content id', () => {
    // GIVEN their reports of one example.com policy: Google puts max_age before mx, Microsoft after
    const google = policiesOf(attachedReport(fixture('google-reordered-policy-string.eml')))[0];
    const microsoft = policiesOf(attachedReport(fixture('microsoft-sts-tlsa.eml')))[0];
    expect(google.policy_string).toEqual(['version: STSv1', 'mode: enforce', 'max_age: 1209600', 'mx: mx1.example.com', 'mx: mx2.example.com']);
    expect(microsoft.policy_string).toEqual(['version: STSv1', 'mode: enforce', 'mx: mx1.example.com', 'mx: mx2.example.com', 'max_age: 1209600']);
    // THEN
    expect(google.policy_content_id).toBe(microsoft.policy_content_id);
    expect(google.policy_content_id)
      .toBe(reportedContentIdOf(renderPolicyText('enforce', ['mx1.example.com', 'mx2.example.com'], 1209600).split('\r\n')));
  });

  test('canonical lines are trimmed, split at line breaks, `key: value` with one space, sorted', () => {
    expect(canonicalPolicyLines(['version:STSv1\r\nmode :  testing', '', '  mx: b.example', 'mx: a.example  ', 'odd line']))
      .toEqual(['mode: testing', 'mx: a.example', 'mx: b.example', 'odd line', 'version: STSv1']);
  });
});

describe('failedSessionsByResultType', () => {
  const detail = (resultType: string, count: number) => ({ result_type: resultType, failed_session_count: count } as any);
  test.each([
    ['details that add up to the summary are counted as sent', 303, [['certificate-expired', 100], ['starttls-not-supported', 200], ['validation-failure', 3]],
      [['certificate-expired', 100], ['starttls-not-supported', 200], ['validation-failure', 3]]],
    ['details that add up to less are counted as sent', 10, [['sts-policy-fetch-error', 7]], [['sts-policy-fetch-error', 7]]],
    ['one type over the summary (the real Mail.ru report: 1 + 1 for a summary of 1) is cut to the summary', 1,
      [['sts-policy-fetch-error', 1], ['sts-policy-fetch-error', 1]], [['sts-policy-fetch-error', 1]]],
    ['several types over the summary are scaled by largest remainder', 2, [['sts-webpki-invalid', 3], ['certificate-host-mismatch', 2]],
      [['certificate-host-mismatch', 1], ['sts-webpki-invalid', 1]]],
    ['equal remainders go to the larger count', 3, [['certificate-expired', 1], ['dane-required', 3], ['dnssec-invalid', 2]],
      [['certificate-expired', 0], ['dane-required', 2], ['dnssec-invalid', 1]]],
    ['equal remainders and counts go by name', 1, [['tlsa-invalid', 1], ['dnssec-invalid', 1]], [['dnssec-invalid', 1], ['tlsa-invalid', 0]]],
    ['a summary of 0 counts none', 0, [['certificate-expired', 5]], [['certificate-expired', 0]]],
    ['result types outside RFC 8460 are counted as other', 9, [['made-up-1', 2], ['made-up-2', 3], ['tlsa-invalid', 4]],
      [['other', 5], ['tlsa-invalid', 4]]],
    ['counts near the largest safe integer are exact', Number.MAX_SAFE_INTEGER - 1, [['certificate-expired', Number.MAX_SAFE_INTEGER], ['validation-failure', 1]],
      [['certificate-expired', Number.MAX_SAFE_INTEGER - 2], ['validation-failure', 1]]],
  ])('%s', (_, summary, details, expected) => {
    const counted = failedSessionsByResultType({
      total_failure_session_count: summary as number,
      failure_details: (details as Array<[string, number]>).map(([type, count]) => detail(type, count)),
    });
    expect(counted.map(c => [c.resultType, c.failedSessions])).toEqual(expected);
    expect(counted.reduce((sum, c) => sum + c.failedSessions, 0)).toBeLessThanOrEqual(summary as number);
  });

  test('5,000 invented result types make one ResultType', () => {
    const details = Array.from({ length: 5000 }, (_, i) => detail(`invented-${i}`, 1));
    expect(failedSessionsByResultType({ total_failure_session_count: 5000, failure_details: details })).toEqual([{ resultType: 'other', failedSessions: 5000 }]);
    expect(resultTypeOf('certificate-expired')).toBe('certificate-expired');
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
