import { CfnResource, Stack } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * cdk-nag (AwsSolutionsChecks) suppressions, written as the CloudFormation metadata cdk-nag reads,
 * so the library needs no dependency on cdk-nag.
 *
 * cdk-nag looks for `Metadata.cdk_nag.rules_to_suppress: [{ id, reason, applies_to? }]` on each
 * CfnResource it checks (see cdk-nag's NagSuppressions.addResourceSuppressions). Each suppression
 * here says why the finding does not apply to a publicly readable MTA-STS policy file; everything
 * that could be fixed in the construct's defaults is fixed there instead (private bucket, TLS-only
 * bucket policy, origin access control, TLSv1.2_2021, HTTPS only).
 */

/** One suppressed rule, in cdk-nag's API shape. */
export interface NagSuppression {
  /** The rule id, e.g. `AwsSolutions-S1`. */
  readonly id: string;
  /** Why the finding does not apply; cdk-nag requires at least 10 characters. */
  readonly reason: string;
  /** Only these findings of a granular rule (e.g. one managed policy of IAM4). */
  readonly appliesTo?: string[];
}

/** The metadata key cdk-nag reads suppressions from. */
export const NAG_METADATA_KEY = 'cdk_nag';

/**
 * The id of the Lambda function that aws-cdk-lib's AwsCustomResource shares between all custom
 * resources of a stack (SingletonFunction: lambdaPurpose `AWS` plus its fixed uuid).
 */
export const AWS_CUSTOM_RESOURCE_SINGLETON_ID = 'AWS679f53fac002430cb0da5b7982bd2287';

/** The only AWS managed policy aws-cdk-lib attaches to a Lambda function's default role. */
const LAMBDA_BASIC_EXECUTION_FINDING = 'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole';

/** Suppressions for the resources that serve policy files, by CloudFormation type. */
export const POLICY_HOSTING_SUPPRESSIONS: Readonly<Record<string, readonly NagSuppression[]>> = {
  'AWS::S3::Bucket': [{
    id: 'AwsSolutions-S1',
    reason: 'The bucket only holds MTA-STS policy files, whose content is public by design. All public access is '
      + 'blocked, the bucket policy denies requests without TLS 1.2, the only reader is CloudFront through origin access '
      + 'control, and the only writer is the deploy-time custom resource (a CloudFormation deployment, which CloudTrail '
      + 'records; enable CloudTrail S3 data events where object-level audit is required). Server access logs would '
      + 'record nothing but those requests, at the cost of a second bucket per stack.',
  }],
  'AWS::CloudFront::Distribution': [
    {
      id: 'AwsSolutions-CFR1',
      reason: 'Geo restriction does not apply: under RFC 8461 every sending mail server, in any country, fetches this '
        + 'policy before delivering mail to the domain; blocking a country would stop its senders from validating the '
        + 'domain\'s MX hosts and so weaken, not strengthen, the protection of mail sent from there.',
    },
    {
      id: 'AwsSolutions-CFR2',
      reason: 'The distribution serves small static text files: GET and HEAD only, no query strings, cookies or '
        + 'bodies forwarded, no compute behind the S3 origin, so there is no application for WAF rules to protect; '
        + 'AWS Shield Standard covers it. Caching is disabled (senders must see a new policy at once), so a request '
        + 'flood costs S3 GETs; owners who want a rate limit can attach a web ACL with distribution.attachWebAclId().',
    },
    {
      id: 'AwsSolutions-CFR3',
      reason: 'The distribution serves public, static, non-personal policy files to mail servers validating the '
        + 'domain; senders report delivery and TLS problems through TLS-RPT (RFC 8460) and CloudFront request and error '
        + 'metrics are in CloudWatch. Access logs would need an ACL-enabled log bucket and a retention choice; owners '
        + 'who need them can enable CloudFront logging on the distribution.',
    },
  ],
};

