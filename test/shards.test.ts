/**
 * MtaStsDomains with `shards`: the domains spread over sibling us-east-1 stacks by a hash of
 * their names, each stack self-contained (bucket, origin access control, publisher), with stable
 * placement and this library's message when a shard would overflow.
 */
import { createHash } from 'node:crypto';
import { App, Stack, Tags } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { Construct } from 'constructs';
import { MtaStsDomainOptions, MtaStsDomains, MtaStsDomainsProps, MtaStsMode, PolicyDomain, TlsRptCollector } from '../src';

const ACCOUNT = '111111111111';
const zoneIdOf = (name: string): string => `Z${name.replace(/\W/g, '').toUpperCase()}`;
const brands = (count: number, from = 0): string[] => Array.from({ length: count }, (_, i) => `brand${from + i}.example`);

/** The placement rule, written out independently: the first 32 bits of SHA-256 of the name, modulo the shard count. */
const expectedShard = (name: string, shards: number): number => createHash('sha256').update(name, 'utf8').digest().readUInt32BE(0) % shards;

function zone(scope: Construct, name: string): route53.IHostedZone {
  return route53.HostedZone.fromHostedZoneAttributes(scope, `Zone-${name}`, { hostedZoneId: zoneIdOf(name), zoneName: name });
}

interface Built {
  readonly app: App;
  readonly stack: Stack;
  readonly domains: MtaStsDomains;
}

function build(names: string[], extra: Partial<MtaStsDomainsProps> = {}, region = 'us-east-1', pins: Record<string, number> = {}): Built {
  const app = new App();
  const stack = new Stack(app, 'Mail', { env: { account: ACCOUNT, region } });
  const domains = new MtaStsDomains(stack, 'Domains', {
    mx: ['*.mail.example.net'],
    tlsRpt: { rua: ['mailto:tls@example.net'] },
    shards: 4,
    domains: names.map((name): MtaStsDomainOptions => ({ hostedZone: zone(stack, name), shard: pins[name] })),
    ...extra,
  });
  return { app, stack, domains };
}

/** Where each domain's distribution is: stack name and logical id. */
function distributionsOf(built: Built): Map<string, string> {
  return new Map(built.domains.domainNames.map(name => {
    const distribution = built.domains.domain(name).distribution;
    const stack = Stack.of(distribution);
    return [name, `${stack.stackName}/${stack.getLogicalId(distribution.node.defaultChild as never)}`];
  }));
}

