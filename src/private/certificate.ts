import { Arn, ArnFormat, Stack, Token } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { Construct } from 'constructs';
import { quote } from './hostname';

/** CloudFront only uses ACM certificates from this region. */
export const CLOUDFRONT_CERTIFICATE_REGION = 'us-east-1';

export interface CertificatePlanProps {
  /** The names the certificate must cover; the first is its subject. */
  readonly names: string[];
  /** The hosted zone that validates each name. */
  readonly zones: route53.IHostedZone[];
  /** A certificate the user supplied, if any. */
  readonly supplied?: acm.ICertificate;
  /** The id of the certificate construct when it is created beside the caller (us-east-1 stacks). */
  readonly id: string;
  /** The id of the certificate construct in the companion stack; unique in that stack. */
  readonly companionId: string;
}

/** What `planCertificate` found: problems to report, or a way to get the certificate. */
export interface CertificatePlan {
  readonly problems: string[];
  /**
   * Creates (or returns) the certificate; call only when there are no problems. A certificate
   * created beside the caller goes into `where` (default: the scope given to planCertificate).
   */
  readonly obtain: (where?: Construct) => acm.ICertificate;
}

/**
 * Decides where the CloudFront certificate comes from, without creating anything yet:
 *
 * - a supplied certificate is used as is, but one whose region is known and is not
 *   us-east-1 is an error;
 * - in a us-east-1 stack, a DNS-validated certificate is created in place;
 * - in a stack in another known region, it is created in a companion stack in us-east-1
 *   (one per stack, created on demand) and referenced through CDK's cross-region references;
 * - in a stack with no region, there is no way to place it: an error says what to do.
 */
export function planCertificate(scope: Construct, props: CertificatePlanProps): CertificatePlan {
  if (props.supplied) {
    const supplied = props.supplied;
    // An imported certificate's region is in its ARN; a created one's is its stack's.
    const region = Token.isUnresolved(supplied.certificateArn)
      ? supplied.env.region
      : Arn.split(supplied.certificateArn, ArnFormat.SLASH_RESOURCE_NAME).region;
    const problems = Token.isUnresolved(region) || region === CLOUDFRONT_CERTIFICATE_REGION ? [] : [
      `\`certificate\` must be in ${CLOUDFRONT_CERTIFICATE_REGION}, the only region CloudFront takes certificates from, got: a certificate in ${quote(region)}`,
    ];
    return { problems, obtain: () => supplied };
  }

  const stack = Stack.of(scope);
  const create = (certificateScope: Construct, id: string) => new acm.Certificate(certificateScope, id, {
    domainName: props.names[0],
    subjectAlternativeNames: props.names.length > 1 ? props.names.slice(1) : undefined,
    validation: props.names.length === 1
      ? acm.CertificateValidation.fromDns(props.zones[0])
      : acm.CertificateValidation.fromDnsMultiZone(Object.fromEntries(props.names.map((name, i) => [name, props.zones[i]]))),
  });

  if (Token.isUnresolved(stack.region)) {
    return {
      problems: [
        `\`certificate\` is required when the stack has no region: CloudFront needs a certificate in ${CLOUDFRONT_CERTIFICATE_REGION}, `
        + 'so give the stack an env with a region (the construct then creates the certificate) or pass a us-east-1 certificate, '
        + `got: stack ${quote(stack.stackName)} with an unresolved region`,
      ],
      obtain: () => { throw new Error('unreachable'); },
    };
  }
  if (stack.region === CLOUDFRONT_CERTIFICATE_REGION) {
    return { problems: [], obtain: (where: Construct = scope) => create(where, props.id) };
  }

  const problems: string[] = [];
  if (!crossRegionReferencesEnabled(stack)) {
    problems.push(
      `\`certificate\` must be given, or the stack must set \`crossRegionReferences: true\`: stack ${quote(stack.stackName)} is in ${stack.region}, `
      + `CloudFront needs a certificate in ${CLOUDFRONT_CERTIFICATE_REGION}, and the construct creates it in a companion stack there `
      + 'that only cross-region references can connect, got: crossRegionReferences not enabled',
    );
  }
  props.zones.forEach((zone) => {
    if (Token.isUnresolved(zone.hostedZoneId)) {
      problems.push(
        `\`hostedZone\` must have a literal hosted zone id when the certificate is created in ${CLOUDFRONT_CERTIFICATE_REGION} for a stack in ${stack.region}: `
        + 'import the zone with HostedZone.fromHostedZoneAttributes, or pass `certificate`, got: a zone whose id is an unresolved token',
      );
    }
  });
  return {
    problems: [...new Set(problems)],
    obtain: () => create(companionStack(stack), props.companionId),
  };
}

function crossRegionReferencesEnabled(stack: Stack): boolean {
  // Stack exposes the flag it was created with; there is no public getter.
  return (stack as unknown as { _crossRegionReferences?: boolean })._crossRegionReferences === true;
}

/**
 * The us-east-1 stack that holds certificates for `stack`, created on first use beside it.
 */
function companionStack(stack: Stack): Stack {
  const id = `${stack.node.id}-MtaStsCertificates`;
  const parent = stack.node.scope!;
  const existing = parent.node.tryFindChild(id);
  if (existing) {
    return existing as Stack;
  }
  return new Stack(parent, id, {
    env: { account: stack.account, region: CLOUDFRONT_CERTIFICATE_REGION },
    crossRegionReferences: true,
    description: `ACM certificates in ${CLOUDFRONT_CERTIFICATE_REGION} for the MTA-STS distributions of stack ${stack.stackName}`,
  });
}
