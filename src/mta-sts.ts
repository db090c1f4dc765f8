import { Construct } from 'constructs';
import { PolicyDomain, PolicyDomainProps } from './policy-domain';

/**
 * Properties of an MtaSts construct: the policy contents plus where and how to publish them.
 */
export interface MtaStsProps extends PolicyDomainProps {}

/**
 * Publishes MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) for one mail domain: a PolicyDomain with
 * a bucket of its own.
 *
 * Creates a private S3 bucket holding the policy file, a CloudFront distribution on
 * `mta-sts.<domain>` with an ACM certificate and A/AAAA alias records, a publishing step that
 * writes the policy file and then the `_mta-sts` TXT record announcing it with a new id, and
 * (with `tlsRpt`) the `_smtp._tls` TXT record. Outside us-east-1 these resources live in a
 * companion stack in us-east-1.
 *
 * @example
 * declare const hostedZone: route53.IHostedZone;
 * new MtaSts(this, 'MtaSts', {
 *   hostedZone,
 *   mx: ['mx1.example.com', '*.mail.example.com'],
 *   tlsRpt: { rua: ['mailto:tls-reports@example.com'] },
 * });
 */
export class MtaSts extends PolicyDomain {
  /**
   * @param scope the parent construct
   * @param id the construct id
   * @param props the policy and where to publish it
   * @throws Error listing every problem when a prop is invalid
   */
  constructor(scope: Construct, id: string, props: MtaStsProps) {
    super(scope, id, props);
  }
}