describe('MtaStsDomains with shards', () => {
  test('places each domain in the shard stack its name hashes to, all in us-east-1, named after the stack and construct', () => {
    // GIVEN / WHEN
    const built = build(brands(60));

    // THEN
    const { app, domains } = built;
    expect(domains.shardStacks.map(s => s.stackName)).toEqual(['Mail-Domains-Shard0', 'Mail-Domains-Shard1', 'Mail-Domains-Shard2', 'Mail-Domains-Shard3']);
    expect(domains.shardStacks.map(s => s.node.id)).toEqual(['Mail-Domains-Shard0', 'Mail-Domains-Shard1', 'Mail-Domains-Shard2', 'Mail-Domains-Shard3']);
    for (const shard of domains.shardStacks) {
      expect(shard.region).toBe('us-east-1');
      expect(shard.account).toBe(ACCOUNT);
      expect(shard.node.scope).toBe(app);
    }
    for (const name of domains.domainNames) {
      const domain = domains.domain(name);
      expect(domain).toBeInstanceOf(PolicyDomain);
      expect(Stack.of(domain).stackName).toBe(`Mail-Domains-Shard${expectedShard(name, 4)}`);
      expect(domain.node.path).toBe(`Mail-Domains-Shard${expectedShard(name, 4)}/${name}`);
      expect(Stack.of(domain.bucket)).toBe(Stack.of(domain));
    }
    // The construct's own stack holds none of the domains' resources.
    expect(Template.fromStack(built.stack).toJSON().Resources ?? {}).toEqual({});
  });

  test('each shard holds one bucket, one origin access control, one publisher function and its domains\' resources', () => {
    // GIVEN / WHEN
    const { domains } = build(brands(60));

    // THEN
    for (const shard of domains.shardStacks) {
      const members = domains.domainNames.filter(name => Stack.of(domains.domain(name)) === shard).length;
      const template = Template.fromStack(shard);
      template.resourceCountIs('AWS::S3::Bucket', 1);
      template.resourceCountIs('AWS::S3::BucketPolicy', 1);
      template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
      template.resourceCountIs('AWS::Lambda::Function', 1);
      template.resourceCountIs('AWS::CloudFront::Distribution', members);
      template.resourceCountIs('AWS::CertificateManager::Certificate', members);
      template.resourceCountIs('Custom::MtaStsPolicyPublication', members);
      template.resourceCountIs('AWS::Route53::RecordSet', 3 * members);
      expect(Object.keys(template.toJSON().Resources).length).toBe(5 + 6 * members);
      expect(template.toJSON().Outputs ?? {}).toEqual({});
    }
  });

  test('adding, removing and renaming domains moves no other domain to another stack or distribution', () => {
    // GIVEN
    const before = distributionsOf(build(brands(40)));

    // WHEN: brand3 removed, brand7 renamed, two added
    const names = [...brands(40).filter(n => n !== 'brand3.example' && n !== 'brand7.example'), 'renamed7.example', ...brands(2, 100)];
    const after = distributionsOf(build(names));

    // THEN
    for (const [name, where] of after) {
      if (before.has(name)) {
        expect(where).toBe(before.get(name));
      }
    }
    expect([...after.keys()].filter(name => before.has(name))).toHaveLength(38);
  });

  test('a pinned shard wins over the hash, and an index from `shards` up makes a new stack', () => {
    // GIVEN / WHEN
    const { domains } = build(brands(10), {}, 'us-east-1', { 'brand0.example': 7, 'brand1.example': expectedShard('brand1.example', 4) === 0 ? 1 : 0 });

    // THEN
    expect(Stack.of(domains.domain('brand0.example')).stackName).toBe('Mail-Domains-Shard7');
    expect(Stack.of(domains.domain('brand1.example')).stackName).toBe(`Mail-Domains-Shard${expectedShard('brand1.example', 4) === 0 ? 1 : 0}`);
    expect(domains.shardStacks.map(s => s.stackName)).toContain('Mail-Domains-Shard7');
  });

  test('every shard up to the highest in use is a stack, an empty one with its bucket and origin access control only', () => {
    // GIVEN / WHEN
    const { domains } = build(['brand0.example'], { shards: 3 }, 'us-east-1', { 'brand0.example': 5 });

    // THEN: a shard stack that left the app would keep publishing what it held, untouched by `cdk deploy`
    expect(domains.shardStacks.map(s => s.stackName)).toEqual([0, 1, 2, 3, 4, 5].map(i => `Mail-Domains-Shard${i}`));
    const empty = Template.fromStack(domains.shardStacks[0]).toJSON().Resources;
    expect(Object.values(empty).map((r: any) => r.Type).sort()).toEqual(['AWS::CloudFront::OriginAccessControl', 'AWS::S3::Bucket', 'AWS::S3::BucketPolicy']);
  });

  test('outside us-east-1 the shards are still in us-east-1 and there is no companion stack', () => {
    // GIVEN / WHEN
    const { app, domains } = build(brands(12), {}, 'eu-west-1');

    // THEN
    expect(app.node.tryFindChild('Mail-MtaSts')).toBeUndefined();
    expect(domains.shardStacks.every(s => s.region === 'us-east-1')).toBe(true);
  });

  test('shard stacks carry the owner\'s tags and termination protection, and depend on nothing', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Mail', { env: { account: ACCOUNT, region: 'eu-west-1' }, terminationProtection: true, tags: { team: 'mail' } });
    Tags.of(stack).add('cost-centre', '42');
    const domains = new MtaStsDomains(stack, 'Domains', {
      mx: ['*.mail.example.net'],
      shards: 2,
      domains: brands(6).map(name => ({ hostedZone: zone(stack, name) })),
    });

    // WHEN
    const assembly = app.synth();

    // THEN
    for (const shard of domains.shardStacks) {
      const artifact = assembly.getStackByName(shard.stackName);
      expect(artifact.terminationProtection).toBe(true);
      expect(artifact.tags).toEqual({ 'team': 'mail', 'cost-centre': '42' });
      expect(artifact.dependencies.map(d => d.id).filter(id => !id.endsWith('.assets'))).toEqual([]);
      // Stack tags reach resources at deploy; Tags.of(stack) reaches them in the template.
      Template.fromStack(shard).hasResourceProperties('AWS::S3::Bucket', { Tags: Match.arrayWith([{ Key: 'cost-centre', Value: '42' }]) });
    }
    expect(assembly.getStackByName('Mail').dependencies.map(d => d.id).filter(id => !id.endsWith('.assets'))).toEqual([]);
  });

  test('outputs are off by default and, with `outputs`, four per domain with TLS-RPT', () => {
    // GIVEN / WHEN
    const quiet = build(brands(8));
    const loud = build(brands(8), { outputs: true });

    // THEN
    const outputsOf = (built: Built) => built.domains.shardStacks
      .reduce((sum, s) => sum + Object.keys(Template.fromStack(s).toJSON().Outputs ?? {}).length, 0);
    expect(outputsOf(quiet)).toBe(0);
    expect(outputsOf(loud)).toBe(32);
  });

  test('a domain\'s own settings and the defaults both reach its policy', () => {
    // GIVEN / WHEN
    const app = new App();
    const stack = new Stack(app, 'Mail', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const domains = new MtaStsDomains(stack, 'Domains', {
      mx: ['*.mail.example.net'],
      mode: MtaStsMode.ENFORCE,
      shards: 3,
      domains: [
        { hostedZone: zone(stack, 'a.example') },
        { hostedZone: zone(stack, 'b.example'), mode: MtaStsMode.TESTING, mx: ['mx.b.example'] },
      ],
    });

    // THEN
    expect(domains.domain('a.example').policy.text).toBe('version: STSv1\r\nmode: enforce\r\nmx: *.mail.example.net\r\nmax_age: 604800\r\n');
    expect(domains.domain('b.example').policy.text).toBe('version: STSv1\r\nmode: testing\r\nmx: mx.b.example\r\nmax_age: 604800\r\n');
    Template.fromStack(Stack.of(domains.domain('b.example'))).hasResourceProperties('Custom::MtaStsPolicyPublication', {
      DomainName: 'b.example',
      PolicyText: 'version: STSv1\r\nmode: testing\r\nmx: mx.b.example\r\nmax_age: 604800\r\n',
    });
  });
});

