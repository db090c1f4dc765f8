import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { COLLECTOR_METRICS, COLLECTOR_OUTCOMES } from '../../core/collector-contract';

/** One day: reporters send one report per day and domain. */
const DAY = Duration.days(1);

/**
 * Policy domains up to which the dashboard has a row of three widgets per domain (75 widgets);
 * beyond, only the widgets that cover every domain (CloudWatch allows 500 widgets per dashboard).
 */
export const DOMAIN_ROWS_LIMIT = 25;

/** How many time series the top-N widgets show. */
const TOP = 20;

/** SEARCH terms of the result types that block enforce: `sts-*` and `certificate-*`. */
const BLOCKING = '(sts OR certificate)';

/**
 * The one place where the collector's metrics are defined (names and dimensions from
 * core/collector-contract.ts): the public `metricXxx` methods, the dashboard and the alarm build
 * on it. Each is a SUM, over aws-cdk-lib's default period (5 minutes) unless `props` say otherwise.
 */
export class CollectorMetrics {
  constructor(public readonly namespace: string) {}

  /** `metricName` of one policy domain (`PolicyDomain` dimension). */
  public byDomain(metricName: string, domain: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric(metricName, { [COLLECTOR_METRICS.policyDomain]: domain }, props);
  }

  /** `metricName` of every domain in one MTA-STS mode (`Mode` dimension: `enforce`, `testing`, `none`). */
  public byMode(metricName: string, mode: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric(metricName, { [COLLECTOR_METRICS.mode]: mode }, props);
  }

  /** `Messages` or `Reports` of one outcome (`Outcome` dimension). */
  public byOutcome(metricName: string, outcome: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric(metricName, { [COLLECTOR_METRICS.outcome]: outcome }, props);
  }

  /**
   * The `top` (domain, result type) series with the most failed sessions, of every domain: a
   * Metrics Insights query, which sorts up to 10,000 metrics (SEARCH returns any 500 of them) and
   * shows two weeks of data in dashboards.
   */
  public topFailures(top: number): cloudwatch.MathExpression {
    const { failedSessions, policyDomain, resultType } = COLLECTOR_METRICS;
    return new cloudwatch.MathExpression({
      expression: `SELECT SUM(${failedSessions}) FROM SCHEMA(${JSON.stringify(this.namespace)}, ${policyDomain}, ${resultType}) `
        + `GROUP BY ${policyDomain}, ${resultType} ORDER BY SUM() DESC LIMIT ${top}`,
      label: 'failures',
      period: DAY,
    });
  }

  /**
   * The `top` series with the most `sts-*` and `certificate-*` failures, by domain and result
   * type: a SEARCH (Metrics Insights has no prefix match), sorted. A series exists only for a
   * result type that reports listed for a domain, so SEARCH's 500 series are enough unless
   * hundreds of domains have such failures at once, when the widget shows 20 of them.
   */
  public topBlockingFailures(top: number): cloudwatch.MathExpression {
    const search = `SEARCH('{${this.namespace},${COLLECTOR_METRICS.policyDomain},${COLLECTOR_METRICS.resultType}} `
      + `MetricName="${COLLECTOR_METRICS.failedSessions}" ${BLOCKING}', 'Sum', ${DAY.toSeconds()})`;
    return new cloudwatch.MathExpression({ expression: `SORT(${search}, SUM, DESC, ${top})`, label: 'blocking failures', period: DAY });
  }

  /** Failed sessions of one domain by result type (`filter`: more search terms). */
  public domainFailuresByResultType(domain: string, filter: string, label: string): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: `SEARCH('{${this.namespace},${COLLECTOR_METRICS.policyDomain},${COLLECTOR_METRICS.resultType}} `
        + `${COLLECTOR_METRICS.policyDomain}="${domain}"${filter}', 'Sum', ${DAY.toSeconds()})`,
      label,
      period: DAY,
    });
  }

  private metric(metricName: string, dimensionsMap: Record<string, string>, props: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({ namespace: this.namespace, metricName, dimensionsMap, statistic: cloudwatch.Stats.SUM, ...props });
  }
}

