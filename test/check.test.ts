import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { MtaSts, MtaStsDomains, MtaStsMode } from '../src';
import { exampleStack } from './fixtures';
import { TestDnsServer } from './support/dns-server';
import { TestHttpsServer } from './support/https-server';
import { KeyAndCert, TestCa } from './support/pki';
import { TestSmtpServer } from './support/smtp-server';
import { readAssemblyDomains } from '../src/cli/assembly';
import { DnsClient } from '../src/cli/dns';
import { run } from '../src/cli/main';
import { publicationIdOf } from '../src/core/policy-id';

interface Check { id: string; status: string; message: string; host?: string }
interface Report { domain: string; ok: boolean; mode: string | null; policyId: string | null; verdict: string; checks: Check[] }

const ID = '20260101T000000Z1'.replace(/[^A-Za-z0-9]/g, '');
const DAY = 86_400_000;

let ca: TestCa;
let policyCert: KeyAndCert;
let wrongPolicyCert: KeyAndCert;
let mxCert: KeyAndCert;
let otherCert: KeyAndCert;
let expiredMxCert: KeyAndCert;
let dns: TestDnsServer;
let web: TestHttpsServer;
let smtp: TestSmtpServer;

function policy(mode: string, mx = ['mx1.example.com', '*.mail.example.com'], maxAge = 604800): string {
  return ['version: STSv1', `mode: ${mode}`, ...mx.map(m => `mx: ${m}`), `max_age: ${maxAge}`].map(l => `${l}\r\n`).join('');
}

function setTxt(name: string, ...values: string[]): void {
  dns.zone.set(name, values.map(value => ({ type: 'TXT' as const, value })));
}

function setMx(...hosts: string[]): void {
  dns.zone.set('example.com', hosts.map((value, i) => ({ type: 'MX' as const, value, priority: 10 * (i + 1) })));
  for (const host of hosts.filter(h => h !== '.')) {
    dns.zone.set(host, [{ type: 'A', value: '127.0.0.1' }]);
  }
}

/** A correct enforce deployment of example.com; tests break one thing each. */
function deployCorrectly(mode = 'enforce'): void {
  dns.zone = new Map();
  setTxt('_mta-sts.example.com', `v=STSv1; id=${ID}`);
  dns.add('mta-sts.example.com', { type: 'A', value: '127.0.0.1' });
  setMx('mx1.example.com', 'mx2.mail.example.com');
  setTxt('_smtp._tls.example.com', 'v=TLSRPTv1; rua=mailto:tls-reports@example.com');
  web.response = { status: 200, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: policy(mode) };
  web.useCertificate(policyCert);
  smtp.behaviour = { certificates: { default: mxCert } };
}

interface Outcome { status: number; stdout: string; stderr: string; report: Report; elapsedMs: number }

async function check(...args: string[]): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const started = Date.now();
  const status = await run(['check', ...args, '--resolver', dns.address], {
    stdout: text => { stdout += text; },
    stderr: text => { stderr += text; },
  }, { ca: ca.cert, httpsPort: web.port, smtpPort: smtp.port });
  const elapsedMs = Date.now() - started;
  const report = args.includes('--json') && stdout ? JSON.parse(stdout) : undefined;
  return { status, stdout, stderr, report, elapsedMs };
}

/** Checks example.com with --json and a short timeout. */
function checkExample(...args: string[]): Promise<Outcome> {
  return check('example.com', '--json', '--timeout', '5', ...args);
}

function statusOf(report: Report, id: string, host?: string): string {
  const found = report.checks.filter(c => c.id === id && (host === undefined || c.host === host));
  if (found.length !== 1) {
    throw new Error(`expected one ${id} check, got ${found.length}: ${JSON.stringify(report.checks)}`);
  }
  return found[0].status;
}

function messageOf(report: Report, id: string, host?: string): string {
  return report.checks.find(c => c.id === id && (host === undefined || c.host === host))!.message;
}

beforeAll(async () => {
  ca = new TestCa();
  policyCert = ca.issue({ names: ['mta-sts.example.com', 'mta-sts.example.org'] });
  wrongPolicyCert = ca.issue({ names: ['www.example.com'] });
  mxCert = ca.issue({ names: ['mx1.example.com', '*.mail.example.com'] });
  otherCert = ca.issue({ names: ['mx.other.example.net'] });
  expiredMxCert = ca.issue({ names: ['mx1.example.com', '*.mail.example.com'], notBefore: new Date(Date.now() - 60 * DAY), notAfter: new Date(Date.now() - DAY) });
  dns = await TestDnsServer.start();
  web = await TestHttpsServer.start(policyCert);
  smtp = await TestSmtpServer.start({ certificates: { default: mxCert } });
});

afterAll(async () => {
  await Promise.all([dns?.close(), web?.close(), smtp?.close()]);
});

beforeEach(() => deployCorrectly());

