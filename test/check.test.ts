import { spawn, spawnSync } from 'node:child_process';
import { createSocket, Socket } from 'node:dgram';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
import { run, USAGE } from '../src/cli/main';
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
    // GIVEN example.com deployed, and nothing at example.org (in a top-level domain DNS knows)
    dns.zone.set('org', [{ type: 'TXT', value: 'a top-level domain' }]);
    // WHEN
    const { status, report } = await check('example.com', 'example.org', '--json', '--timeout', '5', '--no-smtp');
    // THEN
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
  test('finds every domain of an MtaStsDomains spread over shard stacks', () => {
    // GIVEN
    const dir = mkdtempSync(join(tmpdir(), 'cdk-mta-sts-assembly-shards-'));
    const { app, stack } = exampleStack('eu-west-1', { outdir: dir });
    const names = ['a.example', 'b.example', 'c.example', 'd.example', 'e.example'];
    new MtaStsDomains(stack, 'Domains', {
      shards: 3,
      mx: ['mx.example.net'],
      domains: names.map(name => ({ hostedZone: route53.HostedZone.fromHostedZoneAttributes(stack, name, { hostedZoneId: `Z${name[0].toUpperCase()}`, zoneName: name }) })),
    });
    app.synth();

    // WHEN
    const domains = readAssemblyDomains(dir);
    rmSync(dir, { recursive: true, force: true });

    // THEN
    expect(domains.map(d => d.data.domainName).sort()).toEqual(names);
    expect(domains.find(d => d.data.domainName === 'c.example')!.data.policyText).toBe('version: STSv1\r\nmode: testing\r\nmx: mx.example.net\r\nmax_age: 604800\r\n');
  });

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

const ROOT = join(__dirname, '..');
/** The command the package's `bin` points at, as `npx projen compile` builds it. */
const BIN = join(ROOT, 'lib', 'cli', 'main.js');

/**
 * Makes sure lib/cli/main.js is built from the current sources: `npx projen check` compiles
 * before testing; a bare jest run after editing src/cli or src/core rebuilds the command (and
 * the core it imports) here, with the project's compiler settings.
 */
