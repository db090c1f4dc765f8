import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { COLLECTOR_METRICS } from '../../core/collector-contract';

/** One day: reporters send one report per day and domain. */
const DAY = Duration.days(1);

/** Metrics of one policy domain. */
export function domainMetric(namespace: string, name: string, domain: string, period: Duration = DAY): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace,
    metricName: name,
    dimensionsMap: { [COLLECTOR_METRICS.policyDomain]: domain },
    statistic: cloudwatch.Stats.SUM,
    period,
  });
}

/** The dashboard with the collector-wide widgets; per-domain rows are added by `addDomainWidgets`. */
export function createDashboard(
  scope: Construct, namespace: string, databaseName: string, tableName: string, countsHttpsReports: boolean,
): cloudwatch.Dashboard {
  const dashboard = new cloudwatch.Dashboard(scope, 'Dashboard', { defaultInterval: Duration.days(14) });
  const messages = (outcome: string) => new cloudwatch.Metric({
    namespace,
    metricName: COLLECTOR_METRICS.messages,
    dimensionsMap: { [COLLECTOR_METRICS.outcome]: outcome },
    statistic: cloudwatch.Stats.SUM,
    period: DAY,
    label: outcome,
  });
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
        `widget below, then run the README's ready-to-enforce query on \`${databaseName}.${tableName}\` in Athena.`,
      ].join('\n'),
    }),
    new cloudwatch.GraphWidget({
      title: 'Messages received (accepted, quarantined, rejected)',
      width: 12,
      height: 6,
      left: ['accepted', 'quarantined', 'rejected'].map(messages),
    }),
  );
  return dashboard;
}

/** One dashboard row for a policy domain: sessions, failures by result type, and the failures that block enforce. */
export function addDomainWidgets(dashboard: cloudwatch.Dashboard, namespace: string, domain: string): void {
  const byType = (filter: string, label: string) => new cloudwatch.MathExpression({
    expression: `SEARCH('{${namespace},${COLLECTOR_METRICS.policyDomain},${COLLECTOR_METRICS.resultType}} `
      + `${COLLECTOR_METRICS.policyDomain}="${domain}"${filter}', 'Sum', 86400)`,
    label,
    period: DAY,
  });
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: `${domain}: sessions`,
      width: 8,
      left: [
        domainMetric(namespace, COLLECTOR_METRICS.successfulSessions, domain).with({ label: 'successful' }),
        domainMetric(namespace, COLLECTOR_METRICS.failedSessions, domain).with({ label: 'failed' }),
      ],
      right: [domainMetric(namespace, COLLECTOR_METRICS.reports, domain).with({ label: 'reports' })],
    }),
    new cloudwatch.GraphWidget({ title: `${domain}: failures by result type`, width: 8, left: [byType('', 'failures')] }),
    new cloudwatch.GraphWidget({
      title: `${domain}: sts-* and certificate-* failures (must be 0 to enforce)`,
      width: 8,
      left: [byType(' (sts OR certificate)', 'blocking failures')],
    }),
  );
}

/**
 * The alarm of a domain in enforce mode: any failed session reported in an hour means senders
 * refused (or would refuse) to deliver mail to it.
 */
export function createEnforceAlarm(
  scope: Construct, id: string, namespace: string, domain: string, threshold: number, topic?: sns.ITopic,
): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(scope, id, {
    alarmDescription: `TLS-RPT reporters saw failed TLS sessions to ${domain}, whose MTA-STS policy is in enforce mode: `
      + 'senders do not deliver mail over those sessions. See the TLS-RPT dashboard and the stored reports.',
    metric: domainMetric(namespace, COLLECTOR_METRICS.failedSessions, domain, Duration.hours(1)),
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