describe('a correct deployment', () => {
  test('in enforce mode passes every check and says enforced', async () => {
    // WHEN
    const { status, report } = await checkExample();
    // THEN
    expect(status).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.mode).toBe('enforce');
    expect(report.policyId).toBe(ID);
    expect(report.verdict).toBe('enforced');
    expect(report.checks.map(c => [c.id, c.status, c.host])).toEqual([
      ['sts-record', 'pass', undefined],
      ['policy-host', 'pass', undefined],
      ['policy-fetch', 'pass', undefined],
      ['policy-syntax', 'pass', undefined],
      ['policy-id', 'pass', undefined],
      ['mx-coverage', 'pass', undefined],
      ['mx-tls', 'pass', 'mx1.example.com'],
      ['mx-tls', 'pass', 'mx2.mail.example.com'],
      ['tls-rpt', 'pass', undefined],
      ['tls-rpt-rua', 'pass', undefined],
      ['advice', 'pass', undefined],
    ]);
    expect(messageOf(report, 'sts-record')).toBe(`_mta-sts.example.com: "v=STSv1; id=${ID}"`);
    expect(messageOf(report, 'policy-syntax')).toBe('mode enforce, mx mx1.example.com, *.mail.example.com, max_age 604800 (7 days)');
    expect(messageOf(report, 'mx-coverage')).toBe('every MX is covered: mx1.example.com by mx1.example.com, mx2.mail.example.com by *.mail.example.com');
    // The checker fetched what a sender fetches, and used SNI with each MX name.
    expect(web.requests[web.requests.length - 1]).toEqual({ path: '/.well-known/mta-sts.txt', host: 'mta-sts.example.com' });
    expect(smtp.handshakes.slice(-2).sort()).toEqual(['mx1.example.com', 'mx2.mail.example.com']);
  });

  test('in testing mode says ready to enforce', async () => {
    deployCorrectly('testing');
    const { status, report } = await checkExample();
    expect(status).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.mode).toBe('testing');
    expect(report.verdict).toBe('ready to enforce');
  });

  test('in mode none says the policy is withdrawn and skips MX coverage', async () => {
    web.response = { ...web.response, body: 'version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n' };
    const { status, report } = await checkExample();
    expect(status).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.verdict).toBe('policy withdrawn (mode none)');
    expect(statusOf(report, 'mx-coverage')).toBe('skip');
    expect(statusOf(report, 'policy-syntax')).toBe('pass');
  });

  test('follows a CNAME at _mta-sts as a resolver does', async () => {
    dns.zone.set('_mta-sts.example.com', [{ type: 'CNAME', value: '_mta-sts.policies.example.net' }]);
    setTxt('_mta-sts.policies.example.net', `v=STSv1; id=${ID}`);
    const { status, report } = await checkExample();
    expect(status).toBe(0);
    expect(statusOf(report, 'sts-record')).toBe('pass');
    expect(report.policyId).toBe(ID);
  });

  test('follows a CNAME at _mta-sts itself when the resolver answers with the CNAME alone', async () => {
    dns.zone.set('_mta-sts.example.com', [{ type: 'CNAME', value: '_mta-sts.policies.example.net' }]);
    setTxt('_mta-sts.policies.example.net', `v=STSv1; id=${ID}`);
    dns.chaseCnames = false;
    try {
      const { status, report } = await checkExample('--no-smtp');
      expect(status).toBe(0);
      expect(statusOf(report, 'sts-record')).toBe('pass');
      expect(messageOf(report, 'sts-record')).toBe(`_mta-sts.example.com (through CNAME _mta-sts.policies.example.net): "v=STSv1; id=${ID}"`);
    } finally {
      dns.chaseCnames = true;
    }
  });

  test('prints one line per check and a verdict line for a person', async () => {
    const { status, stdout } = await check('example.com', '--timeout', '5', '--no-smtp');
    expect(status).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`example.com  mode enforce  id ${ID}`);
    expect(lines[1]).toBe(`  PASS  sts-record     _mta-sts.example.com: "v=STSv1; id=${ID}"`);
    expect(lines).toContain('  SKIP  mx-tls         not checked (--no-smtp): mx1.example.com, mx2.mail.example.com');
    expect(lines[lines.length - 1]).toBe('  => example.com: enforced');
  });

  test('checks several domains into one JSON object', async () => {
    const { status, report } = await check('example.com', 'example.org', '--json', '--timeout', '5', '--no-smtp');
    const result = report as unknown as { ok: boolean; domains: Report[] };
    expect(status).toBe(1);
    expect(result.ok).toBe(false);
    expect(result.domains.map(d => [d.domain, d.ok])).toEqual([['example.com', true], ['example.org', false]]);
  });
});

