/**
 * The contract between the TlsRptCollector construct and its Lambda handlers: the names of the
 * processor's environment variables, the file that carries the configured policy domains, and
 * the CloudWatch metric names, dimensions and outcomes the handler writes and the construct's
 * dashboard, alarm and `metricXxx` methods read. Both sides import this module.
 *
 * Pure: no aws-cdk-lib, no AWS SDK.
 */

/** The processor's environment variables, by setting. */
export const COLLECTOR_ENVIRONMENT = {
  /** The collector bucket. */
  bucket: 'TLSRPT_BUCKET',
  /** The CloudWatch namespace of the metrics. */
  metricNamespace: 'TLSRPT_METRIC_NAMESPACE',
  /** The largest raw message processed, in bytes. */
  maxMessageBytes: 'TLSRPT_MAX_MESSAGE_BYTES',
  /** The largest decompressed report processed, in bytes. */
  maxReportBytes: 'TLSRPT_MAX_REPORT_BYTES',
} as const;

/**
 * Environment variables of the HTTPS processor only (RFC 8460 §5.4 reception), by setting.
 */
export const COLLECTOR_HTTPS_ENVIRONMENT = {
  /**
   * `true` when reports POSTed over HTTPS count like DKIM-verified mail reports (metrics, alarms,
   * the query table); anything else keeps them apart, under the `https/` prefix, uncounted.
   */
  countReports: 'TLSRPT_COUNT_HTTPS_REPORTS',
} as const;

/** The processor's settings, each the string its environment variable holds. */
export type CollectorSettings = { readonly [K in keyof typeof COLLECTOR_ENVIRONMENT]: string };

/** The Lambda environment holding `settings`. */
export function collectorEnvironment(settings: CollectorSettings): Record<string, string> {
  const keys = Object.keys(COLLECTOR_ENVIRONMENT) as Array<keyof typeof COLLECTOR_ENVIRONMENT>;
  return Object.fromEntries(keys.map(key => [COLLECTOR_ENVIRONMENT[key], settings[key]]));
}

/**
 * The file, beside the handler's `index.js` in the processors' code asset, that lists the
 * configured policy domains and their modes. The construct writes it at synthesis into a
 * content-addressed asset (the same domains give the same asset hash), so the list has no size
 * limit (a Lambda environment holds 4 KB) and changes with the function's code, atomically, at
 * deploy.
 */
export const COLLECTOR_POLICY_DOMAINS_FILE = 'policy-domains.json';

/** The format version of COLLECTOR_POLICY_DOMAINS_FILE. */
export const COLLECTOR_POLICY_DOMAINS_VERSION = 1;

/** The MTA-STS modes a configured domain can have (the values of the `Mode` dimension). */
export const COLLECTOR_MODES = ['enforce', 'testing', 'none'] as const;

/**
 * The content of COLLECTOR_POLICY_DOMAINS_FILE: `{"version":1,"policyDomains":{"<domain>":"<mode>",...}}`,
 * normalised domain names sorted, one mode each (`enforce`, `testing` or `none`).
 */
export interface PolicyDomainsFile {
  readonly version: typeof COLLECTOR_POLICY_DOMAINS_VERSION;
  readonly policyDomains: Readonly<Record<string, string>>;
}

/** The text of COLLECTOR_POLICY_DOMAINS_FILE for these domains and modes: sorted, so the same domains give the same bytes. */
export function renderPolicyDomainsFile(domains: ReadonlyMap<string, string>): string {
  const sorted = [...domains.keys()].sort();
  const file: PolicyDomainsFile = {
    version: COLLECTOR_POLICY_DOMAINS_VERSION,
    policyDomains: Object.fromEntries(sorted.map(domain => [domain, domains.get(domain)!])),
  };
  return `${JSON.stringify(file)}\n`;
}

/**
 * The domains and modes of a COLLECTOR_POLICY_DOMAINS_FILE text.
 *
 * @throws Error naming what is wrong when the text is not such a file
 */
export function parsePolicyDomainsFile(text: string): Map<string, string> {
  let file: unknown;
  try {
    file = JSON.parse(text);
  } catch (error) {
    throw new Error(`${COLLECTOR_POLICY_DOMAINS_FILE} must be JSON, got: ${(error as Error).message}`);
  }
  const { version, policyDomains } = (file ?? {}) as Partial<PolicyDomainsFile>;
  if (version !== COLLECTOR_POLICY_DOMAINS_VERSION || typeof policyDomains !== 'object' || policyDomains === null || Array.isArray(policyDomains)) {
    throw new Error(`${COLLECTOR_POLICY_DOMAINS_FILE} must be {"version":${COLLECTOR_POLICY_DOMAINS_VERSION},"policyDomains":{...}}, `
      + `got: version ${JSON.stringify(version)}`);
  }
  const domains = new Map<string, string>();
  for (const [domain, mode] of Object.entries(policyDomains)) {
    if (!(COLLECTOR_MODES as readonly unknown[]).includes(mode)) {
      throw new Error(`${COLLECTOR_POLICY_DOMAINS_FILE}: the mode of ${domain} must be one of ${COLLECTOR_MODES.join(', ')}, got: ${JSON.stringify(mode)}`);
    }
    domains.set(domain, mode);
  }
  return domains;
}

/**
 * Metric names and dimensions (embedded metric format lines written by the handler):
 * - `SuccessfulSessions`, `FailedSessions`, `Reports` by `PolicyDomain`, and the same three by
 *   `Mode` (the domain's MTA-STS mode when the report was counted: `enforce`, `testing`, `none`),
 *   configured domains only;
 * - `FailedSessions` by `PolicyDomain` and `ResultType` (summed `failed-session-count`; `ResultType`
 *   is one of RFC 8460's result types or `other`, and the counts of a report never add up to more
 *   than its summary's failures: see core/tlsrpt-report.ts `failedSessionsByResultType`);
 * - `Reports` by `Outcome` (`stored`, `duplicate`, `unconfigured`, `uncounted`, and `rejected` for
 *   a policy of a report that could not be read, kept aside);
 * - `Messages` by `Outcome` (`accepted`, `quarantined`, `rejected`), with the reason as a property:
 *   once per message, by the delivery that wrote its note (quarantined, rejected) or its first
 *   policy's report (accepted); retries and concurrent deliveries add nothing.
 */
export const COLLECTOR_METRICS = {
  successfulSessions: 'SuccessfulSessions',
  failedSessions: 'FailedSessions',
  reports: 'Reports',
  messages: 'Messages',
  policyDomain: 'PolicyDomain',
  mode: 'Mode',
  resultType: 'ResultType',
  outcome: 'Outcome',
} as const;

/** Values of the `Outcome` dimension. */
export const COLLECTOR_OUTCOMES = {
  accepted: 'accepted',
  quarantined: 'quarantined',
  /** A message that is not a usable report (`Messages`), or a policy of a report that cannot be read (`Reports`). */
  rejected: 'rejected',
  stored: 'stored',
  duplicate: 'duplicate',
  unconfigured: 'unconfigured',
  /** A report POSTed over HTTPS for a configured domain, kept under `https/` and not counted (`countHttpsReports` off). */
  uncounted: 'uncounted',
} as const;