describe('MtaStsDomains with shards and a TLS-RPT collector', () => {
  test('every shard announces the collector, whose HTTPS URL is the one value shards import, and the collector counts every domain', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Mail', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'ZCOLLECTOR', zoneName: 'example.com' });
    const collector = new TlsRptCollector(stack, 'Collector', { hostedZone, httpsReception: true });

    // WHEN
    const domains = new MtaStsDomains(stack, 'Domains', {
      shards: 3,
      mx: ['*.mail.example.net'],
      tlsRptCollector: collector,
      domains: brands(9).map(name => ({ hostedZone: zone(stack, name) })),
    });
    const assembly = app.synth();

    // THEN
    expect(collector.policyDomainNames).toEqual([...brands(9)].sort());
    for (const shard of domains.shardStacks) {
      const records = Object.values(Template.fromStack(shard).findResources('AWS::Route53::RecordSet', { Properties: { Type: 'TXT' } }));
      expect(records.length).toBeGreaterThan(0);
      for (const record of records) {
        expect(JSON.stringify(record.Properties.ResourceRecords)).toContain('v=TLSRPTv1; rua=mailto:reports@tlsrpt.example.com,');
        expect(JSON.stringify(record.Properties.ResourceRecords)).toContain('Fn::ImportValue');
      }
      expect(assembly.getStackByName(shard.stackName).dependencies.map(d => d.id).filter(id => !id.endsWith('.assets'))).toEqual(['Mail']);
    }
    expect(assembly.getStackByName('Mail').dependencies.map(d => d.id).filter(id => !id.endsWith('.assets'))).toEqual([]);
  });
});

