/**
 * Reads what a synthesized template would publish: the policy files uploaded to S3 and the
 * Route 53 records. It reads the template only, never the construct, so it shows what
 * CloudFormation would actually be asked to create.
 */

export interface PublishedRecord {
  readonly name: string;
  readonly type: string;
  readonly value: string;
}

export interface PublishedPolicy {
  readonly key: string;
  readonly body: string;
}

type Template = { Resources: Record<string, { Type: string; Properties?: any }> };

/** Turns a CloudFormation value into a string, writing references as ${Name}. */
export function flatten(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  if (value && typeof value === 'object') {
    const v = value as Record<string, any>;
    if ('Fn::Join' in v) {
      const [sep, parts] = v['Fn::Join'];
      return (parts as unknown[]).map(flatten).join(sep);
    }
    if ('Ref' in v) {
      return `\${${v.Ref}}`;
    }
    if ('Fn::GetAtt' in v) {
      return `\${${(v['Fn::GetAtt'] as string[]).join('.')}}`;
    }
  }
  return JSON.stringify(value);
}

/** The policy files the template publishes, from its Custom::MtaStsPolicyPublication resources. */
export function publishedPolicies(template: Template): PublishedPolicy[] {
  return Object.values(template.Resources)
    .filter(resource => resource.Type === 'Custom::MtaStsPolicyPublication')
    .map(resource => ({ key: flatten(resource.Properties.ObjectKey), body: resource.Properties.PolicyText }));
}

/**
 * The Route 53 records the template creates, and the `_mta-sts` TXT record each publication
 * writes at deploy time (its id ends in a stamp made then, shown as <stamp>).
 */
export function publishedRecords(template: Template): PublishedRecord[] {
  const resources = Object.values(template.Resources);
  const recordSets = resources
    .filter(resource => resource.Type === 'AWS::Route53::RecordSet')
    .map(resource => {
      const p = resource.Properties;
      const value = p.AliasTarget
        ? `ALIAS ${flatten(p.AliasTarget.DNSName)}`
        : (p.ResourceRecords as unknown[]).map(flatten).join(' ');
      return { name: flatten(p.Name), type: p.Type, value };
    });
  const announced = resources
    .filter(resource => resource.Type === 'Custom::MtaStsPolicyPublication')
    .map(resource => ({
      name: `${flatten(resource.Properties.RecordName)}.`,
      type: 'TXT',
      value: `"v=STSv1; id=${resource.Properties.ContentId}<stamp>"  (written at deploy, after the file)`,
    }));
  return [...recordSets, ...announced];
}
