/**
 * Synthesis is deterministic: the same configuration gives byte-identical templates in any App,
 * and neither the key order of the props nor the order in which two MtaSts are built changes a
 * logical id or a template. A churning template would replace resources, or re-announce a
 * policy id, on every deployment.
 */
import { createHash } from 'node:crypto';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { MtaSts, MtaStsMode, MtaStsProps } from '../src';

const ACCOUNT = '111111111111';
const HOSTED_ZONE_ID = 'Z0123456789ABCDEFGHIJ';

type PropsWithoutZone = Omit<MtaStsProps, 'hostedZone' | 'certificate'>;

interface Config {
  readonly name: string;
  readonly region: string;
  readonly zoneName: string;
  /** One entry per MtaSts in the stack: construct id and props. */
  readonly instances: ReadonlyArray<readonly [string, PropsWithoutZone]>;
  /** Import a us-east-1 certificate instead of letting the construct create one. */
  readonly suppliedCertificate?: boolean;
}

const ENFORCE: PropsWithoutZone = {
  mode: MtaStsMode.ENFORCE,
  mx: ['mx1.example.com', '*.mail.example.com'],
  maxAge: Duration.days(14),
  tlsRpt: { rua: ['mailto:tls-reports@example.com', 'https://tlsrpt.example.com/v1'] },
  priceClass: cloudfront.PriceClass.PRICE_CLASS_ALL,
  removalPolicy: RemovalPolicy.DESTROY,
  recordTtl: Duration.minutes(1),
};

const CONFIGS: Config[] = [
  { name: 'testing mode with defaults', region: 'us-east-1', zoneName: 'example.com', instances: [['MtaSts', { mx: ['mx1.example.com', 'mx2.example.com'] }]] },
  { name: 'enforce mode with wildcards, TLS-RPT and every option', region: 'us-east-1', zoneName: 'example.com', instances: [['MtaSts', ENFORCE]] },
  { name: 'none mode', region: 'us-east-1', zoneName: 'example.com', instances: [['MtaSts', { mode: MtaStsMode.NONE, mx: [], maxAge: Duration.days(1) }]] },
  {
    name: 'an internationalised domain',
    region: 'us-east-1',
    zoneName: 'bücher.example',
    instances: [['MtaSts', { mode: MtaStsMode.ENFORCE, mx: ['mx.bücher.example', '*.post.bücher.example'], tlsRpt: { rua: ['mailto:tls@xn--bcher-kva.example'] } }]],
  },
  { name: 'a supplied certificate', region: 'us-east-1', zoneName: 'example.com', instances: [['MtaSts', ENFORCE]], suppliedCertificate: true },
  { name: 'a stack in eu-west-1 with a us-east-1 companion stack', region: 'eu-west-1', zoneName: 'example.com', instances: [['MtaSts', ENFORCE]] },
  {
    name: 'a stack in eu-west-1 with a supplied certificate',
    region: 'eu-west-1',
    zoneName: 'example.com',
    instances: [['MtaSts', ENFORCE]],
    suppliedCertificate: true,
  },
  { name: 'outputs turned off', region: 'us-east-1', zoneName: 'example.com', instances: [['MtaSts', { ...ENFORCE, outputs: false }]] },
  {
    name: 'two policy domains in one eu-west-1 stack',
    region: 'eu-west-1',
    zoneName: 'example.com',
    instances: [
      ['Main', ENFORCE],
      ['Eu', { domainName: 'eu.example.com', mx: ['mx.eu.example.com'], tlsRpt: { rua: ['mailto:tls-reports@example.com'] } }],
    ],
  },
];

/** Builds the configuration in a new App and returns every stack's template, by artifact id. */
function synthesize(
  config: Config,
  reorder: (props: PropsWithoutZone) => PropsWithoutZone = props => props,
  reverseInstances = false,
): Record<string, string> {
  const app = new App();
  const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: config.region } });
  const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: HOSTED_ZONE_ID, zoneName: config.zoneName });
  const certificate = config.suppliedCertificate
    ? acm.Certificate.fromCertificateArn(stack, 'Certificate', `arn:aws:acm:us-east-1:${ACCOUNT}:certificate/11111111-2222-3333-4444-555555555555`)
    : undefined;
  const instances = reverseInstances ? [...config.instances].reverse() : config.instances;
  for (const [id, props] of instances) {
    new MtaSts(stack, id, { hostedZone, certificate, ...reorder(props) });
  }
  const assembly = app.synth();
  return Object.fromEntries(assembly.stacks.map(artifact => [artifact.id, JSON.stringify(artifact.template)]));
}

/** The same props with their keys, and the keys of nested objects, in reverse order. */
function reverseKeys(props: PropsWithoutZone): PropsWithoutZone {
  const entries = Object.entries(props).reverse().map(([key, value]) => [
    key,
    value && typeof value === 'object' && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype
      ? Object.fromEntries(Object.entries(value).reverse())
      : value,
  ]);
  return Object.fromEntries(entries) as PropsWithoutZone;
}

/** JSON with object keys sorted at every level: equal for templates that differ only in key order. */
function canonical(json: string): string {
  const sort = (value: unknown): unknown => {
    if (Array.isArray(value)) {
      return value.map(sort);
    }
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.keys(value).sort().map(key => [key, sort((value as Record<string, unknown>)[key])]));
    }
    return value;
  };
  return JSON.stringify(sort(JSON.parse(json)));
}

