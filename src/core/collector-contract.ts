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
 * - `FailedSessions` by `PolicyDomain` and `ResultType` (summed `failed-session-count`);
 * - `Reports` by `Outcome` (`stored`, `duplicate`, `unconfigured`);
 * - `Messages` by `Outcome` (`accepted`, `quarantined`, `rejected`), with the reason as a property.
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
  rejected: 'rejected',
  stored: 'stored',
  duplicate: 'duplicate',
  unconfigured: 'unconfigured',
} as const;