describe('the _mta-sts record', () => {
  test.each([
    ['fails when there are several STSv1 records', [`v=STSv1; id=${ID}`, 'v=STSv1; id=other1'], '2 records begin with "v=STSv1"'],
    ['fails when the id is too long', [`v=STSv1; id=${'a'.repeat(33)}`], 'id must be at most 32 characters, got 33'],
    ['fails when the id has a hyphen', ['v=STSv1; id=2026-01-01'], 'id may contain only ASCII letters and digits, got: "2026-01-01"'],
    ['fails when the version is v=stsv1', [`v=stsv1; id=${ID}`], 'no TXT record begins with "v=STSv1" (case-sensitive)'],
  ])('%s', async (_name, values, message) => {
    setTxt('_mta-sts.example.com', ...values);
    const { status, report } = await checkExample('--no-smtp');
    expect(status).toBe(1);
    expect(report.ok).toBe(false);
    expect(statusOf(report, 'sts-record')).toBe('fail');
    expect(messageOf(report, 'sts-record')).toContain(message);
    expect(report.verdict).toMatch(/^not ready: 1 failure/);
  });

  test('fails when there is no record', async () => {
    dns.zone.delete('_mta-sts.example.com');
    const { status, report } = await checkExample('--no-smtp');
    expect(status).toBe(1);
    expect(statusOf(report, 'sts-record')).toBe('fail');
    expect(messageOf(report, 'sts-record')).toBe('_mta-sts.example.com: there is no TXT record; senders see no MTA-STS policy (publish "v=STSv1; id=<id>")');
  });

  test('warns about other TXT records there, which senders discard', async () => {
    setTxt('_mta-sts.example.com', `v=STSv1; id=${ID}`, 'google-site-verification=abc');
    const { status, report } = await checkExample('--no-smtp');
    expect(status).toBe(0);
    expect(report.ok).toBe(true);
    expect(statusOf(report, 'sts-record')).toBe('warn');
  });

  test('--strict makes that warning a failure', async () => {
    setTxt('_mta-sts.example.com', `v=STSv1; id=${ID}`, 'google-site-verification=abc');
    const { status, report } = await checkExample('--no-smtp', '--strict');
    expect(status).toBe(1);
    expect(report.ok).toBe(false);
    expect(report.verdict).toBe('not ready: 1 warning (--strict counts them as failures)');
  });
});

describe('the policy host and file', () => {
  test('fails when the policy host does not resolve', async () => {
    dns.zone.delete('mta-sts.example.com');
    const { status, report } = await checkExample('--no-smtp');
    expect(status).toBe(1);
    expect(statusOf(report, 'policy-host')).toBe('fail');
    expect(statusOf(report, 'policy-fetch')).toBe('skip');
  });

  test.each([
    ['fails on a redirect, which senders do not follow', { status: 301, headers: { Location: 'https://www.example.com/mta-sts.txt' } },
      'https://mta-sts.example.com/.well-known/mta-sts.txt: HTTP 301 redirect to https://www.example.com/mta-sts.txt; senders must not follow redirects (RFC 8461 §3.3): serve the file at this URL with status 200'],
    ['fails on 404', { status: 404, headers: { 'Content-Type': 'text/plain' }, body: 'not found' }, 'https://mta-sts.example.com/.well-known/mta-sts.txt: HTTP 404, expected 200'],
    ['fails on text/html', { status: 200, headers: { 'Content-Type': 'text/html' }, body: policy('enforce') }, 'media type "text/html", expected text/plain (RFC 8461 §3.2)'],
    ['fails on an oversized body', { status: 200, headers: { 'Content-Type': 'text/plain' }, body: policy('enforce') + `x-pad: ${'a'.repeat(70_000)}\r\n` },
      'the body is over 65536 bytes; senders stop reading there (RFC 8461 §3.3)'],
  ])('%s', async (_name, response, message) => {
    web.response = response;
    const { status, report } = await checkExample('--no-smtp');
    expect(status).toBe(1);
    expect(report.ok).toBe(false);
    expect(statusOf(report, 'policy-fetch')).toBe('fail');
    expect(messageOf(report, 'policy-fetch')).toContain(message);
    expect(statusOf(report, 'policy-syntax')).toBe('skip');
  });

  test('fails, within the timeout, when the policy host never answers', async () => {
    web.response = { status: 200, hang: true };
    const { status, report, elapsedMs } = await check('example.com', '--json', '--timeout', '1.5', '--no-smtp');
    expect(status).toBe(1);
    expect(statusOf(report, 'policy-fetch')).toBe('fail');
    expect(messageOf(report, 'policy-fetch')).toBe('https://mta-sts.example.com/.well-known/mta-sts.txt: no complete answer before the timeout; senders treat that as no policy');
    expect(elapsedMs).toBeLessThan(3500);
  });

  test('fails when the policy host certificate is for another name', async () => {
    web.useCertificate(wrongPolicyCert);
    const { status, report } = await checkExample('--no-smtp');
    expect(status).toBe(1);
    expect(statusOf(report, 'policy-fetch')).toBe('fail');
    expect(messageOf(report, 'policy-fetch')).toContain('the certificate is not valid for mta-sts.example.com');
  });

  test('fails when the policy host certificate is not from a trusted CA', async () => {
    web.useCertificate(new TestCa('untrusted CA').issue({ names: ['mta-sts.example.com'] }));
    const { status, report } = await checkExample('--no-smtp');
    expect(status).toBe(1);
    expect(messageOf(report, 'policy-fetch')).toContain('the certificate chain does not lead to a trusted root');
  });

  test.each([
    ['fails on a capitalised key', policy('enforce').replace('mode:', 'Mode:'), 'line 2: key "Mode" must be written "mode"'],
    ['fails when max_age is out of range', policy('enforce', undefined, 31557601), 'max_age must be a whole number of seconds from 0 to 31557600, got: "31557601"'],
    ['fails when mode is not lower-case', policy('Enforce'), 'mode must be exactly "enforce", "testing" or "none", got: "Enforce"'],
    ['fails on an IP address as mx', policy('enforce', ['192.0.2.25']), 'mx must be a hostname, not an IP address'],
  ])('%s', async (_name, body, message) => {
    web.response = { ...web.response, body };
    const { status, report } = await checkExample('--no-smtp');
    expect(status).toBe(1);
    expect(report.ok).toBe(false);
    expect(statusOf(report, 'policy-syntax')).toBe('fail');
    expect(messageOf(report, 'policy-syntax')).toContain(message);
    expect(report.mode).toBeNull();
  });

  test('warns about an unknown key but passes', async () => {
    web.response = { ...web.response, body: policy('enforce') + 'x-owner: postmaster\r\n' };
    const { status, report } = await checkExample('--no-smtp');
    expect(status).toBe(0);
    expect(statusOf(report, 'policy-syntax')).toBe('warn');
  });
});

