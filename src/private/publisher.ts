import { Aws, CustomResource, CustomResourceProvider, CustomResourceProviderRuntime, Duration, Lazy, Stack } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, IDependable } from 'constructs';
import { PUBLICATION_RESOURCE_TYPE, PublicationProperties } from '../core/publication';
import { MtaStsPolicy } from '../policy';
import { handlerBundleDir } from './bundles';
import { POLICY_PREFIX } from './policy-store';

/** The construct id of the stack's publisher function (its logical ids derive from it). */
const PROVIDER_ID = 'MtaStsPolicyPublisher';

/** The publisher function's timeout. */
const PUBLISHER_TIMEOUT = Duration.minutes(10);

/**
 * How long CloudFormation waits for a publication's answer before it fails the resource: one run
 * to its timeout and one retry by Lambda (an answer that could not be sent), plus a margin.
 * Without it CloudFormation would wait an hour for a run that died without answering.
 */
export const PUBLICATION_SERVICE_TIMEOUT = Duration.minutes(25);

/** Per stack: the buckets whose policies/ prefix the publisher may write, by construct path. */
const BUCKETS = new WeakMap<Stack, Map<string, s3.IBucket>>();

/**
 * The stack's one publisher function (aws-cdk-lib's CustomResourceProvider: a Lambda function
 * and its role, shared by every publication of the stack), with the grants for `bucket`.
 *
 * Grants do not grow with the number of policies or domains: one statement for TXT records
 * named `_mta-sts.*` (Route 53's record-name condition), one for the reads the publisher needs,
 * and one for objects under `policies/` of each bucket of the stack.
 */
function publisherFor(scope: Construct, bucket: s3.IBucket): CustomResourceProvider {
  const stack = Stack.of(scope);
  const provider = CustomResourceProvider.getOrCreateProvider(stack, PROVIDER_ID, {
    codeDirectory: handlerBundleDir('publisher/index'),
    runtime: CustomResourceProviderRuntime.NODEJS_22_X,
    // Route 53 usually syncs a change within a minute. The handler answers before this timeout
    // whatever happens (its waits are bounded by the time it has left).
    timeout: PUBLISHER_TIMEOUT,
    description: 'cdk-mta-sts: writes MTA-STS policy files, then announces them in _mta-sts TXT records',
  });
  let buckets = BUCKETS.get(stack);
  if (!buckets) {
    buckets = new Map();
    BUCKETS.set(stack, buckets);
    // Added once per stack, when the provider is first used.
    provider.addToRolePolicy({
      Effect: 'Allow',
      Action: ['route53:ChangeResourceRecordSets'],
      Resource: `arn:${Aws.PARTITION}:route53:::hostedzone/*`,
      Condition: {
        'ForAllValues:StringLike': { 'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['_mta-sts.*'] },
        'ForAllValues:StringEquals': { 'route53:ChangeResourceRecordSetsRecordTypes': ['TXT'] },
      },
    });
    provider.addToRolePolicy({
      Effect: 'Allow',
      Action: ['route53:ListResourceRecordSets', 'route53:GetChange'],
      Resource: [`arn:${Aws.PARTITION}:route53:::hostedzone/*`, `arn:${Aws.PARTITION}:route53:::change/*`],
    });
    // One statement for every bucket of the stack, in construct-path order, so the role does
    // not change when constructs are created in another order.
    const known = buckets;
    provider.addToRolePolicy({
      Effect: 'Allow',
      Action: ['s3:PutObject', 's3:DeleteObject'],
      Resource: Lazy.any({
        produce: () => [...known.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, granted]) => granted.arnForObjects(`${POLICY_PREFIX}/*`)),
      }),
    });
  }
  buckets.set(bucket.node.path, bucket);
  return provider;
}

export interface PublicationProps {
  readonly domainName: string;
  readonly policy: MtaStsPolicy;
  readonly bucket: s3.IBucket;
  readonly objectKey: string;
  readonly zone: route53.IHostedZone;
  /** Where the `v=STSv1; id=...` TXT record is written. */
  readonly recordName: string;
  readonly ttl: Duration;
  /** Keep the policy file when the publication is deleted (the bucket is retained). */
  readonly retainObject: boolean;
  /** Replace a TXT record at `recordName` that this stack did not write. */
  readonly replaceExistingRecord: boolean;
  /** The distribution serving the domain: a new one means a new publication. */
  readonly distributionId: string;
  /** What must be live before the record may announce the policy. */
  readonly servedBy: IDependable[];
}

/**
 * Creates the `Custom::MtaStsPolicyPublication` resource of one domain: on create and on every
 * update (rollbacks included) it writes the policy file and then announces it with a new id; on
 * delete it removes the record first. It depends on everything that serves the file, so
 * CloudFormation runs it after they are live and deletes it before they go.
 */
export function createPublication(scope: Construct, id: string, props: PublicationProps): CustomResource {
  const provider = publisherFor(scope, props.bucket);
  const properties: Record<keyof PublicationProperties, string> = {
    DomainName: props.domainName,
    BucketName: props.bucket.bucketName,
    ObjectKey: props.objectKey,
    PolicyText: props.policy.text,
    ContentId: props.policy.contentId,
    HostedZoneId: props.zone.hostedZoneId,
    RecordName: props.recordName,
    RecordTtl: String(props.ttl.toSeconds()),
    RetainObject: String(props.retainObject),
    ReplaceExistingRecord: String(props.replaceExistingRecord),
    DistributionId: props.distributionId,
  };
  const publication = new CustomResource(scope, id, {
    serviceToken: provider.serviceToken,
    resourceType: PUBLICATION_RESOURCE_TYPE,
    serviceTimeout: PUBLICATION_SERVICE_TIMEOUT,
    properties,
  });
  publication.node.addDependency(...props.servedBy);
  return publication;
}
