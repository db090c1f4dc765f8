/**
 * What a synthesized app publishes once deployed: for each stack with MTA-STS publications, its
 * packaged publisher (the `cdk.out` asset, through aws-cdk-lib's entrypoint) creates each
 * `Custom::MtaStsPolicyPublication` against moto, in zones and a bucket made there for it; the
 * result is what moto then holds: the policy files and the TXT records, as senders would read them.
 */
import { CreateHostedZoneCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { App } from 'aws-cdk-lib';
import { DUMMY_CREDENTIALS, Moto } from './moto';
import { cfnEvent, invoke, openStack } from './packaged';
import { txtStrings } from './txt';
import { PUBLICATION_RESOURCE_TYPE } from '../../src/core/publication';

export interface Published {
  /** The policy file stored for a domain. */
  body(domainName: string): string | undefined;
  /** The TXT records at a name (any zone), one array of character-strings per record, as a resolver returns them. */
  txt(recordName: string): string[][];
}

const dotted = (name: string) => `${name.toLowerCase().replace(/\.$/, '')}.`;

/** Deploys the publications of `app` against `moto` (reset it between apps) and reads back what they wrote. */
export async function deployApp(app: App, moto: Moto): Promise<Published> {
  const config = { endpoint: moto.endpoint, region: 'us-east-1', credentials: DUMMY_CREDENTIALS };
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  const route53 = new Route53Client(config);
  const assembly = app.synth();
  const zones = new Map<string, string>();
  const objects = new Map<string, { bucket: string; key: string }>();

  for (const artifact of assembly.stacks) {
    const publications = Object.entries<any>(artifact.template.Resources ?? {}).filter(([, r]) => r.Type === PUBLICATION_RESOURCE_TYPE);
    if (publications.length === 0) {
      continue;
    }
    // A bucket in moto for each bucket the publications write to.
    const refs: Record<string, string> = {};
    for (const [, resource] of publications) {
      const logicalId: string = resource.Properties.BucketName.Ref;
      if (!refs[logicalId]) {
        refs[logicalId] = `policies-${Object.keys(refs).length}-${artifact.stackName.toLowerCase()}`;
        await s3.send(new CreateBucketCommand({ Bucket: refs[logicalId] }));
      }
    }
    const stack = openStack(assembly.directory, artifact.stackName, { refs });
    const publisher = stack.findFunction('MtaStsPolicyPublisher');
    for (const [logicalId, resource] of publications) {
      const { ServiceToken: _token, DistributionId: _id, ...props } = stack.resolve({ ...resource.Properties, DistributionId: 'unused' }) as Record<string, string>;
      // A zone in moto for the template's zone id, named after the record's parent.
      const zoneName = props.RecordName.replace(/^_mta-sts\./, '');
      let zoneId = zones.get(props.HostedZoneId);
      if (!zoneId) {
        const created = await route53.send(new CreateHostedZoneCommand({ Name: zoneName, CallerReference: `${props.HostedZoneId}-${Date.now()}` }));
        zoneId = created.HostedZone!.Id!.replace('/hostedzone/', '');
        zones.set(props.HostedZoneId, zoneId);
      }
      const event = cfnEvent('Create', {
        logicalId,
        resourceType: PUBLICATION_RESOURCE_TYPE,
        serviceToken: publisher.functionArn,
        properties: { ...props, HostedZoneId: zoneId, DistributionId: 'E2EXAMPLE1' },
        stackName: artifact.stackName,
        region: stack.region,
      });
      const run = await invoke(publisher, event, { endpoint: moto.endpoint });
      if (run.response?.Status !== 'SUCCESS') {
        throw new Error(`publishing ${props.DomainName} failed: ${run.response?.Reason ?? run.error?.errorMessage}`);
      }
      objects.set(props.DomainName, { bucket: props.BucketName, key: props.ObjectKey });
    }
  }

  const bodies = new Map<string, string>();
  for (const [domain, { bucket, key }] of objects) {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    bodies.set(domain, await got.Body!.transformToString());
  }
  const records: Array<{ name: string; strings: string[] }> = [];
  for (const zoneId of zones.values()) {
    const sets = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
    for (const set of sets.ResourceRecordSets ?? []) {
      if (set.Type === 'TXT') {
        for (const record of set.ResourceRecords ?? []) {
          records.push({ name: dotted(set.Name!), strings: txtStrings(record.Value ?? '') });
        }
      }
    }
  }
  return {
    body: (domainName) => bodies.get(domainName),
    txt: (recordName) => records.filter(r => r.name === dotted(recordName)).map(r => r.strings),
  };
}