/**
 * `canonical`, but with the publisher role's inline statements sorted: their order follows the
 * order in which the constructs granted them (see the test.failing below).
 */
function canonicalIgnoringGrantOrder(json: string): string {
  const template = JSON.parse(json);
  for (const resource of Object.values(template.Resources ?? {}) as any[]) {
    if (resource.Type === 'AWS::IAM::Role') {
      for (const policy of resource.Properties.Policies ?? []) {
        const key = (statement: unknown) => canonical(JSON.stringify(statement));
        policy.PolicyDocument.Statement = [...policy.PolicyDocument.Statement].sort((a: unknown, b: unknown) => key(a).localeCompare(key(b)));
      }
    }
  }
  return canonical(JSON.stringify(template));
}

function resourceIds(json: string): string[] {
  return Object.keys(JSON.parse(json).Resources ?? {}).sort();
}

describe.each(CONFIGS)('synthesizing $name', (config) => {
  // GIVEN / WHEN
  const first = synthesize(config);

  test('gives byte-identical templates in two separate Apps', () => {
    // WHEN
    const second = synthesize(config);

    // THEN
    expect(Object.keys(second)).toEqual(Object.keys(first));
    for (const id of Object.keys(first)) {
      expect({ id, template: second[id] }).toEqual({ id, template: first[id] });
    }
  });

  test('gives byte-identical templates when the props are written in another key order', () => {
    // WHEN
    const reordered = synthesize(config, reverseKeys);

    // THEN
    expect(reordered).toEqual(first);
  });

  test('creates the expected stacks, with every resource in the us-east-1 one', () => {
    // THEN
    const companion = config.region !== 'us-east-1';
    const home = companion ? 'Stack-MtaSts' : 'Stack';
    expect(Object.keys(first).sort()).toEqual(companion ? ['Stack', 'Stack-MtaSts'] : ['Stack']);
    expect(first[home]).toContain('"Type":"Custom::MtaStsPolicyPublication"');
    expect(first[home].includes('"Type":"AWS::CertificateManager::Certificate"')).toBe(!config.suppliedCertificate);
    if (companion) {
      expect(JSON.parse(first.Stack).Resources).toBeUndefined();
    }
  });

  test('writes the synth-time content id, never a deploy-time stamp, into the template', () => {
    // THEN: each publication carries ContentId = the first 16 hex of the SHA-256 of its PolicyText
    const home = JSON.parse(first[config.region !== 'us-east-1' ? 'Stack-MtaSts' : 'Stack']);
    const publications = Object.values(home.Resources).filter((r: any) => r.Type === 'Custom::MtaStsPolicyPublication') as any[];
    expect(publications).toHaveLength(config.instances.length);
    for (const publication of publications) {
      const { PolicyText, ContentId } = publication.Properties;
      expect(ContentId).toBe(createHash('sha256').update(PolicyText, 'utf8').digest('hex').slice(0, 16));
    }
    expect(Object.values(first).join('')).not.toMatch(/20\d{12}/);
  });

  if (config.instances.length > 1) {
    test('keeps every logical id and template when the MtaSts are built in the other order', () => {
      // WHEN
      const reversed = synthesize(config, undefined, true);

      // THEN
      expect(Object.keys(reversed).sort()).toEqual(Object.keys(first).sort());
      for (const id of Object.keys(first)) {
        expect({ id, resources: resourceIds(reversed[id]) }).toEqual({ id, resources: resourceIds(first[id]) });
        expect({ id, template: canonicalIgnoringGrantOrder(reversed[id]) }).toEqual({ id, template: canonicalIgnoringGrantOrder(first[id]) });
      }
    });

    // Known issue: the publisher role lists one s3 statement per bucket in the order the
    // constructs were built, so reordering two MtaSts in the code updates the role (no
    // replacement, no new policy id). Remove `.failing` once the grants are sorted.
    test('keeps the publisher role\'s statements in the same order when the MtaSts are built in the other order', () => {
      // WHEN
      const reversed = synthesize(config, undefined, true);

      // THEN
      for (const id of Object.keys(first)) {
        expect({ id, template: canonical(reversed[id]) }).toEqual({ id, template: canonical(first[id]) });
      }
    });
  }
});

describe('two MtaSts in one us-east-1 stack', () => {
  const config: Config = {
    name: 'two policy domains in us-east-1',
    region: 'us-east-1',
    zoneName: 'example.com',
    instances: [
      ['Main', ENFORCE],
      ['Eu', { domainName: 'eu.example.com', mx: ['mx.eu.example.com'], tlsRpt: { rua: ['mailto:tls-reports@example.com'] } }],
    ],
  };

  test('keep every logical id and template when built in the other order', () => {
    // GIVEN / WHEN
    const forward = synthesize(config);
    const reversed = synthesize(config, undefined, true);

    // THEN
    expect(resourceIds(reversed.Stack)).toEqual(resourceIds(forward.Stack));
    expect(canonicalIgnoringGrantOrder(reversed.Stack)).toBe(canonicalIgnoringGrantOrder(forward.Stack));
  });

  test('give each instance the logical ids it has when alone in the stack', () => {
    // GIVEN / WHEN
    const both = resourceIds(synthesize(config).Stack);
    const eu = resourceIds(synthesize({ ...config, instances: [config.instances[1]] }).Stack);

    // THEN: adding a second domain does not rename the first one's resources
    expect(both).toEqual(expect.arrayContaining(eu));
  });
});
