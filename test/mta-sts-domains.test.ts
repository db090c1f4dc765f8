import { createHash } from 'node:crypto';
import { App, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { parsePolicy } from 'mailauth/lib/mta-sts';
import { MtaSts, MtaStsDomainOptions, MtaStsDomains, MtaStsDomainsProps, MtaStsMode, MtaStsPolicy, PolicyDomain } from '../src';

const ACCOUNT = '111111111111';
const MODES = [MtaStsMode.TESTING, MtaStsMode.ENFORCE, MtaStsMode.NONE];
const PUBLICATION = 'Custom::MtaStsPolicyPublication';

interface Built {
  readonly app: App;
  readonly stack: Stack;
  readonly domains: MtaStsDomains;
  /** The stack holding the resources: the stack itself in us-east-1, else its companion. */
  readonly home: Stack;
  readonly template: Template;
}

function zone(stack: Stack, name: string): route53.IHostedZone {
  return route53.HostedZone.fromHostedZoneAttributes(stack, `Zone-${name}`, { hostedZoneId: zoneIdOf(name), zoneName: name });
}

function zoneIdOf(name: string): string {
  return `Z${name.replace(/\W/g, '').toUpperCase()}`;
}

function sha256Prefix(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 16);
}

/** Domains each in its own zone, with a mode and (optionally) a maxAge that depend on the name only. */
function build(names: string[], extra: Partial<MtaStsDomainsProps> = {}, region = 'us-east-1', distinct = false): Built {
  const app = new App();
  const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region } });
  const domains = new MtaStsDomains(stack, 'MtaSts', {
    mx: ['*.mail.example.net'],
    tlsRpt: { rua: ['mailto:tls@example.net'] },
    domains: names.map((name): MtaStsDomainOptions => ({
      hostedZone: zone(stack, name),
      mode: modeOf(name),
      maxAge: distinct ? Duration.seconds(86_400 + numberOf(name)) : undefined,
    })),
    ...extra,
  });
  const home = region === 'us-east-1' ? stack : app.node.findChild('Stack-MtaSts') as Stack;
  return { app, stack, domains, home, template: Template.fromStack(home) };
}

function numberOf(name: string): number {
  return Number(/\d+/.exec(name)?.[0] ?? 0);
}

/** A mode that depends on the name only, so adding or removing a domain changes no other policy. */
function modeOf(name: string): MtaStsMode {
  return MODES[numberOf(name) % 3];
}

function brands(count: number, from = 0): string[] {
  return Array.from({ length: count }, (_, i) => `brand${from + i}.example`);
}

function logicalIdOf(construct: { node: { defaultChild?: unknown } }): string {
  const resource = (construct as any).node.defaultChild;
  return Stack.of(resource).getLogicalId(resource);
}

function publicationOf(built: Built, name: string): any {
  return built.template.toJSON().Resources[logicalIdOf(built.domains.domain(name).publication)];
}

function resourcesById(template: Template): Record<string, any> {
  return template.toJSON().Resources;
}

