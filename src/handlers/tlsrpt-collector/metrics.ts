import { COLLECTOR_METRICS, COLLECTOR_OUTCOMES } from '../../core/collector-contract';
import { PolicyReport, failedSessionsByResultType } from '../../core/tlsrpt-report';

/**
 * CloudWatch embedded metric format (EMF): one JSON log line per data point set, turned into
 * metrics by CloudWatch Logs, so no PutMetricData call per report.
 *
 * Metric names and dimensions are the contract with the construct's dashboard and alarms
 * (core/collector-contract.ts).
 *
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
export const OUTCOME = COLLECTOR_OUTCOMES;

/** Writes EMF lines to a log function. */
export class MetricsLog {
  constructor(private readonly namespace: string, private readonly log: (line: string) => void) {}

  /**
   * The session counts of one stored policy report: by domain and by the domain's mode (the
   * summary's counts, one line with two dimension sets), and failed sessions by domain and result
   * type. Result types are RFC 8460's or `other`, and never add up to more than the summary's
   * failures (see `failedSessionsByResultType`).
   */
  public sessions(report: PolicyReport, mode: string): void {
    this.emit([[COLLECTOR_METRICS.policyDomain], [COLLECTOR_METRICS.mode]], {
      [COLLECTOR_METRICS.policyDomain]: report.policy_domain, [COLLECTOR_METRICS.mode]: mode,
    }, {
      [COLLECTOR_METRICS.successfulSessions]: report.total_successful_session_count,
      [COLLECTOR_METRICS.failedSessions]: report.total_failure_session_count,
      [COLLECTOR_METRICS.reports]: 1,
    }, { ReportId: report.report_id, OrganizationName: report.organization_name, PolicyType: report.policy_type });
    for (const { resultType, failedSessions } of failedSessionsByResultType(report)) {
      this.emit([[COLLECTOR_METRICS.policyDomain, COLLECTOR_METRICS.resultType]], {
        [COLLECTOR_METRICS.policyDomain]: report.policy_domain, [COLLECTOR_METRICS.resultType]: resultType,
      }, {
        [COLLECTOR_METRICS.failedSessions]: failedSessions,
      });
    }
  }

  /** One report object's outcome. */
  public report(outcome: string): void {
    this.emit([[COLLECTOR_METRICS.outcome]], { [COLLECTOR_METRICS.outcome]: outcome }, { [COLLECTOR_METRICS.reports]: 1 });
  }

  /** One message's outcome. */
  public message(outcome: string, reason?: string): void {
    this.emit([[COLLECTOR_METRICS.outcome]], { [COLLECTOR_METRICS.outcome]: outcome }, { [COLLECTOR_METRICS.messages]: 1 },
      reason ? { Reason: reason } : {});
  }

  /** One EMF line: `dimensionSets` each make a metric of every value (EMF's DimensionSet array). */
  private emit(
    dimensionSets: string[][], dimensionValues: Record<string, string>, values: Record<string, number>, properties: Record<string, unknown> = {},
  ): void {
    this.log(JSON.stringify({
      _aws: {
        Timestamp: Date.now(),
        CloudWatchMetrics: [{
          Namespace: this.namespace,
          Dimensions: dimensionSets,
          Metrics: Object.keys(values).map(name => ({ Name: name, Unit: 'Count' })),
        }],
      },
      ...properties,
      ...dimensionValues,
      ...values,
    }));
  }
}
