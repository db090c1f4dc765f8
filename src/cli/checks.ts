import { describeDnsError, DnsClient, MxRecord } from './dns';
import { fetchPolicy, PolicyFetch } from './https';
import { probeSmtp, SmtpProbe } from './smtp';
import { contentIdOf, contentIdPartOf } from '../core/policy-id';
import { matchingMxPattern, parsePolicyText, ParsedPolicy } from '../core/policy-text';
import { isStsRecordCandidate, parseStsRecord } from '../core/sts-record';
import { isTlsRptRecordCandidate, parseTlsRptRecord } from '../core/tls-rpt-record';

/** The status of one check. */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

/** One check's outcome. */
export interface CheckResult {
  /** `sts-record`, `policy-host`, `policy-fetch`, `policy-syntax`, `policy-id`, `mx-coverage`, `mx-tls`, `tls-rpt`, `tls-rpt-rua` or `advice`. */
  readonly id: string;
  readonly status: CheckStatus;
  readonly message: string;
  /** The MX host, for `mx-tls` (one check per MX host). */
  readonly host?: string;
}

/** Everything checked for one policy domain. */
export interface DomainReport {
  readonly domain: string;
  /** False exactly when a check failed (or, with `strict`, warned). */
  readonly ok: boolean;
  /** The live policy's mode, when it parsed. */
  readonly mode: string | null;
  /** The live `_mta-sts` id, when the record parsed. */
  readonly policyId: string | null;
  readonly checks: CheckResult[];
  /** One line: `enforced`, `ready to enforce`, `not ready: 2 failures`... */
  readonly verdict: string;
}

/** What a cloud assembly says was deployed for a domain. */
export interface ExpectedPolicy {
  readonly contentId: string;
  readonly policyText: string;
  readonly tlsRptRecordValue?: string;
}

/** How to check. */
export interface CheckOptions {
  /** Epoch milliseconds by which every check has finished. */
  readonly deadline: number;
  /** `ip`, `ip:port` or `[ipv6]:port`; the system resolver when absent. */
  readonly resolver?: string;
  /** Probe each MX over SMTP (default true). */
  readonly smtp?: boolean;
  /** The id the live record must carry (`--expect-id`). */
  readonly expectId?: string;
  /** What was synthesized (`--assembly`). */
  readonly expected?: ExpectedPolicy;
  /** Warnings count as failures (`--strict`). */
  readonly strict?: boolean;
  /** Trusted roots instead of Node's defaults: for tests only. */
  readonly ca?: string | Buffer;
  /** Port of the policy host: for tests only (senders use 443). */
  readonly httpsPort?: number;
  /** SMTP port of the MX hosts: for tests only (senders use 25). */
  readonly smtpPort?: number;
}

const WELL_KNOWN_PATH = '/.well-known/mta-sts.txt';
const ONE_DAY = 86_400;

