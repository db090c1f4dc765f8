/**
 * What the constructs record in the cloud assembly for each policy domain they publish, so the
 * check command (`cdk-mta-sts check --assembly cdk.out`) can compare what is live with what was
 * synthesized. Written with `node.addMetadata(POLICY_DOMAIN_METADATA_TYPE, data)` on the
 * construct that publishes the domain; it appears in the stack artifact's metadata in
 * `manifest.json` under that construct's path.
 */

/** The metadata entry type. */
export const POLICY_DOMAIN_METADATA_TYPE = 'cdk-mta-sts:policy-domain';

/** The data of one metadata entry: one policy domain. */
export interface PolicyDomainMetadata {
  /** The policy domain, normalised (`example.com`). */
  readonly domainName: string;
  /** The host serving the policy (`mta-sts.example.com`). */
  readonly policyHost: string;
  /** The exact policy file served. */
  readonly policyText: string;
  /** The content part of every id announced for this text (see policy-id.ts). */
  readonly contentId: string;
  /** `enforce`, `testing` or `none`. */
  readonly mode: string;
  /** Where the `v=STSv1; id=...` TXT record is written (`_mta-sts.example.com`, or the CNAME target in a delegated zone). */
  readonly policyRecordName: string;
  /** The TLS-RPT record value, when one is published. */
  readonly tlsRptRecordValue?: string;
  /** Where the TLS-RPT record is written, when one is published. */
  readonly tlsRptRecordName?: string;
}