describe('the policy id', () => {
  test('passes with --expect-id when the live id is the expected one', async () => {
    const { status, report } = await checkExample('--no-smtp', '--expect-id', ID);
    expect(status).toBe(0);
    expect(statusOf(report, 'policy-id')).toBe('pass');
  });

  test('fails with --expect-id when the live id differs', async () => {
    const { status, report } = await checkExample('--no-smtp', '--expect-id', 'abc123');
    expect(status).toBe(1);
    expect(statusOf(report, 'policy-id')).toBe('fail');
    expect(messageOf(report, 'policy-id')).toContain(`the live id is ${ID}, expected abc123`);
  });

  test('warns when a cdk-mta-sts id announces other content than the file served', async () => {
    setTxt('_mta-sts.example.com', `v=STSv1; id=${publicationIdOf('0123456789abcdef', new Date(), 7)}`);
    const { status, report } = await checkExample('--no-smtp');
    expect(status).toBe(0);
    expect(statusOf(report, 'policy-id')).toBe('warn');
    expect(messageOf(report, 'policy-id')).toContain('does not match the served policy text');
  });
});

describe('MX coverage', () => {
  test('fails in enforce when an MX is not covered', async () => {
    setMx('mx1.example.com', 'backup.example.org');
    const { status, report } = await checkExample('--no-smtp');
    expect(status).toBe(1);
    expect(statusOf(report, 'mx-coverage')).toBe('fail');
    expect(messageOf(report, 'mx-coverage')).toContain('1 MX host not covered by the policy\'s mx list (mx1.example.com, *.mail.example.com): backup.example.org');
  });

  test('warns in testing when an MX is not covered, and the verdict says not ready to enforce', async () => {
    deployCorrectly('testing');
    setMx('mx1.example.com', 'backup.example.org');
    const { status, report } = await checkExample('--no-smtp');
    expect(status).toBe(0);
    expect(report.ok).toBe(true);
    expect(statusOf(report, 'mx-coverage')).toBe('warn');
    expect(report.verdict).toBe('not ready to enforce: an MX host is not covered by the policy');
  });

  test('fails when a wildcard would have to match two labels', async () => {
    web.response = { ...web.response, body: policy('enforce', ['*.example.com']) };
    setMx('a.b.example.com');
    const { status, report } = await checkExample('--no-smtp');
    expect(status).toBe(1);
    expect(statusOf(report, 'mx-coverage')).toBe('fail');
    expect(messageOf(report, 'mx-coverage')).toContain('a.b.example.com');
  });

  test('warns when the domain has a null MX', async () => {
    setMx('.');
    const { status, report } = await checkExample();
    expect(status).toBe(0);
    expect(statusOf(report, 'mx-coverage')).toBe('warn');
    expect(messageOf(report, 'mx-coverage')).toContain('null MX');
  });
});

