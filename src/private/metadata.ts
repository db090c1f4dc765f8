import { IConstruct } from 'constructs';
import { PolicyDomainMetadata, POLICY_DOMAIN_METADATA_TYPE } from '../core/assembly-metadata';
import type { MtaStsPolicy } from '../policy';
import { policyHostOf } from './names';

export interface PolicyDomainRecordProps {
  readonly domainName: string;
  readonly policy: MtaStsPolicy;
  readonly policyRecordName: string;
  readonly tlsRptRecordName?: string;
  readonly tlsRptRecordValue?: string;
}

/**
 * Records in the cloud assembly what `construct` publishes for one policy domain, for
 * `cdk-mta-sts check --assembly` (see core/assembly-metadata.ts).
 */
export function recordPolicyDomain(construct: IConstruct, props: PolicyDomainRecordProps): void {
  const data: PolicyDomainMetadata = {
    domainName: props.domainName,
    policyHost: policyHostOf(props.domainName),
    policyText: props.policy.text,
    contentId: props.policy.contentId,
    mode: props.policy.mode,
    policyRecordName: props.policyRecordName,
    ...(props.tlsRptRecordValue !== undefined ? { tlsRptRecordName: props.tlsRptRecordName, tlsRptRecordValue: props.tlsRptRecordValue } : {}),
  };
  construct.node.addMetadata(POLICY_DOMAIN_METADATA_TYPE, data);
}
