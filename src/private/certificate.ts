import { Token } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { Construct } from 'constructs';
import { quote } from './hostname';

/** CloudFront only uses ACM certificates from this region. */
export const CLOUDFRONT_CERTIFICATE_REGION = 'us-east-1';

/** ACM's limit on a certificate's domain name (its first name). */
export const MAX_CERTIFICATE_NAME_LENGTH = 64;

const ACM_ARN = /^arn:aws[a-z-]*:acm:([a-z0-9-]+):(\d{12}):certificate\/[A-Za-z0-9-]+$/;

/**
 * Checks a supplied certificate: a literal ARN must be an ACM certificate ARN in us-east-1; a
 * token ARN is checked through the certificate's known region when it has one, else not at all.
 */
export function validateCertificate(certificate: acm.ICertificate, prop: string): string[] {
  const arn = certificate.certificateArn;
  if (Token.isUnresolved(arn)) {
    const region = certificate.env.region;
    if (Token.isUnresolved(region) || region === CLOUDFRONT_CERTIFICATE_REGION) {
      return [];
    }
    return [`\`${prop}\` must be in ${CLOUDFRONT_CERTIFICATE_REGION}, the only region CloudFront takes certificates from, got: a certificate in stack region ${quote(region)}`];
  }
  const match = ACM_ARN.exec(arn);
  if (!match) {
    return [`\`${prop}\` must be an ACM certificate ARN (arn:aws:acm:${CLOUDFRONT_CERTIFICATE_REGION}:<account>:certificate/<id>), got: ${quote(arn)}`];
  }
  if (match[1] !== CLOUDFRONT_CERTIFICATE_REGION) {
    return [`\`${prop}\` must be in ${CLOUDFRONT_CERTIFICATE_REGION}, the only region CloudFront takes certificates from, got: a certificate in ${quote(match[1])} (${arn})`];
  }
  return [];
}

/** Checks that ACM can issue a certificate whose domain name is `name` (`mta-sts.<domain>`). */
export function validateCertificateName(name: string, prop: string, domainName: string): string[] {
  if (name.length <= MAX_CERTIFICATE_NAME_LENGTH) {
    return [];
  }
  return [
    `\`${prop}\` must be at most ${MAX_CERTIFICATE_NAME_LENGTH - 'mta-sts.'.length} characters so that ${quote(name)} fits ACM's `
    + `${MAX_CERTIFICATE_NAME_LENGTH}-character limit on a certificate's domain name (or pass a certificate), got: ${quote(domainName)} (${domainName.length} characters)`,
  ];
}

/** A DNS-validated certificate for exactly one `mta-sts.<domain>` name. */
export function createPolicyHostCertificate(scope: Construct, id: string, name: string, zone: route53.IHostedZone): acm.Certificate {
  return new acm.Certificate(scope, id, {
    domainName: name,
    validation: acm.CertificateValidation.fromDns(zone),
  });
}