/** Checks one policy domain the way a sending MTA would, plus the operator's usual mistakes. */
export async function checkDomain(domain: string, options: CheckOptions, dns: DnsClient): Promise<DomainReport> {
  const policyHost = `mta-sts.${domain}`;
  const stsP = checkStsRecord(domain, dns);
  const hostP = dns.addresses(policyHost);
  const fetchP: Promise<PolicyFetch | undefined> = hostP.then(answer => answer.records.length === 0
    ? undefined
    : fetchPolicy({
      host: policyHost,
      address: preferIpv4(answer.records),
      port: options.httpsPort ?? 443,
      path: WELL_KNOWN_PATH,
      deadline: options.deadline,
      ca: options.ca,
    }));
  const mxP = dns.mx(domain);
  const smtpP: Promise<Map<string, SmtpProbe> | undefined> = options.smtp === false ? Promise.resolve(undefined) : mxP.then(async answer => {
    const hosts = liveMxHosts(answer.records);
    const probes = await Promise.all(hosts.map(host => probeHost(host, options, dns)));
    return new Map(hosts.map((host, i) => [host, probes[i]]));
  });
  const tlsRptP = checkTlsRpt(domain, dns, options.expected);

  const checks: CheckResult[] = [];
  const sts = await stsP;
  checks.push(sts.check);

  const hostAnswer = await hostP;
  checks.push(hostAnswer.records.length > 0
    ? pass('policy-host', `${policyHost} resolves to ${hostAnswer.records.join(', ')}`)
    : fail('policy-host', `${policyHost} does not resolve: ${describeDnsError(hostAnswer.error)}; senders cannot fetch the policy (add A/AAAA records for it)`));

  const fetched = await fetchP;
  const policyUrl = `https://${policyHost}${WELL_KNOWN_PATH}`;
  const fetchCheck = checkFetch(policyUrl, fetched);
  checks.push(fetchCheck.check);

  let policy: ParsedPolicy | undefined;
  if (fetchCheck.body === undefined) {
    checks.push(skip('policy-syntax', 'no policy file to parse'));
  } else {
    const parsed = parsePolicyText(fetchCheck.body.toString('utf8'));
    policy = parsed.policy;
    if (parsed.errors.length > 0) {
      checks.push(fail('policy-syntax', `the policy file is invalid, so senders ignore it: ${parsed.errors.join('; ')}`));
    } else if (parsed.warnings.length > 0) {
      checks.push(warn('policy-syntax', `${describePolicy(policy!)}; but ${parsed.warnings.join('; ')}`));
    } else {
      checks.push(pass('policy-syntax', describePolicy(policy!)));
    }
  }

  checks.push(checkId(sts.id, fetchCheck.body, options));

  const mxAnswer = await mxP;
  checks.push(checkCoverage(domain, mxAnswer, policy));

  const probes = await smtpP;
  checks.push(...checkSmtp(mxAnswer.records, probes, policy, options.smtp !== false));

  const tlsRpt = await tlsRptP;
  checks.push(...tlsRpt.checks);

  checks.push(...advice(policy, tlsRpt.present));

  const failures = checks.filter(c => c.status === 'fail').length;
  const warnings = checks.filter(c => c.status === 'warn').length;
  const ok = failures === 0 && !(options.strict && warnings > 0);
  return {
    domain,
    ok,
    mode: policy?.mode ?? null,
    policyId: sts.id ?? null,
    checks,
    verdict: verdictOf(checks, policy, options.strict === true),
  };
}

function pass(id: string, message: string): CheckResult {
  return { id, status: 'pass', message };
}
function warn(id: string, message: string): CheckResult {
  return { id, status: 'warn', message };
}
function fail(id: string, message: string): CheckResult {
  return { id, status: 'fail', message };
}
function skip(id: string, message: string): CheckResult {
  return { id, status: 'skip', message };
}

