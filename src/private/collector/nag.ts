import { CfnResource, Stack } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { STORAGE_PREFIXES } from '../../core/tlsrpt-report';
import { NagSuppression, addResourceSuppressions } from '../nag';

/**
 * cdk-nag (AwsSolutionsChecks) suppressions for what TlsRptCollector creates, by construct path
 * below the collector. Everything fixable is fixed in the defaults instead (private, encrypted,
 * TLS-only bucket and queue; least-privilege S3 statements per prefix); the Node.js 22 runtime is acknowledged (L1),
 * and the failed-events queue's lack of a dead-letter queue of its own (SQS3).
 */
function collectorSuppressions(bucketLogicalId: string, httpsWrites: readonly string[]): Readonly<Record<string, readonly NagSuppression[]>> {
  return {
    'Bucket/Resource': [{
      id: 'AwsSolutions-S1',
      reason: 'The collector bucket is written only by SES (the receipt rule S3 action) and by the collector function, '
      + 'whose every write is logged by the function itself; server access logs would need a second bucket per collector. '
      + 'Enable CloudTrail S3 data events where object-level audit is required.',
    }],
    'FailedEvents/Resource': [{
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the end of the line: the on-failure destination of the collector processor, holding SES '
        + 'events that failed every attempt for a person to look at (an alarm fires on the first message). A dead-letter '
        + 'queue behind it would only move those events once more, out of sight of that alarm.',
    }],
    ...processorSuppressions('Processor', bucketLogicalId, [
      STORAGE_PREFIXES.raw, STORAGE_PREFIXES.reports, STORAGE_PREFIXES.unconfigured, STORAGE_PREFIXES.quarantine, STORAGE_PREFIXES.rejected,
    ].map(prefix => `${prefix}*`)),
    ...processorSuppressions('HttpsProcessor', bucketLogicalId, httpsWrites),
  };
}

function processorSuppressions(id: string, bucketLogicalId: string, patterns: readonly string[]): Record<string, NagSuppression[]> {
  return {
    [`${id}/Resource`]: [{
      id: 'AwsSolutions-L1',
      reason: 'The collector function runs nodejs22.x on purpose: its code is bundled for Node.js 22 at build time and '
        + 'uses the AWS SDK v3 of that runtime, so the library moves it to a newer runtime together with the bundle target, '
        + 'in a release, rather than whenever a newer aws-cdk-lib learns a newer runtime (which cdk-nag then calls the latest).',
    }],
    [`${id}/ServiceRole/Resource`]: [{
      id: 'AwsSolutions-IAM4',
      reason: 'AWSLambdaBasicExecutionRole only lets the collector function write its own CloudWatch logs, which also '
        + 'carry its embedded metrics; its S3 permissions are separate statements scoped to bucket prefixes.',
      appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
    }],
    [`${id}/ServiceRole/DefaultPolicy/Resource`]: [{
      id: 'AwsSolutions-IAM5',
      reason: 'The collector function reads raw messages and writes reports under object keys it derives from each '
        + 'message (message id, policy domain, date), so its S3 statements name key prefixes of its own bucket '
        + 'with a wildcard (for the HTTPS function, only object names starting https-), never other buckets.',
      appliesTo: patterns.map(pattern => `Resource::<${bucketLogicalId}.Arn>/${pattern}`),
    }],
  };
}

/** Adds the collector's suppressions to its resources. */
export function suppressCollectorFindings(collector: IConstruct, bucket: CfnResource, httpsWrites: readonly string[]): void {
  const bucketLogicalId = Stack.of(bucket).resolve(bucket.logicalId);
  for (const [path, suppressions] of Object.entries(collectorSuppressions(bucketLogicalId, httpsWrites))) {
    const resource = findByPath(collector, path);
    if (resource && CfnResource.isCfnResource(resource)) {
      addResourceSuppressions(resource, suppressions);
    }
  }
}

function findByPath(root: IConstruct, path: string): IConstruct | undefined {
  let node: IConstruct | undefined = root;
  for (const part of path.split('/')) {
    node = node?.node.tryFindChild(part);
  }
  return node;
}
