import * as cdk from 'aws-cdk-lib';
import { CfnResource } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * cdk-nag (AwsSolutionsChecks) acknowledgements, written the way each major version of cdk-nag
 * reads them, so the library needs no dependency on cdk-nag.
 *
 * - cdk-nag 2 reads `Metadata.cdk_nag.rules_to_suppress: [{ id, reason, applies_to? }]` on each
 *   CfnResource it checks (what its NagSuppressions.addResourceSuppressions writes).
 * - cdk-nag 3 (aws-cdk-lib 2.257.0 or later) reads the acknowledgements of aws-cdk-lib's
 *   `Validations.of(construct).acknowledge({ id, reason })`: construct metadata of type
 *   `aws:cdk:acknowledged-rules` holding `{ "<prefix>::<id>": reason }` on the resource or an
 *   ancestor. A finding of a granular rule is acknowledged one by one, as `IAM4[<finding>]`.
 *   `Validations` does not exist in older aws-cdk-lib versions, so it is looked up at run time and
 *   skipped where absent (cdk-nag 3 cannot run there).
 *
 * Each acknowledgement says why the finding does not apply to a publicly readable MTA-STS policy
 * file; everything that could be fixed in the construct's defaults is fixed there instead (private
 * bucket, TLS-only bucket policy, origin access control, TLSv1.2_2021, HTTPS only).
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

/** The CloudFormation metadata key cdk-nag 2 reads suppressions from. */
export const NAG_METADATA_KEY = 'cdk_nag';

/**
 * The construct metadata type of aws-cdk-lib's `Validations.acknowledge()`, which cdk-nag 3 reads
 * (aws-cdk-lib's `Validations.ACKNOWLEDGED_RULES_METADATA_KEY`).
 */
export const ACKNOWLEDGED_RULES_METADATA_TYPE = 'aws:cdk:acknowledged-rules';


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


/**
 * Adds every suppression for what an MTA-STS construct creates: the bucket and distributions
 * beneath `scope`. Safe to call several times.
 *
 * The stack's publisher function and its role need none: aws-cdk-lib's CustomResourceProvider
 * writes them as plain CfnResource objects, which the AwsSolutions IAM and Lambda rules (they
 * match CfnRole and CfnFunction, in cdk-nag 2 and 3 alike) pass over. So do the cross-region
 * reference resources of a user's own cross-region references.
 */
export function addNagSuppressions(scope: IConstruct): void {
  suppressPolicyHostingFindings(scope);
}

/**
 * Suppresses the findings of POLICY_HOSTING_SUPPRESSIONS on every matching CfnResource beneath
 * `scope` (included), by CloudFormation type.
 */
export function suppressPolicyHostingFindings(scope: IConstruct): void {
  suppressByType(scope, POLICY_HOSTING_SUPPRESSIONS);
}


/**
 * Acknowledges findings on one resource in both ways cdk-nag reads them: the v2 `cdk_nag`
 * CloudFormation metadata (keeping what is already there) and, where aws-cdk-lib has
 * `Validations`, the v3 acknowledgements. Adds each one only once.
 */
export function addResourceSuppressions(resource: CfnResource, suppressions: readonly NagSuppression[]): void {
  for (const suppression of suppressions) {
    // cdk-nag's own checks, plus ASCII so the reason is stored as is (cdk-nag base64-encodes reasons beyond Latin-1).
    if (suppression.reason.length < 10 || /\[.*\]/.test(suppression.id) || /[^\x20-\x7e]/.test(suppression.reason)) {
      throw new Error(`cdk-nag suppression ${suppression.id} must have an id without a [finding] and an ASCII reason of at least 10 characters`);
    }
  }
  addCdkNag2Suppressions(resource, suppressions);
  addValidationsAcknowledgements(resource, suppressions);
}

/** cdk-nag 2: `Metadata.cdk_nag.rules_to_suppress` on the resource. */
function addCdkNag2Suppressions(resource: CfnResource, suppressions: readonly NagSuppression[]): void {
  const existing: unknown[] = resource.getMetadata(NAG_METADATA_KEY)?.rules_to_suppress ?? [];
  const serialised = new Set(existing.map(rule => JSON.stringify(rule)));
  const rules = [...existing];
  for (const suppression of suppressions) {
    const rule = toMetadataRule(suppression);
    const key = JSON.stringify(rule);
    if (!serialised.has(key)) {
      serialised.add(key);
      rules.push(rule);
    }
  }
  resource.addMetadata(NAG_METADATA_KEY, { rules_to_suppress: rules });
}

/** The part of aws-cdk-lib's `Validations` (2.257.0 and later) used here. */
interface ValidationsLike {
  of(scope: IConstruct): { acknowledge(...rules: Array<{ id: string; reason: string }>): void };
}

/**
 * aws-cdk-lib's `Validations` class when the installed aws-cdk-lib has it (looked up at run time:
 * this library compiles against aws-cdk-lib versions that do not), otherwise undefined.
 */
export function validationsApi(): ValidationsLike | undefined {
  const candidate = (cdk as unknown as Record<string, unknown>).Validations as Partial<ValidationsLike> | undefined;
  return typeof candidate?.of === 'function' ? candidate as ValidationsLike : undefined;
}

/**
 * The rule ids cdk-nag 3 matches for one suppression: the rule itself, or, for a granular rule
 * narrowed with `appliesTo`, one `Rule[finding]` id per finding.
 */
export function acknowledgementIds(suppression: NagSuppression): string[] {
  return suppression.appliesTo
    ? suppression.appliesTo.map(finding => `${suppression.id}[${finding}]`)
    : [suppression.id];
}

/** The rule ids already acknowledged on the construct itself, without aws-cdk-lib's `annotation::` prefix. */
export function acknowledgedIds(scope: IConstruct): Map<string, string> {
  const ids = new Map<string, string>();
  for (const entry of scope.node.metadata) {
    if (entry.type === ACKNOWLEDGED_RULES_METADATA_TYPE && entry.data && typeof entry.data === 'object') {
      for (const [qualifiedId, reason] of Object.entries(entry.data as Record<string, unknown>)) {
        // aws-cdk-lib before 2.262.1 wrote `annotation::`, later versions `Annotation::`; cdk-nag 3 strips either.
        ids.set(qualifiedId.replace(/^annotation::/i, ''), String(reason));
      }
    }
  }
  return ids;
}

/** cdk-nag 3: `Validations.of(resource).acknowledge({ id, reason })`, when aws-cdk-lib has it. */
function addValidationsAcknowledgements(resource: CfnResource, suppressions: readonly NagSuppression[]): void {
  const validations = validationsApi();
  if (!validations) {
    return;
  }
  const done = acknowledgedIds(resource);
  const rules: Array<{ id: string; reason: string }> = [];
  for (const suppression of suppressions) {
    for (const id of acknowledgementIds(suppression)) {
      if (!done.has(id)) {
        done.set(id, suppression.reason);
        rules.push({ id, reason: suppression.reason });
      }
    }
  }
  if (rules.length > 0) {
    validations.of(resource).acknowledge(...rules);
  }
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