function preferIpv4(addresses: string[]): string {
  return addresses.find(a => !a.includes(':')) ?? addresses[0];
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

async function checkStsRecord(domain: string, dns: DnsClient): Promise<{ check: CheckResult; id?: string }> {
  const name = `_mta-sts.${domain}`;
  const answer = await dns.txt(name);
  const via = answer.via ? ` (through CNAME ${answer.via.join(' -> ')})` : '';
  if (answer.records.length === 0) {
    const reason = answer.error === 'NODATA' || answer.error === 'NXDOMAIN' ? 'there is no TXT record' : describeDnsError(answer.error);
    return { check: fail('sts-record', `${name}${via}: ${reason}; senders see no MTA-STS policy (publish "v=STSv1; id=<id>")`) };
  }
  const candidates = answer.records.filter(isStsRecordCandidate);
  const others = answer.records.filter(r => !isStsRecordCandidate(r));
  const discarded = others.length > 0 ? `${plural(others.length, 'other TXT record')} there (${others.map(r => JSON.stringify(r)).join(', ')}) ${others.length === 1 ? 'is' : 'are'} discarded by senders` : '';
  if (candidates.length === 0) {
    return { check: fail('sts-record', `${name}${via}: no TXT record begins with "v=STSv1" (case-sensitive); ${discarded}; senders see no policy`) };
  }
  if (candidates.length > 1) {
    return { check: fail('sts-record', `${name}${via}: ${candidates.length} records begin with "v=STSv1" (${candidates.map(r => JSON.stringify(r)).join(', ')}); RFC 8461 §3.1 treats that as no policy at all: keep exactly one`) };
  }
  const parsed = parseStsRecord(candidates[0]);
  if (!parsed.record) {
    return { check: fail('sts-record', `${name}${via}: ${JSON.stringify(candidates[0])} is invalid, so senders ignore the policy: ${parsed.errors.join('; ')}`) };
  }
  const id = parsed.record.id;
  if (discarded) {
    return { check: warn('sts-record', `${name}${via}: "${candidates[0]}"; but ${discarded}: remove ${others.length === 1 ? 'it' : 'them'}`), id };
  }
  return { check: pass('sts-record', `${name}${via}: "${candidates[0]}"`), id };
}

function checkFetch(url: string, fetched: PolicyFetch | undefined): { check: CheckResult; body?: Buffer } {
  if (fetched === undefined) {
    return { check: skip('policy-fetch', `${url}: the policy host does not resolve`) };
  }
  if (fetched.error !== undefined) {
    return { check: fail('policy-fetch', `${url}: ${fetched.error}; senders treat that as no policy`) };
  }
  const status = fetched.status!;
  if (status >= 300 && status < 400) {
    return { check: fail('policy-fetch', `${url}: HTTP ${status} redirect${fetched.location ? ` to ${fetched.location}` : ''}; senders must not follow redirects (RFC 8461 §3.3): serve the file at this URL with status 200`) };
  }
  if (status !== 200) {
    return { check: fail('policy-fetch', `${url}: HTTP ${status}, expected 200`) };
  }
  const mediaType = (fetched.contentType ?? '').split(';')[0].trim().toLowerCase();
  if (mediaType !== 'text/plain') {
    return { check: fail('policy-fetch', `${url}: media type ${fetched.contentType ? JSON.stringify(fetched.contentType) : 'missing'}, expected text/plain (RFC 8461 §3.2)`) };
  }
  if (fetched.oversized || fetched.body === undefined) {
    return { check: fail('policy-fetch', `${url}: the body is over 65536 bytes; senders stop reading there (RFC 8461 §3.3)`) };
  }
  return {
    check: pass('policy-fetch', `${url}: HTTP 200, ${fetched.contentType}, ${fetched.body.length} bytes, ${fetched.tlsProtocol ?? 'TLS'} with a certificate valid for the host`),
    body: fetched.body,
  };
}

function describePolicy(policy: ParsedPolicy): string {
  const mx = policy.mx.length > 0 ? `mx ${policy.mx.join(', ')}` : 'no mx';
  return `mode ${policy.mode}, ${mx}, max_age ${policy.maxAgeSeconds} (${describeSeconds(policy.maxAgeSeconds)})`;
}

function describeSeconds(seconds: number): string {
  if (seconds >= ONE_DAY && seconds % ONE_DAY === 0) {
    return plural(seconds / ONE_DAY, 'day');
  }
  if (seconds >= 3600 && seconds % 3600 === 0) {
    return plural(seconds / 3600, 'hour');
  }
  return plural(seconds, 'second');
}

function checkId(id: string | undefined, body: Buffer | undefined, options: CheckOptions): CheckResult {
  if (id === undefined) {
    return skip('policy-id', 'no valid _mta-sts record, so no id to compare');
  }
  if (options.expectId !== undefined) {
    return id === options.expectId
      ? pass('policy-id', `the live id is ${id}, as expected`)
      : fail('policy-id', `the live id is ${id}, expected ${options.expectId}: the deployment has not reached DNS yet, or another one replaced it`);
  }
  if (options.expected !== undefined) {
    const problems: string[] = [];
    const live = contentIdPartOf(id);
    if (live !== options.expected.contentId) {
      problems.push(live === undefined
        ? `the live id ${id} was not made by cdk-mta-sts for this policy (expected an id beginning ${options.expected.contentId})`
        : `the live id ${id} announces policy content ${live}, but the assembly's policy is ${options.expected.contentId}`);
    }
    if (body === undefined) {
      problems.push('the live policy text could not be compared (not fetched)');
    } else if (!body.equals(Buffer.from(options.expected.policyText, 'utf8'))) {
      problems.push(`the live policy text (content ${contentIdOf(body.toString('utf8'))}) differs from the synthesized one (${options.expected.contentId})`);
    }
    return problems.length === 0
      ? pass('policy-id', `the live id ${id} and the live policy text match what was synthesized (content ${options.expected.contentId})`)
      : fail('policy-id', `${problems.join('; ')}: deploy the assembly, or check what else publishes this domain`);
  }
  const part = contentIdPartOf(id);
  if (part === undefined || body === undefined) {
    return pass('policy-id', `the live id is ${id}${part === undefined ? '' : ` (content ${part}; the policy text was not fetched to compare)`}`);
  }
  const served = contentIdOf(body.toString('utf8'));
  return part === served
    ? pass('policy-id', `the live id is ${id}; its content part matches the served policy text (cdk-mta-sts id scheme)`)
    : warn('policy-id', `the live id is ${id}, whose content part ${part} does not match the served policy text (${served}): the file changed without a new id, so senders keep the old policy until max_age runs out; publish a new id`);
}

/** The MX hosts to check: not the null MX. */
function liveMxHosts(records: MxRecord[]): string[] {
  return [...new Set(records.map(r => r.exchange.toLowerCase().replace(/\.$/, '')).filter(h => h !== ''))];
}

function checkCoverage(domain: string, answer: { records: MxRecord[]; error?: string }, policy: ParsedPolicy | undefined): CheckResult {
  if (answer.records.length === 0) {
    return warn('mx-coverage', `${domain} has no MX records (${describeDnsError(answer.error)}); MTA-STS protects mail to MX hosts only`);
  }
  const hosts = liveMxHosts(answer.records);
  if (hosts.length === 0) {
    return warn('mx-coverage', `${domain} publishes a null MX: it accepts no mail, so a policy protects nothing`);
  }
  if (policy === undefined) {
    return skip('mx-coverage', `MX ${hosts.join(', ')}: no valid policy to match them against`);
  }
  if (policy.mode === 'none') {
    return skip('mx-coverage', `MX ${hosts.join(', ')}: mode none, senders apply no MX list`);
  }
  const uncovered = hosts.filter(h => matchingMxPattern(policy.mx, h) === undefined);
  if (uncovered.length === 0) {
    return pass('mx-coverage', `every MX is covered: ${hosts.map(h => `${h} by ${matchingMxPattern(policy.mx, h)}`).join(', ')}`);
  }
  const what = `${plural(uncovered.length, 'MX host')} not covered by the policy's mx list (${policy.mx.join(', ')}): ${uncovered.join(', ')} (a "*." pattern covers exactly one leftmost label, RFC 8461 §4.1)`;
  return policy.mode === 'enforce'
    ? fail('mx-coverage', `${what}; in enforce mode senders will not deliver to ${uncovered.length === 1 ? 'it' : 'them'}: add ${uncovered.length === 1 ? 'it' : 'them'} to mx`)
    : warn('mx-coverage', `${what}; add ${uncovered.length === 1 ? 'it' : 'them'} to mx before enforcing`);
}

async function probeHost(host: string, options: CheckOptions, dns: DnsClient): Promise<SmtpProbe> {
  const answer = await dns.addresses(host);
  if (answer.records.length === 0) {
    return { outcome: 'unreachable', detail: `${host} does not resolve (${describeDnsError(answer.error)})` };
  }
  return probeSmtp({ host, address: preferIpv4(answer.records), port: options.smtpPort ?? 25, deadline: options.deadline, ca: options.ca });
}

function checkSmtp(
  records: MxRecord[], probes: Map<string, SmtpProbe> | undefined, policy: ParsedPolicy | undefined, enabled: boolean,
): CheckResult[] {
  const hosts = liveMxHosts(records);
  if (hosts.length === 0) {
    return [skip('mx-tls', 'no MX host to connect to')];
  }
  if (!enabled || probes === undefined) {
    return [skip('mx-tls', `not checked (--no-smtp): ${hosts.join(', ')}`)];
  }
  return hosts.map(host => {
    const probe = probes.get(host)!;
    const result = (status: CheckStatus, message: string): CheckResult => ({ id: 'mx-tls', status, message, host });
    if (probe.outcome === 'ok') {
      return result('pass', probe.detail);
    }
    if (probe.outcome === 'unreachable') {
      return result('warn', `${probe.detail}; not checked: outgoing port 25 is blocked on many networks and CI runners, so run this from a host that can send mail (or pass --no-smtp)`);
    }
    if (policy?.mode === 'none') {
      return result('skip', `${probe.detail} (mode none: senders apply no policy)`);
    }
    if (policy?.mode === 'enforce') {
      return result('fail', `${probe.detail}; in enforce mode senders will not deliver to it`);
    }
    return result('warn', `${probe.detail}; fix it before enforcing`);
  });
}

async function checkTlsRpt(
  domain: string, dns: DnsClient, expected: ExpectedPolicy | undefined,
): Promise<{ checks: CheckResult[]; present: boolean }> {
  const name = `_smtp._tls.${domain}`;
  const answer = await dns.txt(name);
  const candidates = answer.records.filter(isTlsRptRecordCandidate);
  const via = answer.via ? ` (through CNAME ${answer.via.join(' -> ')})` : '';
  if (candidates.length === 0) {
    const lookup = answer.records.length === 0 && answer.error !== 'NODATA' && answer.error !== 'NXDOMAIN' && answer.error !== undefined
      ? `: ${describeDnsError(answer.error)}` : '';
    const status = expected?.tlsRptRecordValue !== undefined ? fail : warn;
    return {
      checks: [
        status('tls-rpt', `${name}${via}: no record beginning "v=TLSRPTv1"${lookup}; TLS failures would go unreported${expected?.tlsRptRecordValue !== undefined ? ` (the assembly publishes "${expected.tlsRptRecordValue}")` : ' (add a tlsRpt rua)'}`),
        skip('tls-rpt-rua', 'no TLS-RPT record'),
      ],
      present: false,
    };
  }
  if (candidates.length > 1) {
    return { checks: [fail('tls-rpt', `${name}${via}: ${candidates.length} records begin with "v=TLSRPTv1"; senders need exactly one (RFC 8460 §3)`), skip('tls-rpt-rua', 'no single TLS-RPT record')], present: false };
  }
  const parsed = parseTlsRptRecord(candidates[0]);
  if (!parsed.record) {
    return { checks: [fail('tls-rpt', `${name}${via}: ${JSON.stringify(candidates[0])} is invalid: ${parsed.errors.join('; ')}`), skip('tls-rpt-rua', 'no valid TLS-RPT record')], present: false };
  }
  const checks: CheckResult[] = [];
  if (expected?.tlsRptRecordValue !== undefined && candidates[0] !== expected.tlsRptRecordValue) {
    checks.push(fail('tls-rpt', `${name}${via}: "${candidates[0]}" differs from the synthesized "${expected.tlsRptRecordValue}"`));
  } else {
    checks.push(pass('tls-rpt', `${name}${via}: "${candidates[0]}"`));
  }
  const rua = parsed.record.rua;
  const reachable = await Promise.all(rua.map(uri => ruaReachable(uri, dns)));
  const problems = reachable.filter((p): p is string => p !== undefined);
  const several = rua.length > 1 ? '; note that some senders report only to the first URI' : '';
  checks.push(problems.length > 0
    ? warn('tls-rpt-rua', `${problems.join('; ')}: reports sent there would be lost${several}`)
    : pass('tls-rpt-rua', `${plural(rua.length, 'report destination')} can receive reports${several}`));
  return { checks, present: true };
}

async function ruaReachable(uri: string, dns: DnsClient): Promise<string | undefined> {
  if (/^mailto:/i.test(uri)) {
    const domain = decodeURIComponent(uri.slice(uri.lastIndexOf('@') + 1)).toLowerCase();
    const mx = await dns.mx(domain);
    if (liveMxHosts(mx.records).length > 0) {
      return undefined;
    }
    if (mx.records.length > 0) {
      return `${uri}: ${domain} publishes a null MX and accepts no mail`;
    }
    const addresses = await dns.addresses(domain);
    return addresses.records.length > 0 ? undefined : `${uri}: ${domain} has no MX or address records`;
  }
  const host = /^https:\/\/([^/?#:]+)/i.exec(uri)?.[1]?.toLowerCase();
  if (host === undefined) {
    return `${uri}: no host`;
  }
  const addresses = await dns.addresses(host);
  return addresses.records.length > 0 ? undefined : `${uri}: ${host} does not resolve (${describeDnsError(addresses.error)})`;
}

function advice(policy: ParsedPolicy | undefined, tlsRpt: boolean): CheckResult[] {
  if (policy === undefined) {
    return [skip('advice', 'no valid policy to advise on')];
  }
  const out: CheckResult[] = [];
  if (policy.mode === 'enforce' && policy.maxAgeSeconds < ONE_DAY) {
    out.push(warn('advice', `max_age is ${policy.maxAgeSeconds} s, under a day, in enforce mode: senders re-fetch often and an attacker who blocks the fetch meets no policy; use weeks (RFC 8461 §3.2 suggests them)`));
  }
  if (policy.mode === 'testing' && !tlsRpt) {
    out.push(warn('advice', 'mode testing without a TLS-RPT record: testing only reports failures, and there is nowhere to report them; add tlsRpt before relying on testing'));
  }
  if (policy.mode === 'none') {
    out.push(pass('advice', 'mode none withdraws the policy: keep it published for at least the previous max_age, then remove the records (senders keep a cached policy until it expires)'));
  }
  return out.length > 0 ? out : [pass('advice', 'nothing to add')];
}

function verdictOf(checks: CheckResult[], policy: ParsedPolicy | undefined, strict: boolean): string {
  const failures = checks.filter(c => c.status === 'fail').length;
  const warnings = checks.filter(c => c.status === 'warn').length;
  if (failures > 0) {
    return `not ready: ${plural(failures, 'failure')}${warnings > 0 ? `, ${plural(warnings, 'warning')}` : ''}`;
  }
  if (strict && warnings > 0) {
    return `not ready: ${plural(warnings, 'warning')} (--strict counts them as failures)`;
  }
  const andWarnings = warnings > 0 ? ` (${plural(warnings, 'warning')})` : '';
  if (policy?.mode === 'enforce') {
    return `enforced${andWarnings}`;
  }
  if (policy?.mode === 'none') {
    return `policy withdrawn (mode none)${andWarnings}`;
  }
  const uncovered = checks.some(c => c.id === 'mx-coverage' && c.status === 'warn' && !c.message.includes('no MX') && !c.message.includes('null MX'));
  const badTls = checks.filter(c => c.id === 'mx-tls' && c.status === 'warn' && !c.message.includes('not checked:')).length;
  const blockers: string[] = [];
  if (uncovered) {
    blockers.push('an MX host is not covered by the policy');
  }
  if (badTls > 0) {
    blockers.push(`${plural(badTls, 'MX host')} without valid TLS`);
  }
  if (blockers.length > 0) {
    return `not ready to enforce: ${blockers.join(', ')}`;
  }
  const unverified = checks.some(c => c.id === 'mx-tls' && (c.status === 'skip' || c.message.includes('not checked:')));
  return `ready to enforce${unverified ? ', but MX TLS was not verified from here' : ''}${andWarnings}`;
}
