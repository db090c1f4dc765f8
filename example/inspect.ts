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

/** The policy objects the template uploads, from the Custom::MtaStsPolicyObject resources. */
export function publishedPolicies(template: Template): PublishedPolicy[] {
  return Object.values(template.Resources)
    .filter(resource => resource.Type === 'Custom::MtaStsPolicyObject')
    .map(resource => {
      const call = JSON.parse(flatten(resource.Properties.Create));
      return { key: call.parameters.Key, body: call.parameters.Body };
    });
}

/** The Route 53 records the template creates. */
export function publishedRecords(template: Template): PublishedRecord[] {
  return Object.values(template.Resources)
    .filter(resource => resource.Type === 'AWS::Route53::RecordSet')
    .map(resource => {
      const p = resource.Properties;
      const value = p.AliasTarget
        ? `ALIAS ${flatten(p.AliasTarget.DNSName)}`
        : (p.ResourceRecords as unknown[]).map(flatten).join(' ');
      return { name: flatten(p.Name), type: p.Type, value };
    });
}