describe('STARTTLS on each MX', () => {
  test('fails in enforce when an MX certificate is for another name', async () => {
    smtp.behaviour = { certificates: { default: otherCert } };
    const { status, report } = await checkExample();
    expect(status).toBe(1);
    expect(statusOf(report, 'mx-tls', 'mx1.example.com')).toBe('fail');
    expect(messageOf(report, 'mx-tls', 'mx1.example.com')).toContain('mx1.example.com: the certificate is not valid for mx1.example.com');
  });

  test('fails in enforce when an MX certificate has expired', async () => {
    smtp.behaviour = { certificates: { default: expiredMxCert } };
    const { status, report } = await checkExample();
    expect(status).toBe(1);
    expect(statusOf(report, 'mx-tls', 'mx1.example.com')).toBe('fail');
    expect(messageOf(report, 'mx-tls', 'mx1.example.com')).toContain('the certificate has expired');
  });

  test('fails in enforce when an MX does not offer STARTTLS', async () => {
    smtp.behaviour = { mode: 'plain', certificates: { default: mxCert } };
    const { status, report } = await checkExample();
    expect(status).toBe(1);
    expect(statusOf(report, 'mx-tls', 'mx1.example.com')).toBe('fail');
    expect(messageOf(report, 'mx-tls', 'mx1.example.com')).toContain('does not offer STARTTLS after EHLO');
  });

  test('warns in testing when an MX does not offer STARTTLS, and blocks ready to enforce', async () => {
    deployCorrectly('testing');
    smtp.behaviour = { mode: 'plain', certificates: { default: mxCert } };
    const { status, report } = await checkExample();
    expect(status).toBe(0);
    expect(statusOf(report, 'mx-tls', 'mx1.example.com')).toBe('warn');
    expect(report.verdict).toBe('not ready to enforce: 2 MX hosts without valid TLS');
  });

  test('warns, within the timeout, when an MX never answers', async () => {
    smtp.behaviour = { mode: 'silent', certificates: {} };
    const { status, report, elapsedMs } = await check('example.com', '--json', '--timeout', '2');
    expect(status).toBe(0);
    expect(report.ok).toBe(true);
    expect(statusOf(report, 'mx-tls', 'mx1.example.com')).toBe('warn');
    expect(messageOf(report, 'mx-tls', 'mx1.example.com')).toContain('accepted the connection but sent no banner before the timeout');
    expect(messageOf(report, 'mx-tls', 'mx1.example.com')).toContain('port 25 is blocked on many networks');
    expect(report.verdict).toBe('enforced (2 warnings)');
    expect(elapsedMs).toBeLessThan(4000);
  });

  test('warns when an MX refuses connections', async () => {
    dns.zone.set('mx1.example.com', [{ type: 'A', value: '127.0.0.2' }]);
    const { status, report } = await checkExample();
    expect(status).toBe(0);
    expect(statusOf(report, 'mx-tls', 'mx1.example.com')).toBe('warn');
    expect(statusOf(report, 'mx-tls', 'mx2.mail.example.com')).toBe('pass');
  });
});

describe('the TLS-RPT record', () => {
  test('fails when it is malformed', async () => {
    setTxt('_smtp._tls.example.com', 'v=TLSRPTv1; rua=http://reports.example.com/');
    const { status, report } = await checkExample('--no-smtp');
    expect(status).toBe(1);
    expect(statusOf(report, 'tls-rpt')).toBe('fail');
    expect(messageOf(report, 'tls-rpt')).toContain('rua URI 1 must be a mailto: address or an https: URL, got: "http://reports.example.com/"');
  });

  test('warns when it is absent, and in testing mode advises adding it', async () => {
    deployCorrectly('testing');
    dns.zone.delete('_smtp._tls.example.com');
    const { status, report } = await checkExample('--no-smtp');
    expect(status).toBe(0);
    expect(statusOf(report, 'tls-rpt')).toBe('warn');
    expect(statusOf(report, 'advice')).toBe('warn');
  });

  test('warns when a report destination cannot receive', async () => {
    setTxt('_smtp._tls.example.com', 'v=TLSRPTv1; rua=mailto:r@example.com,https://reports.nowhere.example/v1');
    const { status, report } = await checkExample('--no-smtp');
    expect(status).toBe(0);
    expect(statusOf(report, 'tls-rpt')).toBe('pass');
    expect(statusOf(report, 'tls-rpt-rua')).toBe('warn');
    expect(messageOf(report, 'tls-rpt-rua')).toContain('https://reports.nowhere.example/v1: reports.nowhere.example does not resolve');
    expect(messageOf(report, 'tls-rpt-rua')).toContain('some senders report only to the first URI');
  });
});

describe('DNS', () => {
  test('a resolver that never answers a name costs no more than the timeout', async () => {
    dns.silent.add('_smtp._tls.example.com');
    try {
      const { status, report, elapsedMs } = await check('example.com', '--json', '--timeout', '1.5', '--no-smtp');
      expect(status).toBe(0);
      expect(statusOf(report, 'tls-rpt')).toBe('warn');
      expect(messageOf(report, 'tls-rpt')).toContain('the DNS query timed out');
      expect(elapsedMs).toBeLessThan(3500);
    } finally {
      dns.silent.clear();
    }
  });
});

describe('advice', () => {
  test('warns about max_age under a day in enforce mode', async () => {
    web.response = { ...web.response, body: policy('enforce', undefined, 3600) };
    const { status, report } = await checkExample('--no-smtp');
    expect(status).toBe(0);
    expect(statusOf(report, 'advice')).toBe('warn');
    expect(messageOf(report, 'advice')).toContain('max_age is 3600 s, under a day');
  });
});