describe('MtaStsDomains with shards: validation', () => {
  test('fails when a shard would overflow, naming the shard and how to grow without moving domains', () => {
    // GIVEN: 83 domains pinned to shard 1 take 503 resources
    const pins = Object.fromEntries(brands(83).map(name => [name, 1]));

    // WHEN / THEN
    expect(() => build(brands(83), {}, 'us-east-1', pins)).toThrow([
      'Invalid MtaStsDomains props at Mail/Domains (1 problem):',
      '  - shard 1 of `domains` must fit CloudFormation\'s 500 resources and 200 outputs per stack (each domain takes 5 resources, 6 with TLS-RPT, '
      + '1 fewer with a given certificate, plus 5 shared; and 3 or 4 outputs with `outputs`); placement never moves a domain, so give the newest '
      + 'of its domains an explicit `shard` (an index from 4 up makes a new stack; changing `shards` would move domains between stacks), '
      + 'got: 83 domains, 503 resources, 0 outputs in shard 1',
    ].join('\n'));
  });

  test('fails when outputs would pass 200 in a shard', () => {
    const pins = Object.fromEntries(brands(51).map(name => [name, 0]));
    expect(() => build(brands(51), { outputs: true }, 'us-east-1', pins)).toThrow(/got: 51 domains, 311 resources, 204 outputs in shard 0$/);
  });

  test.each([
    [0, '`shards` must be a whole number from 1 to 50, got: 0'],
    [1.5, '`shards` must be a whole number from 1 to 50, got: 1.5'],
    [51, '`shards` must be a whole number from 1 to 50, got: 51'],
  ])('fails when shards is %p', (shards, message) => {
    expect(() => build(brands(2), { shards })).toThrow(`Invalid MtaStsDomains props at Mail/Domains (1 problem):\n  - ${message}`);
  });

  test('fails when a domain sets a shard out of range, or a shard without shards', () => {
    expect(() => build(['a.example'], {}, 'us-east-1', { 'a.example': 50 })).toThrow(
      'Invalid MtaStsDomains props at Mail/Domains (1 problem):\n  - a.example: `domains[0].shard` must be a whole number from 0 to 49, got: 50');
    expect(() => build(['a.example'], { shards: undefined }, 'us-east-1', { 'a.example': 2 })).toThrow(
      'Invalid MtaStsDomains props at Mail/Domains (1 problem):\n  - a.example: `domains[0].shard` requires `shards`, since without it every domain '
      + 'lives in one stack, got: 2');
  });

  test('fails when a zone id is a token, since the domain would live in another stack than its zone', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Mail', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const created = new route53.PublicHostedZone(stack, 'Zone', { zoneName: 'a.example' });

    // WHEN / THEN
    expect(() => new MtaStsDomains(stack, 'Domains', { mx: ['mx.a.example'], shards: 2, domains: [{ hostedZone: created }] })).toThrow(
      'Invalid MtaStsDomains props at Mail/Domains (1 problem):\n  - `domains[0].hostedZone` must have a literal hosted zone id when `shards` is set, '
      + 'since the domains are then created in shard stacks: import the zone with HostedZone.fromHostedZoneAttributes, got: a zone whose id is an '
      + 'unresolved token (construct Mail/Domains)');
  });

  test('fails when another stack of the app already has a shard\'s name', () => {
    // GIVEN
    const app = new App();
    new Stack(app, 'Squatter', { env: { account: ACCOUNT, region: 'us-east-1' }, stackName: `Mail-Domains-Shard${expectedShard('a.example', 2)}` });
    const stack = new Stack(app, 'Mail', { env: { account: ACCOUNT, region: 'us-east-1' } });

    // WHEN / THEN
    expect(() => new MtaStsDomains(stack, 'Domains', { mx: ['mx.a.example'], shards: 2, domains: [{ hostedZone: zone(stack, 'a.example') }] }))
      .toThrow(`shard ${expectedShard('a.example', 2)} of Mail/Domains must have a stack name no other stack of the app uses in its account`);
  });
});
