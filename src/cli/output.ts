import type { DomainReport } from './checks';

const WIDTH = Math.max(...['sts-record', 'policy-host', 'policy-fetch', 'policy-syntax', 'policy-id', 'mx-coverage', 'mx-tls', 'tls-rpt', 'tls-rpt-rua', 'advice'].map(id => id.length));

/** The report for a person: a header per domain, one line per check, a verdict line. */
export function formatHuman(reports: DomainReport[]): string {
  return reports.map(report => {
    const head = `${report.domain}${report.mode ? `  mode ${report.mode}` : ''}${report.policyId ? `  id ${report.policyId}` : ''}`;
    const lines = report.checks.map(check => `  ${check.status.toUpperCase().padEnd(4)}  ${check.id.padEnd(WIDTH)}  ${check.message}`);
    return [head, ...lines, `  => ${report.domain}: ${report.verdict}`].join('\n');
  }).join('\n\n') + '\n';
}

/** A domain that could not be checked, and why (`DNS lookups fail (...)`). */
export interface Unchecked {
  readonly domain: string;
  readonly message: string;
}

/**
 * The report as one JSON object: the domain's for one domain, `{ ok, domains }` otherwise, with
 * `unchecked: [{ domain, message }]` when a domain could not be checked (then `ok` is false).
 */
export function formatJson(reports: DomainReport[], single: boolean, unchecked: Unchecked[] = []): string {
  const shape = (r: DomainReport) => ({
    domain: r.domain,
    ok: r.ok,
    mode: r.mode,
    policyId: r.policyId,
    verdict: r.verdict,
    checks: r.checks.map(c => ({ id: c.id, status: c.status, message: c.message, ...(c.host !== undefined ? { host: c.host } : {}) })),
  });
  const value = single && reports.length === 1
    ? shape(reports[0])
    : {
      ok: reports.every(r => r.ok) && unchecked.length === 0,
      domains: reports.map(shape),
      ...(unchecked.length > 0 ? { unchecked: unchecked.map(u => ({ domain: u.domain, message: u.message })) } : {}),
    };
  return JSON.stringify(value, undefined, 2) + '\n';
}