/** What the dashboard shows. */
export interface DashboardOptions {
  readonly databaseName: string;
  readonly tableName: string;
  readonly countsHttpsReports: boolean;
  /** The log groups whose EMF lines carry counted reports (the processor's, and the HTTPS processor's when it counts). */
  readonly logGroupNames: string[];
  /** The configured domains, sorted: read when the dashboard is rendered, so domains added later are included. */
  readonly domains: () => string[];
}

/**
 * The dashboard: what counts and how to tell readiness; messages; widgets that cover every
 * domain whatever their number (sessions by mode, the most failures by domain and result type,
 * and, from the logs, the failed sessions of each domain in enforce mode); then a row per domain
 * while there are at most DOMAIN_ROWS_LIMIT.
 */
export function createDashboard(scope: Construct, metrics: CollectorMetrics, options: DashboardOptions): cloudwatch.Dashboard {
  const dashboard = new cloudwatch.Dashboard(scope, 'Dashboard', { defaultInterval: Duration.days(14) });
  const { databaseName, tableName, countsHttpsReports } = options;
  const enforce = (metricName: string, label: string) => metrics.byMode(metricName, 'enforce', { period: DAY, label });
  dashboard.addWidgets(
    new cloudwatch.TextWidget({
      width: 12,
      height: 6,
      markdown: [
        '# TLS-RPT reports',
        'Sessions reported by senders (RFC 8460), per policy domain and day. Only DKIM-signed reports for configured domains count'
          + (countsHttpsReports ? ', and reports POSTed over HTTPS (`countHttpsReports`: they are not authenticated).' : '.'),
        '',
        '**Ready to enforce** when, for at least one `max_age`: policy type `sts` with the current policy id seen by reporters,',
        'zero `sts-*` and `certificate-*` failures, and more than one reporter. Check the "sts-* and certificate-* failures"',
        `widgets below, then run the README's ready-to-enforce query on \`${databaseName}.${tableName}\` in Athena.`,
      ].join('\n'),
    }),
    new cloudwatch.GraphWidget({
      title: 'Messages received (accepted, quarantined, rejected)',
      width: 12,
      height: 6,
      left: [COLLECTOR_OUTCOMES.accepted, COLLECTOR_OUTCOMES.quarantined, COLLECTOR_OUTCOMES.rejected]
        .map(outcome => metrics.byOutcome(COLLECTOR_METRICS.messages, outcome, { period: DAY, label: outcome })),
    }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Domains in enforce mode: sessions (the alarm watches failed sessions per hour)',
      width: 8,
      left: [enforce(COLLECTOR_METRICS.successfulSessions, 'successful'), enforce(COLLECTOR_METRICS.failedSessions, 'failed')],
      right: [metrics.byMode(COLLECTOR_METRICS.failedSessions, 'testing', { period: DAY, label: 'failed, domains in testing mode' })],
    }),
    new cloudwatch.GraphWidget({
      title: `All domains: failures by domain and result type (top ${TOP})`,
      width: 8,
      left: [metrics.topFailures(TOP)],
    }),
    new cloudwatch.GraphWidget({
      title: `All domains: sts-* and certificate-* failures (top ${TOP}; must be 0 to enforce)`,
      width: 8,
      left: [metrics.topBlockingFailures(TOP)],
    }),
  );
  dashboard.addWidgets(new cloudwatch.LogQueryWidget({
    title: 'Domains in enforce mode with failed sessions (what the alarm counts), from the processor logs',
    width: 24,
    logGroupNames: options.logGroupNames,
    view: cloudwatch.LogQueryVisualizationType.TABLE,
    queryLines: [
      `fields ${COLLECTOR_METRICS.policyDomain}, ${COLLECTOR_METRICS.failedSessions}`,
      `filter ${COLLECTOR_METRICS.mode} = "enforce" and ${COLLECTOR_METRICS.failedSessions} > 0`,
      `stats sum(${COLLECTOR_METRICS.failedSessions}) as failedSessions, count(*) as reports by ${COLLECTOR_METRICS.policyDomain}`,
      'sort failedSessions desc',
      'limit 100',
    ],
  }));
  // One widget whose size and content are decided when the dashboard is rendered (domains are added after construction).
  dashboard.addWidgets(new DomainRows(options.domains, domain => domainRow(metrics, domain)));
  return dashboard;
}

