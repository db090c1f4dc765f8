import { createHash } from 'node:crypto';
import { CfnOutput, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';

/**
 * The baseline for the benchmark: what a user would write by hand with plain aws-cdk-lib L2
 * constructs to publish MTA-STS and TLS-RPT for one domain, mirroring the resources that the
 * MtaSts construct synthesizes (bucket + TLS-only bucket policy, an AwsCustomResource
 * PutObject of the policy file with its shared Lambda function, a DNS-validated certificate,
 * a CloudFront distribution with origin access control, A/AAAA alias records, the `_mta-sts`
 * and `_smtp._tls` TXT records, and the same four stack outputs).
 *
 * What it deliberately does not do, because that is the construct's added value: input
 * validation and normalisation, the certificate-region planning, and cdk-nag suppression
 * metadata.
 */
export interface HandwrittenProps {
  /** The imported hosted zone's id. */
  readonly hostedZoneId: string;
  /** The policy domain, which is also the zone's name. */
  readonly domainName: string;
  /** The policy mode: testing, enforce or none. */
  readonly mode: string;
  /** The MX patterns. */
  readonly mx: string[];
  /** TLS-RPT report URIs. */
  readonly rua: string[];
}

export function addHandwrittenMtaSts(scope: Construct, id: string, props: HandwrittenProps): void {
  const scopeOf = new Construct(scope, id);
  const zone = route53.HostedZone.fromHostedZoneAttributes(scopeOf, 'Zone', {
    hostedZoneId: props.hostedZoneId,
    zoneName: props.domainName,
  });
  const policyHost = `mta-sts.${props.domainName}`;
  const lines = ['version: STSv1', `mode: ${props.mode}`, ...props.mx.map(mx => `mx: ${mx}`), `max_age: ${Duration.days(7).toSeconds()}`];
  const policyText = lines.map(line => `${line}\r\n`).join('');
  const policyId = createHash('sha256').update(policyText, 'utf8').digest('hex').slice(0, 32);
  const key = '.well-known/mta-sts.txt';

  const bucket = new s3.Bucket(scopeOf, 'Bucket', {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    removalPolicy: RemovalPolicy.RETAIN,
  });

  const putObject: cr.AwsSdkCall = {
    service: 'S3',
    action: 'putObject',
    parameters: {
      Bucket: bucket.bucketName,
      Key: key,
      Body: policyText,
      ContentType: 'text/plain',
      CacheControl: 'no-store',
    },
    physicalResourceId: cr.PhysicalResourceId.of(key),
  };
  const policyObject = new cr.AwsCustomResource(scopeOf, 'PolicyObject', {
    resourceType: 'Custom::MtaStsPolicyObject',
    onCreate: putObject,
    onUpdate: putObject,
    policy: cr.AwsCustomResourcePolicy.fromStatements([
      new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [bucket.arnForObjects(key)] }),
    ]),
    installLatestAwsSdk: false,
  });

  const certificate = new acm.Certificate(scopeOf, 'Certificate', {
    domainName: policyHost,
    validation: acm.CertificateValidation.fromDns(zone),
  });

  const distribution = new cloudfront.Distribution(scopeOf, 'Distribution', {
    comment: `MTA-STS policy for ${props.domainName}`,
    domainNames: [policyHost],
    certificate,
    sslSupportMethod: cloudfront.SSLMethod.SNI,
    minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
    enableIpv6: true,
    httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
    priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
    defaultBehavior: {
      origin: origins.S3BucketOrigin.withOriginAccessControl(bucket),
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
      cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      compress: false,
    },
  });

  const target = route53.RecordTarget.fromAlias(new targets.CloudFrontTarget(distribution));
  const a = new route53.ARecord(scopeOf, 'AliasRecord', { zone, recordName: `${policyHost}.`, target });
  const aaaa = new route53.AaaaRecord(scopeOf, 'AliasRecordIpv6', { zone, recordName: `${policyHost}.`, target });
  const ttl = Duration.minutes(5);
  const policyRecord = new route53.TxtRecord(scopeOf, 'PolicyRecord', {
    zone,
    recordName: `_mta-sts.${props.domainName}.`,
    values: [`v=STSv1; id=${policyId}`],
    ttl,
  });
  policyRecord.node.addDependency(a, aaaa, distribution, policyObject);
  const tlsRptValue = `v=TLSRPTv1; rua=${props.rua.join(',')}`;
  new route53.TxtRecord(scopeOf, 'TlsRptRecord', {
    zone,
    recordName: `_smtp._tls.${props.domainName}.`,
    values: [tlsRptValue],
    ttl,
  });

  new CfnOutput(scopeOf, 'PolicyUrlOutput', { value: `https://${policyHost}/${key}`, description: `MTA-STS policy URL of ${props.domainName}` });
  new CfnOutput(scopeOf, 'PolicyIdOutput', { value: policyId, description: `MTA-STS policy id of ${props.domainName}` });
  new CfnOutput(scopeOf, 'PolicyRecordOutput', {
    value: `_mta-sts.${props.domainName} TXT "v=STSv1; id=${policyId}"`,
    description: 'MTA-STS policy record',
  });
  new CfnOutput(scopeOf, 'TlsRptRecordOutput', {
    value: `_smtp._tls.${props.domainName} TXT "${tlsRptValue}"`,
    description: 'TLS-RPT record',
  });
}

/** A stack holding only the hand-written MTA-STS resources for one domain. */
export class HandwrittenMtaStsStack extends Stack {
  constructor(scope: Construct, id: string, props: StackProps & { readonly mtaSts: HandwrittenProps }) {
    super(scope, id, props);
    addHandwrittenMtaSts(this, 'MtaSts', props.mtaSts);
  }
}