describe('--resolver', () => {
  test.each([
    ['192.0.2.53', '192.0.2.53'],
    ['192.0.2.53:5353', '192.0.2.53:5353'],
    ['2001:db8::53', '2001:db8::53'],
    ['[2001:db8::53]:5353', '[2001:db8::53]:5353'],
    ['192.0.2.53:0', undefined],
    ['192.0.2.53:65536', undefined],
    ['dns.example.com', undefined],
    ['[192.0.2.53]:53', undefined],
    ['192.0.2.300', undefined],
  ])('%s is read as %s', (value, expected) => {
    expect(DnsClient.parseServer(value)).toBe(expected);
  });
});

describe('usage errors exit 2 with one line on stderr', () => {
  test.each([
    ['an unknown flag', ['example.com', '--frobnicate'], 'cdk-mta-sts: unknown option --frobnicate\n'],
    ['an invalid domain name', ['exa_mple.com'], 'cdk-mta-sts: invalid domain name "exa_mple.com": it may contain only letters, digits and hyphens in each label\n'],
    ['no domain', [], 'cdk-mta-sts: name at least one domain, or --assembly <cdk.out>\n'],
    ['a bad timeout', ['example.com', '--timeout', '0'], 'cdk-mta-sts: --timeout must be a number of seconds above 0 and at most 600, got: "0"\n'],
    ['a bad resolver', ['example.com', '--resolver', 'dns.example.com'], 'cdk-mta-sts: --resolver must be an IP address, ip:port or [ipv6]:port, got: "dns.example.com"\n'],
    ['a bad expected id', ['example.com', '--expect-id', 'a-b'], 'cdk-mta-sts: --expect-id must be a valid policy id (1 to 32 letters and digits): id may contain only ASCII letters and digits, got: "a-b"\n'],
    ['an unreadable assembly', ['--assembly', '/nonexistent/cdk.out'], 'cdk-mta-sts: cannot read the cloud assembly /nonexistent/cdk.out/manifest.json: ENOENT: no such file or directory, open \'/nonexistent/cdk.out/manifest.json\'\n'],
  ])('%s', async (_name, args, message) => {
    let stdout = '';
    let stderr = '';
    const status = await run(['check', ...args], { stdout: t => { stdout += t; }, stderr: t => { stderr += t; } });
    expect(status).toBe(2);
    expect(stderr).toBe(message);
    expect(stdout).toBe('');
  });
});

describe('check --assembly', () => {
  let outdir: string;
  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), 'cdk-mta-sts-check-'));
  });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  function synthesize(): ReturnType<typeof readAssemblyDomains>[number] {
    const { app, stack, hostedZone } = exampleStack('us-east-1', { outdir });
    new MtaSts(stack, 'MtaSts', {
      hostedZone,
      mode: MtaStsMode.ENFORCE,
      mx: ['mx1.example.com', '*.mail.example.com'],
      tlsRpt: { rua: ['mailto:tls-reports@example.com'] },
    });
    app.synth();
    const domains = readAssemblyDomains(outdir);
    expect(domains.map(d => d.data.domainName)).toEqual(['example.com']);
    return domains[0];
  }

  test('passes when what is live is what the constructs synthesized (round trip)', async () => {
    // GIVEN what the constructs synthesize, served by the test servers
    const { data } = synthesize();
    setTxt('_mta-sts.example.com', `v=STSv1; id=${publicationIdOf(data.contentId, new Date(), 0)}`);
    setTxt('_smtp._tls.example.com', data.tlsRptRecordValue!);
    web.response = { status: 200, headers: { 'Content-Type': 'text/plain' }, body: data.policyText };
    // WHEN
    const { status, report, stderr } = await check('--assembly', outdir, '--json', '--timeout', '5');
    // THEN
    const result = report as unknown as { ok: boolean; domains: Report[] };
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(result.ok).toBe(true);
    expect(result.domains).toHaveLength(1);
    expect(statusOf(result.domains[0], 'policy-id')).toBe('pass');
    expect(statusOf(result.domains[0], 'tls-rpt')).toBe('pass');
    expect(result.domains[0].verdict).toBe('enforced');
  });

  test('fails when the live policy text differs from the synthesized one', async () => {
    const { data } = synthesize();
    setTxt('_mta-sts.example.com', `v=STSv1; id=${publicationIdOf(data.contentId, new Date(), 0)}`);
    web.response = { status: 200, headers: { 'Content-Type': 'text/plain' }, body: data.policyText.replace(/\r\n/g, '\n') };
    const { status, report } = await check('--assembly', outdir, '--json', '--timeout', '5', '--no-smtp');
    const result = report as unknown as { ok: boolean; domains: Report[] };
    expect(status).toBe(1);
    expect(result.ok).toBe(false);
    expect(statusOf(result.domains[0], 'policy-id')).toBe('fail');
    expect(messageOf(result.domains[0], 'policy-id')).toContain('differs from the synthesized one');
  });

  test('fails when the live id announces other content', async () => {
    synthesize();
    const { status, report } = await check('--assembly', outdir, '--json', '--timeout', '5', '--no-smtp');
    const result = report as unknown as { ok: boolean; domains: Report[] };
    expect(status).toBe(1);
    expect(statusOf(result.domains[0], 'policy-id')).toBe('fail');
    expect(messageOf(result.domains[0], 'policy-id')).toContain(`the live id ${ID} was not made by cdk-mta-sts for this policy`);
  });
});