function buildCommand(): void {
  const newestSource = Math.max(...['cli', 'core'].flatMap(dir => readdirSync(join(ROOT, 'src', dir))
    .filter(f => f.endsWith('.ts')).map(f => statSync(join(ROOT, 'src', dir, f)).mtimeMs)));
  if (existsSync(BIN) && statSync(BIN).mtimeMs >= newestSource) {
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'cdk-mta-sts-build-'));
  try {
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      extends: join(ROOT, 'tsconfig.json'),
      compilerOptions: { rootDir: join(ROOT, 'src'), outDir: join(ROOT, 'lib'), types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')] },
      include: [],
      files: [join(ROOT, 'src', 'cli', 'main.ts')],
    }));
    const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
    if (tsc.status !== 0) {
      throw new Error(`could not build lib/cli for the subprocess tests:\n${tsc.stdout}${tsc.stderr}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Run { status: number | null; stdout: string; stderr: string }

/** Runs the built command as a user does, without blocking the loopback servers of this test. */
async function runBuilt(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...options.env }, cwd: options.cwd });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', d => { stdout += d; });
  child.stderr.on('data', d => { stderr += d; });
  const status = await new Promise<number | null>(resolve => child.on('close', resolve));
  return { status, stdout, stderr };
}

/**
 * A UDP DNS server on loopback that answers every query with `rcode` (2 is SERVFAIL), or never
 * when undefined; queries for the names in `existing` get an empty answer (NODATA).
 */
async function startBrokenDns(rcode?: number, existing: string[] = []): Promise<{ address: string; close: () => Promise<void> }> {
  const socket: Socket = createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    if (rcode === undefined || msg.length < 12) {
      return;
    }
    const labels: string[] = [];
    let end = 12;
    while (end < msg.length && msg[end] !== 0) {
      labels.push(msg.subarray(end + 1, end + 1 + msg[end]).toString('latin1'));
      end += msg[end] + 1;
    }
    const reply = Buffer.from(msg.subarray(0, end + 5)); // the header and the question
    reply.writeUInt16BE(0x8180 + (existing.includes(labels.join('.').toLowerCase()) ? 0 : rcode), 2); // QR, RD, RA, then the rcode
    reply.writeUInt16BE(1, 4);
    reply.fill(0, 6, 12);
    socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>(resolve => socket.bind(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    close: () => new Promise<void>(resolve => socket.close(() => resolve())),
  };
}

/** A loopback UDP port nothing listens on. */
async function closedPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>(resolve => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  await new Promise<void>(resolve => socket.close(() => resolve()));
  return port;
}

describe('the built command', () => {
  beforeAll(buildCommand, 120_000);

  test('runs as a user runs it, trusting the test CA through NODE_EXTRA_CA_CERTS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cdk-mta-sts-ca-'));
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, ca.cert);
    try {
      const { status, stdout, stderr } = await runBuilt(['check', 'example.com', '--json', '--timeout', '5', '--resolver', dns.address], {
        env: {
          NODE_EXTRA_CA_CERTS: caFile,
          CDK_MTA_STS_TEST_HTTPS_PORT: String(web.port),
          CDK_MTA_STS_TEST_SMTP_PORT: String(smtp.port),
        },
      });
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

  test('exits 2 on an unknown flag', async () => {
    const result = await runBuilt(['check', '--nope']);
    expect(result).toEqual({ status: 2, stdout: '', stderr: 'cdk-mta-sts: unknown option --nope\n' });
  });

  test('--version prints the version of the package.json beside lib/, from any directory, and exits 0', async () => {
    // GIVEN the version the package ships with
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    // WHEN run from elsewhere, as npx runs an installed package
    const result = await runBuilt(['--version'], { cwd: tmpdir() });
    // THEN
    expect(result).toEqual({ status: 0, stdout: `${version}\n`, stderr: '' });
  });

  test('with no command prints the usage on stderr and exits 2, a usage error', async () => {
    const result = await runBuilt([]);
    expect(result).toEqual({ status: 2, stdout: '', stderr: `${USAGE}\n` });
    expect(USAGE).toContain('Exit status: 0 when no check failed, 1 when one did, 2 for a usage error, 3 when no check\n'
      + 'failed but DNS lookups failed so a domain could not be checked, 4 for an internal error.');
  });

  test('--help prints the usage on stdout and exits 0', async () => {
    const result = await runBuilt(['--help']);
    expect(result).toEqual({ status: 0, stdout: `${USAGE}\n`, stderr: '' });
  });

  test('exits 4, an internal error, when it cannot read its own package.json', async () => {
    // GIVEN the compiled command without the package.json it ships beside
    const dir = mkdtempSync(join(tmpdir(), 'cdk-mta-sts-broken-'));
    try {
      for (const sub of ['cli', 'core']) {
        cpSync(join(ROOT, 'lib', sub), join(dir, 'lib', sub), { recursive: true });
      }
      // WHEN
      const child = spawnSync(process.execPath, [join(dir, 'lib', 'cli', 'main.js'), '--version'], { encoding: 'utf8' });
      // THEN
      expect(child.status).toBe(4);
      expect(child.stdout).toBe('');
      expect(child.stderr.split('\n')[0]).toBe(`cdk-mta-sts: internal error: Error: cannot read the package version from ${join(dir, 'package.json')}: `
        + `ENOENT: no such file or directory, open '${join(dir, 'package.json')}'`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('when DNS itself fails, the command says it cannot check, never that the domain is broken', () => {
  beforeAll(buildCommand, 120_000);

  test('exits 3 when the resolver cannot be reached', async () => {
    // GIVEN a resolver address nothing listens on
    const port = await closedPort();
    // WHEN
    const result = await runBuilt(['check', 'example.com', '--resolver', `127.0.0.1:${port}`]);
    // THEN
    expect(result).toEqual({
      status: 3,
      stdout: '',
      stderr: `cdk-mta-sts: cannot check example.com: DNS lookups fail (127.0.0.1:${port} cannot be reached)\n`,
    });
  });

  test('exits 3 when the resolver answers SERVFAIL to everything', async () => {
    const servfail = await startBrokenDns(2);
    try {
      const result = await runBuilt(['check', 'example.com', '--json', '--resolver', servfail.address]);
      expect(result).toEqual({
        status: 3,
        stdout: '',
        stderr: `cdk-mta-sts: cannot check example.com: DNS lookups fail (${servfail.address} answers SERVFAIL)\n`,
      });
    } finally {
      await servfail.close();
    }
  });

  test('exits 3 when every lookup of the domain fails, hinting at its name servers when the resolver answers for its top-level domain', async () => {
    const servfail = await startBrokenDns(2, ['com']);
    try {
      const result = await runBuilt(['check', 'example.com', '--no-smtp', '--resolver', servfail.address]);
      expect(result).toEqual({
        status: 3,
        stdout: '',
        stderr: `cdk-mta-sts: cannot check example.com: DNS lookups fail (${servfail.address} answers SERVFAIL; `
          + 'it answers for the top-level domain com, so the name servers of the domain (or its DNSSEC) may be at fault)\n',
      });
    } finally {
      await servfail.close();
    }
  });

  test('exits 3, within the timeout, when the resolver never answers', async () => {
    const silent = await startBrokenDns();
    try {
      const started = Date.now();
      const result = await runBuilt(['check', 'example.com', '--timeout', '1.5', '--resolver', silent.address]);
      expect(result).toEqual({
        status: 3,
        stdout: '',
        stderr: `cdk-mta-sts: cannot check example.com: DNS lookups fail (no answer from ${silent.address} before the timeout)\n`,
      });
      expect(Date.now() - started).toBeLessThan(4000);
    } finally {
      await silent.close();
    }
  });

  test('exits 3 when every name is NXDOMAIN, even the top-level domain', async () => {
    // GIVEN a resolver that knows no name at all
    dns.zone = new Map();
    // WHEN
    const result = await runBuilt(['check', 'example.com', '--resolver', dns.address]);
    // THEN
    expect(result).toEqual({
      status: 3,
      stdout: '',
      stderr: `cdk-mta-sts: cannot check example.com: DNS lookups fail (${dns.address} answers NXDOMAIN for every name, even the top-level domain com)\n`,
    });
  });

  test('names every domain on one line when they fail the same way, and the JSON lists them as unchecked', async () => {
    const port = await closedPort();
    const result = await runBuilt(['check', 'example.com', 'example.org', '--json', '--resolver', `127.0.0.1:${port}`]);
    const message = `DNS lookups fail (127.0.0.1:${port} cannot be reached)`;
    expect(result.status).toBe(3);
    expect(result.stderr).toBe(`cdk-mta-sts: cannot check example.com, example.org: ${message}\n`);
    expect(JSON.parse(result.stdout)).toEqual({
      ok: false,
      domains: [],
      unchecked: [{ domain: 'example.com', message }, { domain: 'example.org', message }],
    });
  });
});

describe('when DNS works for some names only', () => {
  test('reports a domain that does not exist when the resolver knows its top-level domain', async () => {
    // GIVEN a resolver that knows org but not example.org
    dns.zone = new Map([['org', [{ type: 'TXT', value: 'a top-level domain' }]]]);
    // WHEN
    const { status, stdout, stderr } = await check('example.org', '--timeout', '5', '--no-smtp');
    // THEN the checks speak about the domain, as DNS answered for it
    expect(stderr).toBe('');
    expect(status).toBe(1);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('example.org');
    expect(lines[1]).toBe('  FAIL  sts-record     _mta-sts.example.org: there is no TXT record; senders see no MTA-STS policy (publish "v=STSv1; id=<id>")');
    expect(lines[lines.length - 1]).toBe('  => example.org: not ready: 2 failures, 2 warnings');
  });

  test('reports the domains it could check and exits 3 when one other could not be checked', async () => {
    // GIVEN example.com deployed, and a resolver that knows nothing of example.net or net
    const { status, stdout, stderr } = await check('example.com', 'example.net', '--json', '--timeout', '5', '--no-smtp');
    const message = `DNS lookups fail (${dns.address} answers NXDOMAIN for every name, even the top-level domain net)`;
    expect(stderr).toBe(`cdk-mta-sts: cannot check example.net: ${message}\n`);
    expect(status).toBe(3);
    const result = JSON.parse(stdout) as { ok: boolean; domains: Report[]; unchecked: unknown };
    expect(result.ok).toBe(false);
    expect(result.domains.map(d => [d.domain, d.ok, d.verdict])).toEqual([['example.com', true, 'enforced']]);
    expect(result.unchecked).toEqual([{ domain: 'example.net', message }]);
  });

  test('exits 1, not 3, when a domain it could check failed', async () => {
    dns.zone.delete('_mta-sts.example.com');
    const { status, stdout, stderr } = await check('example.com', 'example.net', '--timeout', '5', '--no-smtp');
    expect(status).toBe(1);
    expect(stderr).toBe(`cdk-mta-sts: cannot check example.net: DNS lookups fail (${dns.address} answers NXDOMAIN for every name, even the top-level domain net)\n`);
    expect(stdout.trimEnd().split('\n').slice(-1)).toEqual(['  => example.com: not ready: 1 failure']);
  });
});
