import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface PolicyDistributionProps {
  readonly bucket: s3.IBucket;
  readonly certificate: acm.ICertificate;
  /** The `mta-sts.<domain>` names served. */
  readonly domainNames: string[];
  readonly priceClass: cloudfront.PriceClass;
  /** Shared origin access control; a new one is created for the distribution when absent. */
  readonly originAccessControl?: cloudfront.IOriginAccessControl;
  /** Viewer-request function that maps each host to its policy object. */
  readonly routing?: cloudfront.IFunction;
  readonly comment: string;
}

/**
 * Creates the distribution that serves policy files over HTTPS:
 * the bucket through origin access control (not an OAI), the given certificate with SNI and
 * TLSv1.2_2021, HTTPS only, IPv6, GET/HEAD only, and no caching at the edge, so a sender that
 * sees a new policy id can never be answered from a copy older than the object.
 */
export function createPolicyDistribution(scope: Construct, id: string, props: PolicyDistributionProps): cloudfront.Distribution {
  return new cloudfront.Distribution(scope, id, {
    comment: props.comment,
    domainNames: props.domainNames,
    certificate: props.certificate,
    sslSupportMethod: cloudfront.SSLMethod.SNI,
    minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
    enableIpv6: true,
    httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
    priceClass: props.priceClass,
    defaultBehavior: {
      origin: origins.S3BucketOrigin.withOriginAccessControl(props.bucket, {
        originAccessControl: props.originAccessControl,
      }),
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
      cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      // Serve the exact bytes whose hash is the policy id.
      compress: false,
      functionAssociations: props.routing
        ? [{ eventType: cloudfront.FunctionEventType.VIEWER_REQUEST, function: props.routing }]
        : undefined,
    },
  });
}