describe('reading a cloud assembly', () => {
  let outdir: string;
  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), 'cdk-mta-sts-assembly-'));
  });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  test('finds the policy domains in a stack\'s additional metadata file, as newer aws-cdk-lib versions write it', () => {
    // GIVEN a manifest whose stack keeps its metadata in S.metadata.json (aws-cdk-lib 2.2xx and later)
    const data = { domainName: 'example.com', policyHost: 'mta-sts.example.com', policyText: 'version: STSv1\r\n', contentId: '0123456789abcdef', mode: 'testing', policyRecordName: '_mta-sts.example.com' };
    writeFileSync(join(outdir, 'manifest.json'), JSON.stringify({
      version: '48.0.0',
      artifacts: { S: { type: 'aws:cloudformation:stack', additionalMetadataFile: 'S.metadata.json', metadata: { '/S': [{ type: 'aws:cdk:templateFile', data: 'S.template.json' }] } } },
    }));
    writeFileSync(join(outdir, 'S.metadata.json'), JSON.stringify({ '/S/MtaSts/example.com': [{ type: 'cdk-mta-sts:policy-domain', data }] }));
    // WHEN / THEN
    expect(readAssemblyDomains(outdir)).toEqual([{ stack: 'S', path: '/S/MtaSts/example.com', data }]);
  });

  test('fails with a one-line message when the additional metadata file is missing', () => {
    writeFileSync(join(outdir, 'manifest.json'), JSON.stringify({ artifacts: { S: { type: 'aws:cloudformation:stack', additionalMetadataFile: 'Gone.metadata.json' } } }));
    expect(() => readAssemblyDomains(outdir)).toThrow(`cannot read the cloud assembly ${join(outdir, 'Gone.metadata.json')}: ENOENT: no such file or directory, open '${join(outdir, 'Gone.metadata.json')}'`);
  });
});

describe('check --assembly with MtaStsDomains', () => {
  let outdir: string;
  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), 'cdk-mta-sts-check-'));
  });
  afterAll(() => {
    web.responseFor.clear();
    rmSync(outdir, { recursive: true, force: true });
  });

  test('checks every policy domain of the assembly, each against its own synthesized policy', async () => {
    // GIVEN two domains with different policies, synthesized and then served
    const { app, stack } = exampleStack('us-east-1', { outdir });
    const zoneOf = (name: string) => route53.HostedZone.fromHostedZoneAttributes(stack, `Zone-${name}`, { hostedZoneId: `Z${name.length}`, zoneName: name });
    new MtaStsDomains(stack, 'MtaSts', {
      mx: ['mx1.example.com', '*.mail.example.com'],
      tlsRpt: { rua: ['mailto:tls-reports@example.com'] },
      domains: [
        { hostedZone: zoneOf('example.com'), mode: MtaStsMode.ENFORCE },
        { hostedZone: zoneOf('example.org'), mode: MtaStsMode.TESTING },
      ],
    });
    app.synth();
    const found = readAssemblyDomains(outdir);
    expect(found.map(d => [d.data.domainName, d.data.mode])).toEqual([['example.com', 'enforce'], ['example.org', 'testing']]);
    for (const { data } of found) {
      setTxt(`_mta-sts.${data.domainName}`, `v=STSv1; id=${publicationIdOf(data.contentId, new Date(), 1)}`);
      dns.zone.set(data.policyHost, [{ type: 'A', value: '127.0.0.1' }]);
      dns.zone.set(data.domainName, [{ type: 'MX', value: 'mx1.example.com', priority: 10 }]);
      setTxt(`_smtp._tls.${data.domainName}`, data.tlsRptRecordValue!);
      web.responseFor.set(data.policyHost, { status: 200, headers: { 'Content-Type': 'text/plain' }, body: data.policyText });
    }
    // WHEN
    const { status, report } = await check('--assembly', outdir, '--json', '--timeout', '5');
    // THEN
    const result = report as unknown as { ok: boolean; domains: Report[] };
    expect(status).toBe(0);
    expect(result.ok).toBe(true);
    expect(result.domains.map(d => [d.domain, d.mode, d.verdict, statusOf(d, 'policy-id')])).toEqual([
      ['example.com', 'enforce', 'enforced', 'pass'],
      ['example.org', 'testing', 'ready to enforce', 'pass'],
    ]);

    // A domain whose live text is the other domain's fails, and only that domain.
    web.responseFor.set('mta-sts.example.org', web.responseFor.get('mta-sts.example.com')!);
    const swapped = await check('--assembly', outdir, '--json', '--timeout', '5', '--no-smtp');
    const after = swapped.report as unknown as { ok: boolean; domains: Report[] };
    expect(swapped.status).toBe(1);
    expect(after.ok).toBe(false);
    expect(after.domains.map(d => [d.domain, d.ok, statusOf(d, 'policy-id')])).toEqual([['example.com', true, 'pass'], ['example.org', false, 'fail']]);
  });
});

