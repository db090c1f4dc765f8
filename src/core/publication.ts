/**
 * The contract between the construct that declares a policy publication and the Lambda handler
 * that performs it: the custom resource's type, its properties, its answer and its physical id.
 * Both sides import this module, so they cannot drift (a drift is a failed deploy).
 *
 * Pure: no aws-cdk-lib, no AWS SDK.
 */

/** The CloudFormation type of the resource that publishes one domain's policy and announces it. */
export const PUBLICATION_RESOURCE_TYPE = 'Custom::MtaStsPolicyPublication';

/**
 * The properties of a `Custom::MtaStsPolicyPublication`, as CloudFormation passes them to the
 * handler: every value a string (CloudFormation turns booleans and numbers into strings).
 */
export interface PublicationProperties {
  /** The policy domain, normalised. */
  readonly DomainName: string;
  /** The bucket holding the policy file. */
  readonly BucketName: string;
  /** The policy file's key: `policies/<domain>/.well-known/mta-sts.txt`. */
  readonly ObjectKey: string;
  /** The exact bytes of the policy file. */
  readonly PolicyText: string;
  /** The content id of `PolicyText` (core/policy-id.ts); the handler checks it. */
  readonly ContentId: string;
  /** The hosted zone the `_mta-sts` TXT record is written to. */
  readonly HostedZoneId: string;
  /** The name of the `v=STSv1` TXT record: `_mta-sts.<domain>`, or its CNAME target in a delegated zone. */
  readonly RecordName: string;
  /** The record's TTL in seconds. */
  readonly RecordTtl: string;
  /** `'true'` when the policy file stays after the publication is deleted (the bucket is retained). */
  readonly RetainObject: string;
  /** `'true'` when a TXT record this library did not write may be replaced. */
  readonly ReplaceExistingRecord: string;
  /** The distribution serving the domain: a new distribution is a new publication. */
  readonly DistributionId: string;
}

/** The attributes of a publication (`Fn::GetAtt`), answered on Create and Update. */
export interface PublicationAttributes {
  /** The id announced: `<content id><publication stamp>`. */
  readonly PolicyId: string;
  /** The `_mta-sts` TXT value: `v=STSv1; id=<PolicyId>`. */
  readonly RecordValue: string;
}

/** The names of the attributes, for `getAttString`. */
export const PUBLICATION_ATTRIBUTES: { readonly [K in keyof PublicationAttributes]: K } = {
  PolicyId: 'PolicyId',
  RecordValue: 'RecordValue',
};

/** What the handler returns to aws-cdk-lib's custom resource entrypoint. */
export interface PublicationAnswer {
  readonly PhysicalResourceId: string;
  readonly Data?: PublicationAttributes;
}

/**
 * The physical id of a domain's publication. It depends on the domain only, so a new hosted
 * zone, a new record name (delegation switched on or off) or a new bucket is an Update of the
 * same publication, never a replacement whose cleanup Delete would remove what the new one
 * wrote. A renamed domain is a new publication.
 */
export function publicationPhysicalIdOf(domainName: string): string {
  return `mta-sts-publication:${domainName}`;
}