/** One dashboard row for a policy domain: sessions, failures by result type, and the failures that block enforce. */
function domainRow(metrics: CollectorMetrics, domain: string): cloudwatch.IWidget {
  const byDomain = (metricName: string, label: string) => metrics.byDomain(metricName, domain, { period: DAY, label });
  return new cloudwatch.Row(
    new cloudwatch.GraphWidget({
      title: `${domain}: sessions`,
      width: 8,
      left: [byDomain(COLLECTOR_METRICS.successfulSessions, 'successful'), byDomain(COLLECTOR_METRICS.failedSessions, 'failed')],
      right: [byDomain(COLLECTOR_METRICS.reports, 'reports')],
    }),
    new cloudwatch.GraphWidget({
      title: `${domain}: failures by result type`, width: 8, left: [metrics.domainFailuresByResultType(domain, '', 'failures')],
    }),
    new cloudwatch.GraphWidget({
      title: `${domain}: sts-* and certificate-* failures (must be 0 to enforce)`,
      width: 8,
      left: [metrics.domainFailuresByResultType(domain, ` ${BLOCKING}`, 'blocking failures')],
    }),
  );
}

/**
 * The per-domain part of the dashboard, laid out when the dashboard is rendered: a row per
 * domain up to DOMAIN_ROWS_LIMIT domains, otherwise a note that the widgets above cover them.
 */
class DomainRows implements cloudwatch.IWidget {
  public readonly width = cloudwatch.GRID_WIDTH;
  private x = 0;
  private y = 0;

  constructor(private readonly domains: () => string[], private readonly row: (domain: string) => cloudwatch.IWidget) {}

  public get height(): number {
    return this.layout().height;
  }

  public position(x: number, y: number): void {
    this.x = x;
    this.y = y;
  }

  public toJson(): any[] {
    const column = this.layout();
    column.position(this.x, this.y);
    return column.toJson();
  }

  private layout(): cloudwatch.Column {
    const domains = this.domains();
    if (domains.length <= DOMAIN_ROWS_LIMIT) {
      return new cloudwatch.Column(...domains.map(this.row));
    }
    return new cloudwatch.Column(new cloudwatch.TextWidget({
      width: cloudwatch.GRID_WIDTH,
      height: 2,
      markdown: `Per-domain rows are shown for up to ${DOMAIN_ROWS_LIMIT} policy domains; this collector counts ${domains.length}. `
        + 'The widgets above cover every domain; for one domain, graph `collector.metricSuccessfulSessions(domain)` and '
        + '`metricFailedSessions(domain)`, or query the Athena table.',
    }));
  }
}

/**
 * The one alarm for every domain in enforce mode: any failed session reported in an hour to a
 * domain whose policy is in enforce mode means senders refused (or would refuse) to deliver mail
 * to it. The dashboard's table names the domains.
 */
export function createEnforceAlarm(
  scope: Construct, id: string, metrics: CollectorMetrics, threshold: number, dashboardName: string, topic?: sns.ITopic,
): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(scope, id, {
    alarmDescription: 'TLS-RPT reporters saw failed TLS sessions to policy domains whose MTA-STS policy is in enforce mode: '
      + `senders do not deliver mail over those sessions. The dashboard ${dashboardName} lists the domains `
      + '("Domains in enforce mode with failed sessions"); the stored reports say why.',
    metric: metrics.byMode(COLLECTOR_METRICS.failedSessions, 'enforce', { period: Duration.hours(1) }),
    threshold,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  if (topic) {
    alarm.addAlarmAction(new cloudwatchActions.SnsAction(topic));
  }
  return alarm;
}

/**
 * The alarm on the processor's on-failure destination: any event there failed every attempt (a
 * report that was not stored or counted), so one visible message is enough.
 */
export function createFailedEventsAlarm(scope: Construct, id: string, queue: sqs.IQueue, topic?: sns.ITopic): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(scope, id, {
    alarmDescription: 'The TLS-RPT collector processor failed every attempt at an SES event: the message it names was not '
      + 'stored or counted. The event and the error are in the failed-events queue; the raw message is under raw/.',
    metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: cloudwatch.Stats.MAXIMUM }),
    threshold: 0,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  if (topic) {
    alarm.addAlarmAction(new cloudwatchActions.SnsAction(topic));
  }
  return alarm;
}
