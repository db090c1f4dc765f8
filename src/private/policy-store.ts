import { createHash } from 'node:crypto';
import { Aws, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, IConstruct } from 'constructs';
import { MtaStsPolicy } from '../policy';
import { PRIVATE_BUCKET_PROPS } from './private-bucket';

/** The prefix under which every policy domain has its own folder in the bucket. */
export const POLICY_PREFIX = 'policies';

/** The CloudFront origin path of a domain: its folder in the bucket. */
export function originPathOf(domainName: string): string {
  return `/${POLICY_PREFIX}/${domainName}`;
}

/** The S3 key of a domain's policy file: the well-known path below its folder. */
export function policyKeyOf(domainName: string): string {
  return `${POLICY_PREFIX}/${domainName}${MtaStsPolicy.WELL_KNOWN_PATH}`;
}

/**
 * Creates the private bucket that holds policy files: all public access blocked, S3-managed
 * encryption, TLS-only access, bucket-owner-enforced ownership.
 *
 * CloudFront reads it through origin access control, granted ONCE for the whole `policies/`
 * prefix to CloudFront distributions of this account, rather than one statement per
 * distribution: the bucket policy then never changes when a domain (and its distribution) is
 * added or removed, so no domain loses read access while its record still announces it, and the
 * policy cannot outgrow S3's 20 KB limit. The files are public by design; what the grant
 * protects is the bucket itself (no listing, no other prefix, no other account).
 */
export function createPolicyBucket(scope: Construct, removalPolicy: RemovalPolicy): s3.Bucket {
  const bucket = new s3.Bucket(scope, 'Bucket', {
    ...PRIVATE_BUCKET_PROPS,
    removalPolicy,
  });
  allowPolicyReads(bucket);
  return bucket;
}

/** The buckets whose policy already lets CloudFront read policy files. */
const READABLE = new WeakSet<s3.IBucket>();

/**
 * Lets CloudFront distributions of this account read the bucket's `policies/` prefix (see
 * createPolicyBucket), once per bucket. Returns false when the bucket's policy cannot be changed
 * (an imported bucket), so the caller can report it.
 */
export function allowPolicyReads(bucket: s3.IBucket): boolean {
  if (READABLE.has(bucket)) {
    return true;
  }
  const result = bucket.addToResourcePolicy(new iam.PolicyStatement({
    sid: 'CloudFrontReadsPolicyFiles',
    principals: [new iam.ServicePrincipal('cloudfront.amazonaws.com')],
    actions: ['s3:GetObject'],
    resources: [bucket.arnForObjects(`${POLICY_PREFIX}/*`)],
    conditions: {
      StringEquals: { 'AWS:SourceAccount': Aws.ACCOUNT_ID },
      ArnLike: { 'AWS:SourceArn': `arn:${Aws.PARTITION}:cloudfront::${Aws.ACCOUNT_ID}:distribution/*` },
    },
  }));
  if (result.statementAdded) {
    READABLE.add(bucket);
  }
  return result.statementAdded;
}

/** The construct id, beneath its stack, of the origin access control that a stack's MtaSts constructs share. */
export const SHARED_ORIGIN_ACCESS_CONTROL_ID = 'MtaStsOriginAccessControl';

/** CloudFront's default quota of distributions per origin access control. */
export const MAX_DISTRIBUTIONS_PER_ORIGIN_ACCESS_CONTROL = 100;

/** The origin access controls this library created, so a construct of the same id is never mistaken for one. */
const OURS = new WeakSet<IConstruct>();

/**
 * The origin access control that every MtaSts construct of the stack holding `scope` uses, created
 * beneath the stack on first use. An origin access control is not tied to a bucket: it only says
 * that CloudFront signs its requests to S3 (each bucket's own policy grants the reads), so one per
 * stack serves every policy bucket there and an account with many MtaSts constructs stays far
 * below CloudFront's quota of origin access controls per account.
 *
 * @throws Error when something else already has its construct id at the root of the stack
 */
export function sharedOriginAccessControl(scope: Construct): cloudfront.IOriginAccessControl {
  const stack = Stack.of(scope);
  const existing = stack.node.tryFindChild(SHARED_ORIGIN_ACCESS_CONTROL_ID);
  if (existing) {
    if (!OURS.has(existing)) {
      throw new Error(`cdk-mta-sts: the construct id ${SHARED_ORIGIN_ACCESS_CONTROL_ID} at the root of stack ${stack.stackName} is reserved for `
        + 'the origin access control that the stack\'s MtaSts constructs share; rename the construct there, got: a construct at '
        + `${existing.node.path} that this library did not create`);
    }
    return existing as cloudfront.S3OriginAccessControl;
  }
  return createOriginAccessControl(stack, SHARED_ORIGIN_ACCESS_CONTROL_ID, `MTA-STS policy buckets of the MtaSts constructs in stack ${stack.stackName}`);
}

/**
 * Creates an origin access control through which distributions read policy buckets.
 *
 * Its name, which CloudFront requires to be unique in the account, is made at deploy time from
 * the stack's id (`MtaSts-<hash of its path in the stack>-<UUID of the stack>`): stacks of the
 * same construct paths in two apps, stages or regions of one account never share a name, and the
 * name never changes for the life of the stack. A validation fails synthesis when more
 * distributions of its stack use it than CloudFront's default quota allows.
 */
export function createOriginAccessControl(scope: Construct, id: string, description: string): cloudfront.S3OriginAccessControl {
  const stack = Stack.of(scope);
  const pathInStack = [...scope.node.scopes.slice(stack.node.scopes.length).map(s => s.node.id), id].join('/');
  const pathHash = createHash('sha256').update(pathInStack, 'utf8').digest('hex').slice(0, 8);
  const stackUuid = Fn.select(2, Fn.split('/', Aws.STACK_ID));
  const originAccessControl = new cloudfront.S3OriginAccessControl(scope, id, {
    originAccessControlName: Fn.join('', [`MtaSts-${pathHash}-`, stackUuid]),
    description: description.slice(0, 256),
  });
  OURS.add(originAccessControl);
  originAccessControl.node.addValidation({ validate: () => distributionQuotaProblems(originAccessControl) });
  return originAccessControl;
}

/** Fails when more distributions of its stack use `originAccessControl` than CloudFront's default quota allows. */
function distributionQuotaProblems(originAccessControl: cloudfront.S3OriginAccessControl): string[] {
  const stack = Stack.of(originAccessControl);
  const id = JSON.stringify(stack.resolve(originAccessControl.originAccessControlId));
  const users = stack.node.findAll()
    .filter((node): node is cloudfront.CfnDistribution => node instanceof cloudfront.CfnDistribution && Stack.of(node) === stack)
    .filter(distribution => {
      const config = stack.resolve(distribution.distributionConfig) as { origins?: Array<{ originAccessControlId?: unknown }> } | undefined;
      return (config?.origins ?? []).some(origin => JSON.stringify(origin.originAccessControlId) === id);
    }).length;
  return users <= MAX_DISTRIBUTIONS_PER_ORIGIN_ACCESS_CONTROL ? [] : [
    `origin access control ${originAccessControl.node.path} must serve at most ${MAX_DISTRIBUTIONS_PER_ORIGIN_ACCESS_CONTROL} distributions `
    + '(CloudFront\'s default quota per origin access control); spread the MtaSts and MtaStsDomains constructs over several stacks, '
    + `got: ${users} distributions`,
  ];
}
