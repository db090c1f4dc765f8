/**
 * What a synthesized template publishes once deployed: runs the real publisher handler over each
 * `Custom::MtaStsPolicyPublication` of the template, against in-memory S3 and Route 53 (which
 * cannot run here), and returns the bucket objects and TXT records it wrote.
 */
import { MemoryAws, memoryAws } from './memory-aws';
import { CloudFormationEvent, publish, PublicationProperties, unquoteTxt } from '../../src/handlers/publisher';

interface Template { readonly Resources?: Record<string, { Type: string; Properties?: Record<string, unknown> }> }

/** Resolves a Ref or an Fn::GetAtt to a stable placeholder, and literals to themselves. */
function literal(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  const ref = (value as { Ref?: string }).Ref;
  if (ref) {
    return `physical-${ref}`.toLowerCase();
  }
  throw new Error(`unexpected property value ${JSON.stringify(value)}`);
}

export interface Published {
  readonly aws: MemoryAws;
  /** The policy file stored for a domain. */
  body(domainName: string): string | undefined;
  /** The TXT records at a name (any zone), one array of character-strings per record, as a resolver returns them. */
  txt(recordName: string): string[][];
}

export async function deployTemplate(template: Template, aws: MemoryAws = memoryAws()): Promise<Published> {
  const keys = new Map<string, string>();
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
    if (resource.Type !== 'Custom::MtaStsPolicyPublication') {
      continue;
    }
    const properties = Object.fromEntries(Object.entries(resource.Properties ?? {})
      .filter(([key]) => key !== 'ServiceToken')
      .map(([key, value]) => [key, literal(value)])) as unknown as PublicationProperties;
    const event: CloudFormationEvent = {
      RequestType: 'Create',
      ResponseURL: 'https://cloudformation-response.invalid/',
      StackId: 'stack',
      RequestId: `request-${logicalId}`,
      LogicalResourceId: logicalId,
      ResourceProperties: properties,
    };
    await publish(event, aws);
    keys.set(properties.DomainName, `${properties.BucketName}/${properties.ObjectKey}`);
  }
  return {
    aws,
    body: (domainName) => {
      const key = keys.get(domainName);
      return key === undefined ? undefined : aws.objects.get(key);
    },
    txt: (recordName) => [...aws.records.entries()]
      .filter(([key]) => key.split('/')[1] === recordName.toLowerCase().replace(/\.$/, ''))
      .flatMap(([, values]) => values.map(value => [...value.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map(m => unquoteTxt(`"${m[1]}"`)))),
  };
}