describe('check --assembly with a delegated mta-sts zone (DNS outside Route 53)', () => {
  let outdir: string;
  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), 'cdk-mta-sts-check-'));
  });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  test('follows the two one-time CNAMEs to the records the construct writes inside the zone, and passes', async () => {
    // GIVEN an MtaSts on the zone mta-sts.example.com, delegated from the DNS of example.com
    const { app, stack } = exampleStack('us-east-1', { outdir });
    const delegated = route53.HostedZone.fromHostedZoneAttributes(stack, 'Delegated', { hostedZoneId: 'ZDELEGATED', zoneName: 'mta-sts.example.com' });
    new MtaSts(stack, 'MtaSts', {
      hostedZone: delegated,
      domainName: 'example.com',
      mode: MtaStsMode.ENFORCE,
      mx: ['mx1.example.com', '*.mail.example.com'],
      tlsRpt: { rua: ['mailto:tls-reports@example.com'] },
    });
    app.synth();
    const [{ data }] = readAssemblyDomains(outdir);
    expect([data.policyRecordName, data.tlsRptRecordName]).toEqual(['_mta-sts.mta-sts.example.com', '_smtp._tls.mta-sts.example.com']);

    // The outside DNS holds only the CNAMEs the runbook names; the records live in the zone.
    dns.zone.set('_mta-sts.example.com', [{ type: 'CNAME', value: data.policyRecordName }]);
    dns.zone.set('_smtp._tls.example.com', [{ type: 'CNAME', value: data.tlsRptRecordName! }]);
    const announced = publicationIdOf(data.contentId, new Date(), 3);
    setTxt(data.policyRecordName, `v=STSv1; id=${announced}`);
    setTxt(data.tlsRptRecordName!, data.tlsRptRecordValue!);
    web.response = { status: 200, headers: { 'Content-Type': 'text/plain' }, body: data.policyText };

    // WHEN
    const { status, report } = await check('--assembly', outdir, '--json', '--timeout', '5', '--no-smtp');

    // THEN
    const result = report as unknown as { ok: boolean; domains: Report[] };
    expect(status).toBe(0);
    expect(result.ok).toBe(true);
    expect(statusOf(result.domains[0], 'sts-record')).toBe('pass');
    // The only v=STSv1 record is the one at the CNAME target.
    expect(messageOf(result.domains[0], 'sts-record')).toContain(`id=${announced}`);
    expect(statusOf(result.domains[0], 'policy-id')).toBe('pass');
    expect(statusOf(result.domains[0], 'tls-rpt')).toBe('pass');
  });
});

describe('the built command', () => {
  const bin = join(__dirname, '..', 'lib', 'cli', 'main.js');
  beforeAll(() => {
    if (!existsSync(bin)) {
      // `npx projen check` compiles before testing; a bare jest run builds the command here.
      const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(__dirname, '..', 'tsconfig.json')], { encoding: 'utf8' });
      if (tsc.status !== 0) {
        throw new Error(`could not build lib/ for the subprocess test:\n${tsc.stdout}${tsc.stderr}`);
      }
    }
  }, 120_000);

  test('runs as a user runs it, trusting the test CA through NODE_EXTRA_CA_CERTS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cdk-mta-sts-ca-'));
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, ca.cert);
    try {
      const child = spawn(process.execPath, [bin, 'check', 'example.com', '--json', '--timeout', '5', '--resolver', dns.address], {
        env: {
          ...process.env,
          NODE_EXTRA_CA_CERTS: caFile,
          CDK_MTA_STS_TEST_HTTPS_PORT: String(web.port),
          CDK_MTA_STS_TEST_SMTP_PORT: String(smtp.port),
        },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', d => { stdout += d; });
      child.stderr.on('data', d => { stderr += d; });
      const status = await new Promise<number | null>(resolve => child.on('close', resolve));
      expect(stderr).toBe('');
      expect(status).toBe(0);
      const report = JSON.parse(stdout) as Report;
      expect(report.ok).toBe(true);
      expect(report.verdict).toBe('enforced');
      expect(statusOf(report, 'policy-fetch')).toBe('pass');
      expect(statusOf(report, 'mx-tls', 'mx1.example.com')).toBe('pass');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('exits 2 on an unknown flag', () => {
    const result = spawnSync(process.execPath, [bin, 'check', '--nope'], { encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toBe('cdk-mta-sts: unknown option --nope\n');
    expect(result.stdout).toBe('');
  });
});
