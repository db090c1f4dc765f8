import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface PolicyDistributionProps {
  readonly bucket: s3.IBucket;
  /** The folder of the domain in the bucket, e.g. `/policies/example.com`. */
  readonly originPath: string;
  readonly originAccessControl: cloudfront.IOriginAccessControl;
  readonly certificate: acm.ICertificate;
  /** The `mta-sts.<domain>` name served. */
  readonly domainName: string;
  readonly priceClass: cloudfront.PriceClass;
  readonly comment: string;
}

/**
 * The bucket as an origin through a given origin access control, WITHOUT the per-distribution
 * bucket policy statement that `S3BucketOrigin.withOriginAccessControl` adds: the bucket's one
 * account-wide grant (policy-store.ts) covers every distribution, so adding or removing a
 * distribution never changes the bucket policy.
 */
class PolicyBucketOrigin extends cloudfront.OriginBase {
  constructor(bucket: s3.IBucket, originPath: string, originAccessControl: cloudfront.IOriginAccessControl) {
    super(bucket.bucketRegionalDomainName, { originPath, originAccessControlId: originAccessControl.originAccessControlId });
  }

  protected renderS3OriginConfig(): cloudfront.CfnDistribution.S3OriginConfigProperty {
    // An empty identity: access is by origin access control, not an OAI.
    return { originAccessIdentity: '' };
  }
}

/**
 * Creates the distribution that serves one domain's policy file over HTTPS: the domain's folder
 * of the bucket through origin access control, the given certificate with SNI and
 * TLSv1.2_2021, HTTPS only, IPv6, GET/HEAD only, and no caching at the edge, so a sender that
 * sees a new policy id can never be answered from a copy older than the object. It has no
 * function: what it serves changes only through the object, never through its configuration.
 */
export function createPolicyDistribution(scope: Construct, id: string, props: PolicyDistributionProps): cloudfront.Distribution {
  return new cloudfront.Distribution(scope, id, {
    comment: props.comment,
    domainNames: [props.domainName],
    certificate: props.certificate,
    sslSupportMethod: cloudfront.SSLMethod.SNI,
    minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
    enableIpv6: true,
    httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
    priceClass: props.priceClass,
    defaultBehavior: {
      origin: new PolicyBucketOrigin(props.bucket, props.originPath, props.originAccessControl),
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
      cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      // Serve the exact bytes whose hash begins the policy id.
      compress: false,
    },
  });
}
