/**
 * The contract between the TlsRptCollector construct and its Lambda handlers: the names of the
 * processor's environment variables, and the CloudWatch metric names, dimensions and outcomes the
 * handler writes and the construct's dashboard and alarms read. Both sides import this module.
 *
 * Pure: no aws-cdk-lib, no AWS SDK.
 */

/** The processor's environment variables, by setting. */
export const COLLECTOR_ENVIRONMENT = {
  /** The collector bucket. */
  bucket: 'TLSRPT_BUCKET',
  /** The configured policy domains, comma-separated. */
  policyDomains: 'TLSRPT_POLICY_DOMAINS',
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
 * Metric names and dimensions (embedded metric format lines written by the handler):
 * - `SuccessfulSessions`, `FailedSessions`, `Reports` by `PolicyDomain` (configured domains only);
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