/** Suppressions for the stack-level function that runs every AwsCustomResource call. */
const AWS_CUSTOM_RESOURCE_SUPPRESSIONS: Readonly<Record<string, readonly NagSuppression[]>> = {
  'AWS::IAM::Role': [{
    id: 'AwsSolutions-IAM4',
    reason: 'This role belongs to the Lambda function aws-cdk-lib creates for AwsCustomResource (one per stack, '
      + 'shared by all of them). Its only managed policy, AWSLambdaBasicExecutionRole, lets it write its own CloudWatch '
      + 'logs; the permission to write each policy object is a separate IAM policy scoped to that object\'s ARN.',
    appliesTo: [LAMBDA_BASIC_EXECUTION_FINDING],
  }],
  'AWS::Lambda::Function': [{
    id: 'AwsSolutions-L1',
    reason: 'The runtime of the AwsCustomResource Lambda function is chosen by aws-cdk-lib and cannot be set by the '
      + 'construct; it moves to a newer Node.js runtime when aws-cdk-lib is upgraded. Suppressed ahead of time so a '
      + 'newer aws-cdk-lib that knows a later runtime than its custom resources use does not fail users\' checks.',
  }],
};

/**
 * Adds every suppression for what an MTA-STS construct creates: the bucket and distribution
 * beneath `scope`, and the stack-level singletons it caused. Safe to call several times.
 */
export function addNagSuppressions(scope: IConstruct): void {
  suppressPolicyHostingFindings(scope);
  suppressStackSingletonFindings(scope);
}

/**
 * Suppresses the findings of POLICY_HOSTING_SUPPRESSIONS on every matching CfnResource beneath
 * `scope` (included), by CloudFormation type.
 */
export function suppressPolicyHostingFindings(scope: IConstruct): void {
  suppressByType(scope, POLICY_HOSTING_SUPPRESSIONS);
}

/**
 * Suppresses findings on resources that aws-cdk-lib creates once per stack, outside `scope`:
 * the AwsCustomResource singleton function and its role. Does nothing when the stack has none.
 *
 * The cross-region reference custom resources of a stack in another region than its certificate
 * (`ExportsReader`, `ExportsWriter...` and their `Custom::CrossRegionExport*CustomResourceProvider`
 * role and handler) need nothing: aws-cdk-lib writes them as plain CfnResource objects, which the
 * AwsSolutions IAM and Lambda rules (they match CfnRole and CfnFunction) pass over, and it adds
 * them only while preparing synthesis, after every constructor has run.
 */
export function suppressStackSingletonFindings(scope: IConstruct): void {
  const singleton = Stack.of(scope).node.tryFindChild(AWS_CUSTOM_RESOURCE_SINGLETON_ID);
  if (singleton) {
    suppressByType(singleton, AWS_CUSTOM_RESOURCE_SUPPRESSIONS);
  }
}

/**
 * Adds suppressions to one resource's `cdk_nag` metadata, keeping those already there and
 * adding each one only once.
 */
export function addResourceSuppressions(resource: CfnResource, suppressions: readonly NagSuppression[]): void {
  const existing: unknown[] = resource.getMetadata(NAG_METADATA_KEY)?.rules_to_suppress ?? [];
  const serialised = new Set(existing.map(rule => JSON.stringify(rule)));
  const rules = [...existing];
  for (const suppression of suppressions) {
    // cdk-nag's own checks, plus ASCII so the reason is stored as is (cdk-nag base64-encodes reasons beyond Latin-1).
    if (suppression.reason.length < 10 || /\[.*\]/.test(suppression.id) || /[^\x20-\x7e]/.test(suppression.reason)) {
      throw new Error(`cdk-nag suppression ${suppression.id} must have an id without a [finding] and an ASCII reason of at least 10 characters`);
    }
    const rule = toMetadataRule(suppression);
    const key = JSON.stringify(rule);
    if (!serialised.has(key)) {
      serialised.add(key);
      rules.push(rule);
    }
  }
  resource.addMetadata(NAG_METADATA_KEY, { rules_to_suppress: rules });
}

function suppressByType(scope: IConstruct, byType: Readonly<Record<string, readonly NagSuppression[]>>): void {
  for (const node of scope.node.findAll()) {
    if (CfnResource.isCfnResource(node)) {
      const suppressions = byType[node.cfnResourceType];
      if (suppressions) {
        addResourceSuppressions(node, suppressions);
      }
    }
  }
}

/** The metadata shape cdk-nag stores: `applies_to`, not `appliesTo`, and its key order, so its own dedup matches ours. */
function toMetadataRule(suppression: NagSuppression): Record<string, unknown> {
  return {
    reason: suppression.reason,
    id: suppression.id,
    ...(suppression.appliesTo ? { applies_to: [...suppression.appliesTo] } : {}),
  };
}
