import { Aws, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
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
  bucket.addToResourcePolicy(new iam.PolicyStatement({
    sid: 'CloudFrontReadsPolicyFiles',
    principals: [new iam.ServicePrincipal('cloudfront.amazonaws.com')],
    actions: ['s3:GetObject'],
    resources: [bucket.arnForObjects(`${POLICY_PREFIX}/*`)],
    conditions: {
      StringEquals: { 'AWS:SourceAccount': Aws.ACCOUNT_ID },
      ArnLike: { 'AWS:SourceArn': `arn:${Aws.PARTITION}:cloudfront::${Aws.ACCOUNT_ID}:distribution/*` },
    },
  }));
  return bucket;
}

/** The origin access control through which the distributions of a construct read the bucket. */
export function createOriginAccessControl(scope: Construct): cloudfront.S3OriginAccessControl {
  return new cloudfront.S3OriginAccessControl(scope, 'OriginAccessControl', {
    description: `MTA-STS policy bucket access for ${scope.node.path}`.slice(0, 256),
  });
}
