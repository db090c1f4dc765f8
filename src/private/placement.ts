import { Names, Stack, Token } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { Construct } from 'constructs';
import { CLOUDFRONT_CERTIFICATE_REGION } from './certificate';
import { quote } from './hostname';

/** Where a construct's resources go: problems to report, or a way to get the scope. */
export interface Placement {
  readonly problems: string[];
  /** The scope to create the resources in; call only when there are no problems. */
  readonly scope: () => Construct;
}

export interface PlacementProps {
  /** The hosted zones the resources write to, each with the prop that gave it (`hostedZone`, `domains[2].hostedZone`). */
  readonly zones: ReadonlyArray<{ readonly zone: route53.IHostedZone; readonly prop: string }>;
  /** Whether the user supplied the certificate (then nothing needs us-east-1). */
  readonly certificateSupplied: boolean;
}

/**
 * Decides where an MTA-STS construct's resources live.
 *
 * - Stack in us-east-1: in the construct itself.
 * - Stack in another region: everything (bucket, certificates, distributions, records, the
 *   publisher) in ONE companion stack `<stack id>-MtaSts` in us-east-1, created on first use
 *   beside the stack, which depends on it (so `cdk deploy <stack>` deploys it first). CloudFront,
 *   ACM's CloudFront certificates and Route 53 are global or us-east-1 services; keeping them in
 *   one stack means no cross-region reference: adding, removing or renaming a domain is one
 *   stack update, with no export that changes or disappears while imported.
 * - Stack with no region: in place when the certificate is supplied, else an error.
 */
export function placeResources(construct: Construct, props: PlacementProps): Placement {
  const stack = Stack.of(construct);
  if (Token.isUnresolved(stack.region)) {
    if (props.certificateSupplied) {
      return { problems: [], scope: () => construct };
    }
    return {
      problems: [
        `\`certificate\` is required when the stack has no region: CloudFront needs a certificate in ${CLOUDFRONT_CERTIFICATE_REGION}, `
        + 'so give the stack an env with a region (the construct then creates the certificate) or pass a us-east-1 certificate, '
        + `got: stack ${quote(stack.stackName)} with an unresolved region`,
      ],
      scope: unreachable,
    };
  }
  if (stack.region === CLOUDFRONT_CERTIFICATE_REGION) {
    return { problems: [], scope: () => construct };
  }
  const problems = props.zones.filter(({ zone }) => Token.isUnresolved(zone.hostedZoneId)).map(({ prop }) =>
    `\`${prop}\` must have a literal hosted zone id when the stack is outside ${CLOUDFRONT_CERTIFICATE_REGION}, since the construct's `
    + `resources are then created in a companion stack in ${CLOUDFRONT_CERTIFICATE_REGION}: import the zone with `
    + `HostedZone.fromHostedZoneAttributes, got: a zone whose id is an unresolved token (stack ${quote(stack.stackName)} in ${stack.region})`);
  return {
    problems,
    scope: () => new Construct(companionStack(stack), Names.uniqueId(construct)),
  };
}

function unreachable(): never {
  throw new Error('unreachable: placement has problems');
}

/** The us-east-1 stack that holds the MTA-STS resources of `stack`, created on first use beside it. */
function companionStack(stack: Stack): Stack {
  const id = `${stack.node.id}-MtaSts`;
  const parent = stack.node.scope!;
  const existing = parent.node.tryFindChild(id);
  if (existing) {
    return existing as Stack;
  }
  const companion = new Stack(parent, id, {
    env: { account: stack.account, region: CLOUDFRONT_CERTIFICATE_REGION },
    description: `MTA-STS policy hosting and records (CloudFront, ACM, Route 53) for stack ${stack.stackName}, kept in ${CLOUDFRONT_CERTIFICATE_REGION}`,
  });
  const reason = 'cdk-mta-sts: the MTA-STS resources of this stack live in its us-east-1 companion stack';
  // Newer aws-cdk-lib versions rename Stack.addDependency to addStackDependency (2.197.0 has only the first).
  const withNewName = stack as unknown as { addStackDependency?: (target: Stack, reason?: string) => void };
  if (typeof withNewName.addStackDependency === 'function') {
    withNewName.addStackDependency(companion, reason);
  } else {
    stack.addDependency(companion, reason);
  }
  return companion;
}
