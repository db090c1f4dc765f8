import { PolicyReport } from '../../core/tlsrpt-report';

/**
 * CloudWatch embedded metric format (EMF): one JSON log line per data point set, turned into
 * metrics by CloudWatch Logs, so no PutMetricData call per report.
 *
 * Metric names and dimensions are the contract with the construct's dashboard and alarms:
 * - `SuccessfulSessions`, `FailedSessions`, `Reports` by `PolicyDomain` (configured domains only);
 * - `FailedSessions` by `PolicyDomain` and `ResultType` (summed `failed-session-count`);
 * - `Reports` by `Outcome` (`stored`, `duplicate`, `unconfigured`);
 * - `Messages` by `Outcome` (`accepted`, `quarantined`, `rejected`), with the reason as a property.
 *
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
export const METRIC = {
  successfulSessions: 'SuccessfulSessions',
  failedSessions: 'FailedSessions',
  reports: 'Reports',
  messages: 'Messages',
} as const;

/** Outcome dimension values. */
export const OUTCOME = {
  accepted: 'accepted',
  quarantined: 'quarantined',
  rejected: 'rejected',
  stored: 'stored',
  duplicate: 'duplicate',
  unconfigured: 'unconfigured',
} as const;

/** Writes EMF lines to a log function. */
export class MetricsLog {
  constructor(private readonly namespace: string, private readonly log: (line: string) => void) {}

  /** The session counts of one stored report, by domain and by result type. */
  public sessions(report: PolicyReport): void {
    this.emit(['PolicyDomain'], { PolicyDomain: report.policy_domain }, {
      [METRIC.successfulSessions]: report.total_successful_session_count,
      [METRIC.failedSessions]: report.total_failure_session_count,
      [METRIC.reports]: 1,
    }, { ReportId: report.report_id, OrganizationName: report.organization_name });
    const byType = new Map<string, number>();
    for (const detail of report.failure_details) {
      byType.set(detail.result_type, (byType.get(detail.result_type) ?? 0) + detail.failed_session_count);
    }
    for (const [resultType, count] of [...byType.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      this.emit(['PolicyDomain', 'ResultType'], { PolicyDomain: report.policy_domain, ResultType: resultType }, {
        [METRIC.failedSessions]: count,
      });
    }
  }

  /** One report object's outcome. */
  public report(outcome: string): void {
    this.emit(['Outcome'], { Outcome: outcome }, { [METRIC.reports]: 1 });
  }

  /** One message's outcome. */
  public message(outcome: string, reason?: string): void {
    this.emit(['Outcome'], { Outcome: outcome }, { [METRIC.messages]: 1 }, reason ? { Reason: reason } : {});
  }

  private emit(
    dimensions: string[], dimensionValues: Record<string, string>, values: Record<string, number>, properties: Record<string, unknown> = {},
  ): void {
    this.log(JSON.stringify({
      _aws: {
        Timestamp: Date.now(),
        CloudWatchMetrics: [{
          Namespace: this.namespace,
          Dimensions: [dimensions],
          Metrics: Object.keys(values).map(name => ({ Name: name, Unit: 'Count' })),
        }],
      },
      ...properties,
      ...dimensionValues,
      ...values,
    }));
  }
}