/** Logical ids whose resource differs between two templates (added, removed or changed). */
function changedIds(before: Template, after: Template): string[] {
  const a = resourcesById(before);
  const b = resourcesById(after);
  return [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .filter(id => JSON.stringify(a[id]) !== JSON.stringify(b[id]))
    .sort();
}

/** The logical-id prefix of every resource beneath a domain's construct. */
function domainPrefix(name: string): RegExp {
  return new RegExp(`^(MtaSts|StackMtaSts[0-9A-F]{8})${name.replace(/\W/g, '')}`);
}

function publisherStatements(template: Template): unknown[] {
  const roles = template.findResources('AWS::IAM::Role');
  const ids = Object.keys(roles).filter(id => id.startsWith('MtaStsPolicyPublisherCustomResourceProviderRole'));
  expect(ids).toHaveLength(1);
  return roles[ids[0]].Properties.Policies[0].PolicyDocument.Statement;
}

function crossRegionLeftovers(app: App): string[] {
  return app.synth().stacks.flatMap(artifact => [
    ...Object.values(artifact.template.Resources ?? {}).map((r: any) => r.Type as string).filter(type => type.startsWith('Custom::CrossRegion')),
    ...Object.values(artifact.template.Outputs ?? {}).filter((o: any) => o.Export).map(() => `${artifact.id}: export`),
  ]);
}

describe('MtaStsDomains with 30 domains in their own zones', () => {
  // GIVEN / WHEN
  const names = brands(30);
  const built = build(names);
  const { stack, domains, template } = built;

  test('gives each domain its own certificate, distribution, alias records, publication and TLS-RPT record', () => {
    template.resourceCountIs('AWS::CertificateManager::Certificate', 30);
    template.resourceCountIs('AWS::CloudFront::Distribution', 30);
    template.resourceCountIs(PUBLICATION, 30);
    template.resourceCountIs('AWS::Route53::RecordSet', 90);
    template.resourceCountIs('AWS::CloudFront::Function', 0);
    expect(Object.keys(resourcesById(template))).toHaveLength(30 * 6 + 5);
  });

  test('shares one bucket, one origin access control and one publisher function', () => {
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.resourceCountIs('AWS::S3::BucketPolicy', 1);
    template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.resourceCountIs('AWS::IAM::Role', 1);
    template.resourceCountIs('AWS::IAM::Policy', 0);
  });

  test('grants the publisher one record-scoped Route 53 statement, one read statement and one statement for the bucket, whatever the number of policies', () => {
    const bucket = logicalIdOf(domains.domain(domains.domainNames[0]).bucket);
    expect(publisherStatements(template)).toEqual([
      expect.objectContaining({
        Action: ['route53:ChangeResourceRecordSets'],
        Condition: {
          'ForAllValues:StringLike': { 'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['_mta-sts.*'] },
          'ForAllValues:StringEquals': { 'route53:ChangeResourceRecordSetsRecordTypes': ['TXT'] },
        },
      }),
      expect.objectContaining({ Action: ['route53:ListResourceRecordSets', 'route53:GetChange'] }),
      {
        Effect: 'Allow',
        Action: ['s3:PutObject', 's3:DeleteObject'],
        Resource: [{ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/policies/*']] }],
      },
    ]);
  });

  test('publishes each domain\'s own exact policy in its own folder and announces it at its own _mta-sts name', () => {
    for (const name of names) {
      // GIVEN the policy this domain must get
      const expected = new MtaStsPolicy({ mode: modeOf(name), mx: ['*.mail.example.net'] });
      const text = `version: STSv1\r\nmode: ${modeOf(name)}\r\nmx: *.mail.example.net\r\nmax_age: 604800\r\n`;
      expect(expected.text).toBe(text);
      // THEN its publication writes exactly that text and announces it in its zone
      expect(publicationOf(built, name).Properties).toEqual(expect.objectContaining({
        DomainName: name,
        BucketName: { Ref: logicalIdOf(domains.domain(domains.domainNames[0]).bucket) },
        ObjectKey: `policies/${name}/.well-known/mta-sts.txt`,
        PolicyText: text,
        ContentId: sha256Prefix(text),
        HostedZoneId: zoneIdOf(name),
        RecordName: `_mta-sts.${name}`,
        RecordTtl: '300',
        RetainObject: 'true',
        ReplaceExistingRecord: 'false',
        DistributionId: { Ref: logicalIdOf(domains.domain(name).distribution) },
      }));
      // and an independent MTA-STS parser reads the configured policy from it
      const parsed = parsePolicy(publicationOf(built, name).Properties.PolicyText);
      expect(parsed).toEqual({ version: 'STSv1', mode: modeOf(name), mx: ['*.mail.example.net'], maxAge: 604800 });
    }
  });

  test('serves each mta-sts.<domain> host from its own folder through its own certificate', () => {
    for (const name of names) {
      const distribution = resourcesById(template)[logicalIdOf(domains.domain(name).distribution)];
      expect(distribution.Properties.DistributionConfig.Aliases).toEqual([`mta-sts.${name}`]);
      expect(distribution.Properties.DistributionConfig.Origins).toEqual([expect.objectContaining({ OriginPath: `/policies/${name}` })]);
      const certificateId = logicalIdOf(domains.domain(name).certificate as any);
      expect(distribution.Properties.DistributionConfig.ViewerCertificate.AcmCertificateArn).toEqual({ Ref: certificateId });
      const certificate = resourcesById(template)[certificateId];
      expect(certificate.Properties).toEqual(expect.objectContaining({
        DomainName: `mta-sts.${name}`,
        DomainValidationOptions: [{ DomainName: `mta-sts.${name}`, HostedZoneId: zoneIdOf(name) }],
      }));
      expect(certificate.Properties.SubjectAlternativeNames).toBeUndefined();
    }
  });

  test('serves every distribution with the single-domain settings and no function', () => {
    template.allResourcesProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        IPV6Enabled: true,
        ViewerCertificate: Match.objectLike({ MinimumProtocolVersion: 'TLSv1.2_2021', SslSupportMethod: 'sni-only' }),
        DefaultCacheBehavior: Match.objectLike({
          ViewerProtocolPolicy: 'https-only',
          CachePolicyId: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad',
          Compress: false,
          FunctionAssociations: Match.absent(),
        }),
      }),
    });
  });

  test('runs each publication only after its own distribution, alias records and the bucket policy', () => {
    const bucketPolicy = Object.keys(template.findResources('AWS::S3::BucketPolicy'))[0];
    for (const name of names) {
      const domain = domains.node.findChild(name);
      expect([...publicationOf(built, name).DependsOn].sort()).toEqual([
        bucketPolicy,
        logicalIdOf(domain.node.findChild('AliasRecord') as any),
        logicalIdOf(domain.node.findChild('AliasRecordIpv6') as any),
        logicalIdOf(domains.domain(name).distribution),
      ].sort());
    }
  });

  test('publishes each domain\'s TLS-RPT record and A/AAAA aliases', () => {
    for (const name of names) {
      template.hasResourceProperties('AWS::Route53::RecordSet', {
        Name: `_smtp._tls.${name}.`, Type: 'TXT', HostedZoneId: zoneIdOf(name), ResourceRecords: ['"v=TLSRPTv1; rua=mailto:tls@example.net"'], TTL: '300',
      });
      for (const type of ['A', 'AAAA']) {
        template.hasResourceProperties('AWS::Route53::RecordSet', {
          Name: `mta-sts.${name}.`,
          Type: type,
          HostedZoneId: zoneIdOf(name),
          AliasTarget: Match.objectLike({ DNSName: { 'Fn::GetAtt': [logicalIdOf(domains.domain(name).distribution), 'DomainName'] } }),
        });
      }
    }
  });

  test('exposes each domain\'s deploy-time policy id as an attribute of its publication', () => {
    for (const name of names.slice(0, 3)) {
      expect(Token.isUnresolved(domains.domain(name).policyId)).toBe(true);
      expect(stack.resolve(domains.domain(name).policyId)).toEqual({ 'Fn::GetAtt': [logicalIdOf(domains.domain(name).publication), 'PolicyId'] });
    }
  });

  test('lists domains in sorted order, each a PolicyDomain named after its domain', () => {
    expect(domains.domainNames).toEqual([...names].sort());
    for (const name of domains.domainNames) {
      expect(domains.domain(name)).toBeInstanceOf(PolicyDomain);
      expect(domains.domain(name).node.id).toBe(name);
      expect(domains.domain(name.toUpperCase() + '.')).toBe(domains.domain(name));
    }
    expect(domains.shardStacks).toEqual([]);
  });
});

describe('MtaStsDomains stability', () => {
  test('adding a domain adds only that domain\'s resources and changes nothing else', () => {
    // GIVEN
    const before = build(brands(30));
    // WHEN
    const after = build([...brands(30), 'brand100.example']);
    // THEN
    const changed = changedIds(before.template, after.template);
    expect(changed).toHaveLength(6);
    for (const id of changed) {
      expect(id).toMatch(domainPrefix('brand100.example'));
      expect(resourcesById(before.template)[id]).toBeUndefined();
    }
  });

  test('removing a domain removes only that domain\'s resources and changes nothing else', () => {
    // GIVEN
    const names = brands(30);
    const before = build(names);
    // WHEN
    const after = build(names.filter(n => n !== 'brand7.example'));
    // THEN
    const changed = changedIds(before.template, after.template);
    expect(changed).toHaveLength(6);
    for (const id of changed) {
      expect(id).toMatch(domainPrefix('brand7.example'));
      expect(resourcesById(after.template)[id]).toBeUndefined();
    }
  });

  test('adding and removing domains outside us-east-1 changes only the companion stack\'s domain resources and no export', () => {
    // GIVEN
    const before = build(brands(12), {}, 'eu-west-1');
    // WHEN brand3 leaves and brand50 arrives
    const after = build([...brands(12).filter(n => n !== 'brand3.example'), 'brand50.example'], {}, 'eu-west-1');
    // THEN
    const changed = changedIds(before.template, after.template);
    expect(changed).toHaveLength(12);
    for (const id of changed) {
      expect(id).toMatch(new RegExp(`${domainPrefix('brand3.example').source}|${domainPrefix('brand50.example').source}`));
    }
    expect(Template.fromStack(after.stack).toJSON()).toEqual(Template.fromStack(before.stack).toJSON());
    expect(crossRegionLeftovers(before.app)).toEqual([]);
    expect(crossRegionLeftovers(after.app)).toEqual([]);
  });

  test('changing one domain\'s policy changes only its publication\'s text and content id', () => {
    // GIVEN
    const names = brands(30);
    const before = build(names);
    // WHEN brand0 gets a one-day maxAge
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const domains = new MtaStsDomains(stack, 'MtaSts', {
      mx: ['*.mail.example.net'],
      tlsRpt: { rua: ['mailto:tls@example.net'] },
      domains: names.map(name => ({ hostedZone: zone(stack, name), mode: modeOf(name), maxAge: name === 'brand0.example' ? Duration.days(1) : undefined })),
    });
    const after = Template.fromStack(stack);
    // THEN
    const publicationId = logicalIdOf(domains.domain('brand0.example').publication);
    expect(changedIds(before.template, after)).toEqual([publicationId]);
    const text = 'version: STSv1\r\nmode: testing\r\nmx: *.mail.example.net\r\nmax_age: 86400\r\n';
    expect(resourcesById(after)[publicationId].Properties).toEqual({
      ...resourcesById(before.template)[publicationId].Properties,
      PolicyText: text,
      ContentId: sha256Prefix(text),
    });
  });

  test('synthesizes byte-identical templates from the same input', () => {
    expect(JSON.stringify(build(brands(30)).template.toJSON())).toBe(JSON.stringify(build(brands(30)).template.toJSON()));
  });

  test('does not depend on the order domains are listed in', () => {
    // GIVEN
    const names = brands(12);
    const a = build(names).template.toJSON();
    // WHEN
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    new MtaStsDomains(stack, 'MtaSts', {
      mx: ['*.mail.example.net'],
      tlsRpt: { rua: ['mailto:tls@example.net'] },
      domains: names.map(name => ({ hostedZone: zone(stack, name), mode: modeOf(name) })).reverse(),
    });
    // THEN
    expect(JSON.stringify(Template.fromStack(stack).toJSON())).toBe(JSON.stringify(a));
  });
});

describe('MtaStsDomains at scale', () => {
  test('publishes 82 domains with distinct policies in one stack: 497 resources, under 1 MB, one function and three statements', () => {
    // GIVEN / WHEN
    const { template, domains } = build(brands(82), {}, 'us-east-1', true);
    // THEN
    const json = template.toJSON();
    expect(new Set(domains.domainNames.map(name => domains.domain(name).policy.contentId)).size).toBe(82);
    expect(Object.keys(json.Resources)).toHaveLength(82 * 6 + 5);
    expect(Buffer.byteLength(JSON.stringify(json))).toBeLessThan(1_000_000);
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.resourceCountIs(PUBLICATION, 82);
    template.resourceCountIs('AWS::Route53::RecordSet', 82 * 3);
    expect(publisherStatements(template)).toHaveLength(3);
  });

  test('fails when the domains would not fit CloudFormation\'s 500 resources per stack', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    // WHEN / THEN
    expect(() => new MtaStsDomains(stack, 'MtaSts', {
      mx: ['*.mail.example.net'],
      tlsRpt: { rua: ['mailto:tls@example.net'] },
      domains: brands(83).map(name => ({ hostedZone: zone(stack, name) })),
    })).toThrow([
      'Invalid MtaStsDomains props at Stack/MtaSts (1 problem):',
      '  - `domains` must fit CloudFormation\'s 500 resources and 200 outputs per stack (each domain takes 5 resources, 6 with TLS-RPT, '
      + '1 fewer with a given certificate, plus 5 shared; and 3 or 4 outputs with `outputs`); set `shards` (about one per 40 domains you expect, '
      + 'e.g. 3) to spread them over several stacks, got: 83 domains, 503 resources, 0 outputs in the stack of Stack/MtaSts',
    ].join('\n'));
  });

  test('fits 99 domains without TLS-RPT', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    new MtaStsDomains(stack, 'MtaSts', { mx: ['*.mail.example.net'], domains: brands(99).map(name => ({ hostedZone: zone(stack, name) })) });
    expect(Object.keys(Template.fromStack(stack).toJSON().Resources)).toHaveLength(99 * 5 + 5);
  });
});

describe('MtaStsDomains options', () => {
  test('a domain\'s own certificate serves its distribution, and no certificate is created for it', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const arn = 'arn:aws:acm:us-east-1:111111111111:certificate/11111111-2222-3333-4444-555555555555';

    // WHEN
    const domains = new MtaStsDomains(stack, 'MtaSts', {
      mx: ['*.mail.example.net'],
      domains: [
        { hostedZone: zone(stack, 'a.example'), certificate: acm.Certificate.fromCertificateArn(stack, 'Certificate', arn) },
        { hostedZone: zone(stack, 'b.example') },
      ],
    });

    // THEN
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CertificateManager::Certificate', 1);
    template.hasResourceProperties('AWS::CertificateManager::Certificate', { DomainName: 'mta-sts.b.example' });
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({ Aliases: ['mta-sts.a.example'], ViewerCertificate: Match.objectLike({ AcmCertificateArn: arn }) }),
    });
    expect(domains.domain('a.example').certificate.certificateArn).toBe(arn);
  });

  test('fails when a domain\'s own certificate is not in us-east-1', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const arn = 'arn:aws:acm:eu-west-1:111111111111:certificate/11111111-2222-3333-4444-555555555555';
    expect(() => new MtaStsDomains(stack, 'MtaSts', {
      mx: ['*.mail.example.net'],
      domains: [{ hostedZone: zone(stack, 'a.example'), certificate: acm.Certificate.fromCertificateArn(stack, 'Certificate', arn) }],
    })).toThrow('Invalid MtaStsDomains props at Stack/MtaSts (1 problem):\n  - a.example: `domains[0].certificate` must be in us-east-1, the only region '
      + `CloudFront takes certificates from, got: a certificate in "eu-west-1" (${arn})`);
  });

  test('lets a domain override the defaults', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    // WHEN
    const domains = new MtaStsDomains(stack, 'MtaSts', {
      mode: MtaStsMode.ENFORCE,
      mx: ['mx.example.net'],
      maxAge: Duration.days(14),
      domains: [
        { hostedZone: zone(stack, 'a.example') },
        { hostedZone: zone(stack, 'b.example'), mx: ['*.mail.b.example'], mode: MtaStsMode.TESTING, tlsRpt: { rua: ['https://r.b.example/v1'] } },
      ],
    });
    // THEN
    expect(domains.domain('a.example').policy.text).toBe('version: STSv1\r\nmode: enforce\r\nmx: mx.example.net\r\nmax_age: 1209600\r\n');
    expect(domains.domain('B.example.').policy.text).toBe('version: STSv1\r\nmode: testing\r\nmx: *.mail.b.example\r\nmax_age: 1209600\r\n');
    expect(domains.domain('a.example').tlsRptRecord).toBeUndefined();
    expect(domains.domain('b.example').tlsRptRecord).toBeDefined();
    expect(domains.domain('b.example').policyUrl).toBe('https://mta-sts.b.example/.well-known/mta-sts.txt');
    Annotations.fromStack(stack).hasWarning('/Stack/MtaSts', Match.stringLikeRegexp('a.example: no `tlsRpt` given'));
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Route53::RecordSet', {
      Name: '_smtp._tls.b.example.', ResourceRecords: ['"v=TLSRPTv1; rua=https://r.b.example/v1"'],
    });
    template.hasResourceProperties(PUBLICATION, { DomainName: 'b.example', PolicyText: 'version: STSv1\r\nmode: testing\r\nmx: *.mail.b.example\r\nmax_age: 1209600\r\n' });
    expect(template.findResources('AWS::Route53::RecordSet', { Properties: { Name: '_smtp._tls.a.example.' } })).toEqual({});
  });

  test('keeps per-domain child ids derived from the domain name, with fixed ids beneath', () => {
    const { domains } = build(brands(3));
    expect(domains.node.children.map(c => c.node.id)).toEqual(['Bucket', 'OriginAccessControl', 'brand0.example', 'brand1.example', 'brand2.example']);
    expect(domains.node.findChild('brand0.example').node.children.map(c => c.node.id)).toEqual([
      'Certificate', 'Distribution', 'AliasRecord', 'AliasRecordIpv6', 'Publication', 'TlsRptRecord',
    ]);
    expect(domains.domain('brand1.example').publication.node.path).toBe('Stack/MtaSts/brand1.example/Publication');
  });

  test('deletes the policy files with a DESTROY bucket and keeps them by default', () => {
    const destroy = build(brands(3), { removalPolicy: RemovalPolicy.DESTROY });
    destroy.template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
    destroy.template.allResourcesProperties(PUBLICATION, { RetainObject: 'false' });
    const retain = build(brands(3));
    retain.template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
    retain.template.allResourcesProperties(PUBLICATION, { RetainObject: 'true' });
  });

  test('passes replaceExistingRecords and recordTtl through to every publication', () => {
    // GIVEN / WHEN
    const { template } = build(brands(3), { replaceExistingRecords: true, recordTtl: Duration.minutes(1) });
    // THEN
    template.allResourcesProperties(PUBLICATION, { ReplaceExistingRecord: 'true', RecordTtl: '60' });
    template.hasResourceProperties('AWS::Route53::RecordSet', { Name: '_smtp._tls.brand0.example.', TTL: '60' });
  });

  test('writes the records of a domain with a delegated mta-sts zone inside that zone', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const delegated = route53.HostedZone.fromHostedZoneAttributes(stack, 'Delegated', { hostedZoneId: 'ZDELEGATED', zoneName: 'mta-sts.c.example' });
    // WHEN
    new MtaStsDomains(stack, 'MtaSts', {
      mx: ['mx.example.net'],
      tlsRpt: { rua: ['mailto:tls@example.net'] },
      domains: [{ hostedZone: zone(stack, 'a.example') }, { hostedZone: delegated, domainName: 'c.example' }],
    });
    // THEN
    const template = Template.fromStack(stack);
    template.hasResourceProperties(PUBLICATION, { DomainName: 'c.example', RecordName: '_mta-sts.mta-sts.c.example', HostedZoneId: 'ZDELEGATED' });
    template.hasResourceProperties(PUBLICATION, { DomainName: 'a.example', RecordName: '_mta-sts.a.example', HostedZoneId: 'ZAEXAMPLE' });
    const inDelegated = Object.values(template.findResources('AWS::Route53::RecordSet', { Properties: { HostedZoneId: 'ZDELEGATED' } }))
      .map((r: any) => `${r.Properties.Type} ${r.Properties.Name}`).sort();
    expect(inDelegated).toEqual(['A mta-sts.c.example.', 'AAAA mta-sts.c.example.', 'TXT _smtp._tls.mta-sts.c.example.']);
  });

  test('puts every domain\'s resources in the us-east-1 companion stack for a stack elsewhere, with no cross-region references', () => {
    // GIVEN / WHEN
    const { app, stack, domains, home, template } = build(brands(12), {}, 'eu-west-1');
    // THEN
    expect(home.region).toBe('us-east-1');
    expect(home.account).toBe(ACCOUNT);
    expect(stack.dependencies).toEqual([home]);
    expect(Stack.of(domains.domain(domains.domainNames[0]).bucket)).toBe(home);
    template.resourceCountIs('AWS::CertificateManager::Certificate', 12);
    template.resourceCountIs(PUBLICATION, 12);
    template.resourceCountIs('AWS::Lambda::Function', 1);
    expect(Template.fromStack(stack).toJSON().Resources).toBeUndefined();
    expect(crossRegionLeftovers(app)).toEqual([]);
  });
});

describe('MtaStsDomains validation', () => {
  test('fails once, naming each domain and prop', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const cZone = zone(stack, 'c.example');
    // WHEN / THEN
    expect(() => new MtaStsDomains(stack, 'MtaSts', {
      mx: ['mx.example.net', 'bad host'],
      recordTtl: Duration.millis(1500),
      domains: [
        { hostedZone: zone(stack, 'a.example'), mx: ['mx*.a.example'] },
        { hostedZone: zone(stack, 'b.example') },
        { hostedZone: cZone },
        { hostedZone: cZone, domainName: 'C.example', mx: ['mx.c.example'] },
        { hostedZone: zone(stack, 'd.example'), mode: MtaStsMode.ENFORCE, mx: [] },
        { hostedZone: zone(stack, 'e.example'), domainName: 'e.other' },
      ],
    })).toThrow([
      'Invalid MtaStsDomains props at Stack/MtaSts (6 problems):',
      '  - `recordTtl` must be a whole number of seconds from 0 to 2147483647, got: 1.5 s',
      '  - a.example: `domains[0].mx[0]` must be a hostname or *.hostname and may use * only as the whole leftmost label (*.example.com), got: "mx*.a.example"',
      '  - `mx[1]` must be a hostname or *.hostname and must not contain white space, got: "bad host"',
      '  - c.example: `domains[3].domainName` must not repeat `domains[2]`, got: "c.example"',
      '  - d.example: `domains[4].mx` must list at least one MX host unless mode is "none", got: [] with mode "enforce"',
      '  - e.other: `domains[5].domainName` must be the hosted zone\'s name (e.example), a name below it, or the domain whose mta-sts name the zone is (delegated), got: "e.other"',
    ].join('\n'));
  });

  test('fails when no domains are given', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    expect(() => new MtaStsDomains(stack, 'MtaSts', { mx: ['mx.example.net'], domains: [] }))
      .toThrow('`domains` must list at least one domain, got: []');
  });

  test('fails when a domain name is too long for ACM', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const long = `${'a'.repeat(49)}.example`; // 57 characters
    // WHEN / THEN
    expect(() => new MtaStsDomains(stack, 'MtaSts', {
      mx: ['mx.example.net'],
      domains: [{ hostedZone: zone(stack, 'a.example') }, { hostedZone: zone(stack, long) }],
    })).toThrow([
      'Invalid MtaStsDomains props at Stack/MtaSts (1 problem):',
      `  - ${long}: \`domains[1].domainName\` must be at most 56 characters so that "mta-sts.${long}" fits ACM's 64-character limit `
      + `on a certificate's domain name (or pass a certificate), got: "${long}" (57 characters)`,
    ].join('\n'));
  });

  test('fails when a zone id is a token outside us-east-1', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'eu-west-1' } });
    const newZone = new route53.PublicHostedZone(stack, 'NewZone', { zoneName: 'b.example' });
    // WHEN / THEN
    expect(() => new MtaStsDomains(stack, 'MtaSts', {
      mx: ['mx.example.net'],
      domains: [{ hostedZone: zone(stack, 'a.example') }, { hostedZone: newZone }],
    })).toThrow([
      'Invalid MtaStsDomains props at Stack/MtaSts (1 problem):',
      '  - `domains[1].hostedZone` must have a literal hosted zone id when the stack is outside us-east-1, since the construct\'s resources are then '
      + 'created in a companion stack in us-east-1: import the zone with HostedZone.fromHostedZoneAttributes, '
      + 'got: a zone whose id is an unresolved token (stack "Stack" in eu-west-1)',
    ].join('\n'));
  });

  test('fails when an MtaSts of the same app already publishes a domain, naming both paths', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    new MtaSts(stack, 'Single', { hostedZone: zone(stack, 'a.example'), mx: ['mx.example.net'] });
    const other = new Stack(app, 'Other', { env: { account: ACCOUNT, region: 'eu-west-1' } });
    // WHEN / THEN
    expect(() => new MtaStsDomains(other, 'Many', {
      mx: ['mx.example.net'],
      domains: [{ hostedZone: zone(other, 'b.example') }, { hostedZone: zone(other, 'a.example') }],
    })).toThrow([
      'Invalid MtaStsDomains props at Other/Many (1 problem):',
      '  - a.example: `domainName` "a.example" is already published by Stack/Single; one app may publish a policy domain only once, '
      + 'got: "a.example" again at Other/Many',
    ].join('\n'));
  });

  test('fails when two MtaStsDomains of the same app publish a domain', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    new MtaStsDomains(stack, 'First', { mx: ['mx.example.net'], domains: [{ hostedZone: zone(stack, 'a.example') }] });
    expect(() => new MtaStsDomains(stack, 'Second', {
      mx: ['mx.example.net'],
      domains: [{
        hostedZone: route53.HostedZone.fromHostedZoneAttributes(stack, 'SecondZone', { hostedZoneId: 'ZAEXAMPLE', zoneName: 'a.example' }),
        domainName: 'A.Example.',
      }],
    }))
      .toThrow('  - a.example: `domainName` "a.example" is already published by Stack/First; one app may publish a policy domain only once, '
        + 'got: "a.example" again at Stack/Second');
  });

  test('fails when asked for a domain it does not publish', () => {
    const { domains } = build(brands(2));
    expect(() => domains.domain('other.example').policy).toThrow('`domainName` must be one of the domains of Stack/MtaSts, got: "other.example"');
    expect(() => domains.domain('other.example').publication).toThrow('`domainName` must be one of the domains of Stack/MtaSts, got: "other.example"');
    expect(() => domains.domain('other.example').certificate).toThrow('`domainName` must be one of the domains of Stack/MtaSts, got: "other.example"');
    expect(() => domains.domain('other.example').policyId).toThrow('`domainName` must be one of the domains of Stack/MtaSts, got: "other.example"');
  });
});

describe('several MtaStsDomains in one stack', () => {
  test('fails synthesis when together they exceed CloudFormation\'s 500 resources per stack', () => {
    // GIVEN: two constructs of 80 domains each, each fine on its own (2 x (5 + 80 x 6) - 2 shared publisher resources = 968)
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    for (const name of ['First', 'Second']) {
      new MtaStsDomains(stack, name, {
        mx: ['mx.example.net'],
        tlsRpt: { rua: ['mailto:r@example.net'] },
        domains: Array.from({ length: 80 }, (_, i) => ({ hostedZone: zone(stack, `${name.toLowerCase()}${i}.example`) })),
      });
    }
    // WHEN / THEN
    expect(() => app.synth()).toThrow('[Stack] stack "Stack" must hold at most 500 resources (CloudFormation\'s quota per stack); '
      + 'spread the MtaSts and MtaStsDomains constructs over several stacks, got: 968 resources');
  });

  test('fails synthesis naming the companion stack when MtaStsDomains and MtaSts outside us-east-1 exceed 500 resources there together', () => {
    // GIVEN: 80 domains (5 + 80 x 6 = 485) and three MtaSts (8 each with TLS-RPT, plus the origin access control they share)
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'eu-west-1' } });
    new MtaStsDomains(stack, 'Domains', {
      mx: ['mx.example.net'],
      tlsRpt: { rua: ['mailto:r@example.net'] },
      domains: Array.from({ length: 80 }, (_, i) => ({ hostedZone: zone(stack, `brand${i}.example`) })),
    });
    // WHEN
    for (const name of ['a.example', 'b.example', 'c.example']) {
      new MtaSts(stack, name, { hostedZone: zone(stack, name), mx: [`mx.${name}`], tlsRpt: { rua: [`mailto:r@${name}`] } });
    }
    // THEN
    expect(() => app.synth()).toThrow('[Stack-MtaSts] stack "Stack-MtaSts" must hold at most 500 resources (CloudFormation\'s quota per stack); '
      + 'spread the MtaSts and MtaStsDomains constructs over several stacks, got: 510 resources');
  });
});
