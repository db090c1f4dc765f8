import { createHash } from 'node:crypto';
import * as cdk from 'aws-cdk-lib';
import { App, Annotations as CoreAnnotations, Duration, Fn, RemovalPolicy, Stack, StackProps, Token } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { IConstruct } from 'constructs';
import { LEG } from './leg';
import { MtaSts, MtaStsDomains, MtaStsMode, MtaStsPolicy, MtaStsProps } from '../src';

const ACCOUNT = '111111111111';
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const POLICY_TEXT = 'version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.mail.example.com\r\nmax_age: 1209600\r\n';
const TLS_RPT_VALUE = 'v=TLSRPTv1; rua=mailto:tls-reports@example.com,https://tlsrpt.example.com/v1';
const PUBLICATION = 'Custom::MtaStsPolicyPublication';

/** The content id, computed here independently of the library: 16 hex characters of SHA-256. */
function sha256Prefix(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 16);
}

function makeStack(region: string | null = 'us-east-1', props: StackProps = {}): { app: App; stack: Stack; zone: route53.IHostedZone } {
  const app = new App();
  // An explicit env on every stack; `region: null` is the one deliberate exception (an env-agnostic stack).
  const stack = new Stack(app, 'Stack', { env: region ? { account: ACCOUNT, region } : undefined, ...props });
  const zone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789', zoneName: 'example.com' });
  return { app, stack, zone };
}

function enforceProps(zone: route53.IHostedZone, extra: Partial<MtaStsProps> = {}): MtaStsProps {
  return {
    hostedZone: zone,
    mode: MtaStsMode.ENFORCE,
    mx: ['mx1.example.com', '*.mail.example.com'],
    maxAge: Duration.days(14),
    tlsRpt: { rua: ['mailto:tls-reports@example.com', 'https://tlsrpt.example.com/v1'] },
    ...extra,
  };
}

/** An MtaSts on a zone for mta-sts.example.com, delegated from DNS outside Route 53. */
function delegatedStack(): { app: App; stack: Stack; mtaSts: MtaSts } {
  const app = new App();
  const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const zone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'ZDELEGATED', zoneName: 'mta-sts.example.com' });
  return { app, stack, mtaSts: new MtaSts(stack, 'MtaSts', enforceProps(zone, { domainName: 'example.com' })) };
}

function logicalIdOf(construct: { node: { defaultChild?: unknown } }): string {
  const resource = (construct as any).node.defaultChild;
  return Stack.of(resource).getLogicalId(resource);
}

/** The single resource of `type` in the template, with its logical id. */
function only(template: Template, type: string): { id: string; resource: any } {
  const found = template.findResources(type);
  expect(Object.keys(found)).toHaveLength(1);
  const [[id, resource]] = Object.entries(found);
  return { id, resource };
}

/** The inline statements of the stack's publisher role. */
function publisherStatements(template: Template): unknown[] {
  const roles = template.findResources('AWS::IAM::Role');
  const ids = Object.keys(roles).filter(id => id.startsWith('MtaStsPolicyPublisherCustomResourceProviderRole'));
  expect(ids).toHaveLength(1);
  const policies = roles[ids[0]].Properties.Policies;
  expect(policies).toHaveLength(1);
  return policies[0].PolicyDocument.Statement;
}

const partitionArn = (rest: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, rest]] });
const ROUTE53_STATEMENTS = [
  {
    Effect: 'Allow',
    Action: ['route53:ChangeResourceRecordSets'],
    Resource: partitionArn(':route53:::hostedzone/*'),
    Condition: {
      'ForAllValues:StringLike': { 'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['_mta-sts.*'] },
      'ForAllValues:StringEquals': { 'route53:ChangeResourceRecordSetsRecordTypes': ['TXT'] },
    },
  },
  {
    Effect: 'Allow',
    Action: ['route53:ListResourceRecordSets', 'route53:GetChange'],
    Resource: [partitionArn(':route53:::hostedzone/*'), partitionArn(':route53:::change/*')],
  },
];
/** The one object grant of the stack's publisher: policies/* of each bucket, in construct-path order. */
const objectGrant = (...bucketLogicalIds: string[]) => ({
  Effect: 'Allow',
  Action: ['s3:PutObject', 's3:DeleteObject'],
  Resource: bucketLogicalIds.map(id => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [id, 'Arn'] }, '/policies/*']] })),
});

function crossRegionLeftovers(app: App): string[] {
  return app.synth().stacks.flatMap(artifact => [
    ...Object.values(artifact.template.Resources ?? {})
      .map((resource: any) => resource.Type as string)
      .filter(type => type.startsWith('Custom::CrossRegion') || type === 'Custom::AWSCDKCfnJson'),
    ...Object.values(artifact.template.Outputs ?? {}).filter((output: any) => output.Export).map(() => `${artifact.id}: export`),
  ]);
}

describe('MtaSts in a us-east-1 stack', () => {
  // GIVEN
  const { stack, zone } = makeStack();
  // WHEN
  const mtaSts = new MtaSts(stack, 'MtaSts', enforceProps(zone));
  const template = Template.fromStack(stack);
  const publication = only(template, PUBLICATION);

  test('exposes the policy text, content id, URL and TLS-RPT value as literals', () => {
    // THEN
    expect(mtaSts.policy.text).toBe(POLICY_TEXT);
    expect(mtaSts.policy.text).toBe(POLICY_TEXT);
    expect(mtaSts.policy.contentId).toBe(sha256Prefix(POLICY_TEXT));
    expect(mtaSts.policy.contentId).toBe(sha256Prefix(POLICY_TEXT));
    expect(mtaSts.policy.contentId).toMatch(/^[0-9a-f]{16}$/);
    expect(mtaSts.policyUrl).toBe('https://mta-sts.example.com/.well-known/mta-sts.txt');
    expect(mtaSts.policyHost).toBe('mta-sts.example.com');
    expect(mtaSts.domainName).toBe('example.com');
    expect(mtaSts.tlsRptRecordValue).toBe(TLS_RPT_VALUE);
  });

  test('exposes the policy id and record value as deploy-time attributes of the publication', () => {
    // THEN
    expect(Token.isUnresolved(mtaSts.policyId)).toBe(true);
    expect(Token.isUnresolved(mtaSts.policyRecordValue)).toBe(true);
    expect(stack.resolve(mtaSts.policyId)).toEqual({ 'Fn::GetAtt': [publication.id, 'PolicyId'] });
    expect(stack.resolve(mtaSts.policyRecordValue)).toEqual({ 'Fn::GetAtt': [publication.id, 'RecordValue'] });
    expect(logicalIdOf(mtaSts.publication)).toBe(publication.id);
  });

  test('creates a private, encrypted, TLS-only bucket retained by default', () => {
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  test('grants CloudFront read access once, account-wide, on policies/*', () => {
    // THEN
    const { resource } = only(template, 'AWS::S3::BucketPolicy');
    const bucketId = logicalIdOf(mtaSts.bucket);
    const allows = resource.Properties.PolicyDocument.Statement.filter((s: any) => s.Effect === 'Allow');
    expect(allows).toEqual([{
      Sid: 'CloudFrontReadsPolicyFiles',
      Effect: 'Allow',
      Principal: { Service: 'cloudfront.amazonaws.com' },
      Action: 's3:GetObject',
      Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/policies/*']] },
      Condition: {
        StringEquals: { 'AWS:SourceAccount': { Ref: 'AWS::AccountId' } },
        ArnLike: { 'AWS:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudfront::', { Ref: 'AWS::AccountId' }, ':distribution/*']] } },
      },
    }]);
  });

  test('publishes the exact policy text at policies/<domain>/.well-known/mta-sts.txt and announces it in _mta-sts', () => {
    // THEN
    expect(publication.resource.Properties).toEqual({
      ServiceToken: { 'Fn::GetAtt': [expect.stringMatching(/^MtaStsPolicyPublisherCustomResourceProviderHandler/), 'Arn'] },
      DomainName: 'example.com',
      BucketName: { Ref: logicalIdOf(mtaSts.bucket) },
      ObjectKey: 'policies/example.com/.well-known/mta-sts.txt',
      PolicyText: POLICY_TEXT,
      ContentId: sha256Prefix(POLICY_TEXT),
      HostedZoneId: 'Z0123456789',
      RecordName: '_mta-sts.example.com',
      RecordTtl: '300',
      RetainObject: 'true',
      ReplaceExistingRecord: 'false',
      DistributionId: { Ref: logicalIdOf(mtaSts.distribution) },
      // CloudFormation fails the publication after 25 minutes without an answer (one run and one retry by Lambda).
      ServiceTimeout: '1500',
    });
  });

  test('runs the publisher on nodejs22.x with a 10-minute timeout, which the handler answers within', () => {
    // THEN
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: '__entrypoint__.handler',
      Runtime: 'nodejs22.x',
      Timeout: 600,
    });
  });

  test('writes no _mta-sts TXT record set of its own: the publication is the only writer', () => {
    // THEN
    const txt = Object.values(template.findResources('AWS::Route53::RecordSet', { Properties: { Type: 'TXT' } }))
      .map((r: any) => r.Properties.Name);
    expect(txt).toEqual(['_smtp._tls.example.com.']);
  });

  test('runs the publication only after the distribution, both alias records and the bucket policy', () => {
    // THEN
    const bucketPolicy = only(template, 'AWS::S3::BucketPolicy').id;
    expect([...publication.resource.DependsOn].sort()).toEqual([
      bucketPolicy,
      logicalIdOf(mtaSts.aliasRecord),
      logicalIdOf(mtaSts.aliasRecordIpv6),
      logicalIdOf(mtaSts.distribution),
    ].sort());
  });

  test('publishes with a single nodejs22.x function whose role has exactly the record-scoped Route 53 grants and one object grant', () => {
    // THEN
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.hasResourceProperties('AWS::Lambda::Function', { Runtime: 'nodejs22.x', Timeout: 600 });
    template.resourceCountIs('AWS::IAM::Policy', 0);
    expect(publisherStatements(template)).toEqual([...ROUTE53_STATEMENTS, objectGrant(logicalIdOf(mtaSts.bucket))]);
  });

  test('creates a DNS-validated certificate for mta-sts.<domain> in the stack', () => {
    template.resourceCountIs('AWS::CertificateManager::Certificate', 1);
    template.hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: 'mta-sts.example.com',
      ValidationMethod: 'DNS',
      DomainValidationOptions: [{ DomainName: 'mta-sts.example.com', HostedZoneId: 'Z0123456789' }],
    });
    expect(template.findResources('AWS::CertificateManager::Certificate')[logicalIdOf(mtaSts.certificate as acm.Certificate)]).toBeDefined();
  });

  test('serves the domain folder through CloudFront with OAC, SNI, TLSv1.2_2021, HTTPS only, IPv6, GET/HEAD, no caching and no function', () => {
    template.resourceCountIs('AWS::CloudFront::Distribution', 1);
    template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    template.resourceCountIs('AWS::CloudFront::CloudFrontOriginAccessIdentity', 0);
    template.resourceCountIs('AWS::CloudFront::Function', 0);
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: {
        Aliases: ['mta-sts.example.com'],
        IPV6Enabled: true,
        PriceClass: 'PriceClass_100',
        ViewerCertificate: {
          AcmCertificateArn: { Ref: logicalIdOf(mtaSts.certificate as acm.Certificate) },
          MinimumProtocolVersion: 'TLSv1.2_2021',
          SslSupportMethod: 'sni-only',
        },
        DefaultCacheBehavior: {
          ViewerProtocolPolicy: 'https-only',
          AllowedMethods: ['GET', 'HEAD'],
          CachedMethods: ['GET', 'HEAD'],
          CachePolicyId: CACHING_DISABLED,
          Compress: false,
          FunctionAssociations: Match.absent(),
        },
        Origins: [Match.objectLike({
          OriginPath: '/policies/example.com',
          OriginAccessControlId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^MtaStsOriginAccessControl[0-9A-F]{8}$'), 'Id'] },
          S3OriginConfig: { OriginAccessIdentity: '' },
        })],
      },
    });
  });

  test('points A and AAAA alias records for mta-sts.<domain> at the distribution', () => {
    for (const type of ['A', 'AAAA']) {
      template.hasResourceProperties('AWS::Route53::RecordSet', {
        Name: 'mta-sts.example.com.',
        Type: type,
        HostedZoneId: 'Z0123456789',
        AliasTarget: { DNSName: { 'Fn::GetAtt': [logicalIdOf(mtaSts.distribution), 'DomainName'] } },
      });
    }
  });

  test('publishes the TLS-RPT record with every rua in order', () => {
    const records = template.findResources('AWS::Route53::RecordSet', { Properties: { Name: '_smtp._tls.example.com.' } });
    expect(Object.values(records).map((r: any) => r.Properties)).toEqual([{
      Name: '_smtp._tls.example.com.',
      Type: 'TXT',
      HostedZoneId: 'Z0123456789',
      ResourceRecords: [`"${TLS_RPT_VALUE}"`],
      TTL: '300',
    }]);
  });

  test('creates exactly the expected resources', () => {
    const types = Object.values(template.toJSON().Resources).map((r: any) => r.Type).sort();
    expect(types).toEqual([
      'AWS::CertificateManager::Certificate',
      'AWS::CloudFront::Distribution',
      'AWS::CloudFront::OriginAccessControl',
      'AWS::IAM::Role',
      'AWS::Lambda::Function',
      'AWS::Route53::RecordSet',
      'AWS::Route53::RecordSet',
      'AWS::Route53::RecordSet',
      'AWS::S3::Bucket',
      'AWS::S3::BucketPolicy',
      PUBLICATION,
    ].sort());
  });

  test('outputs the policy URL, the deploy-time id and both records by default', () => {
    const outputs = template.toJSON().Outputs;
    expect(Object.keys(outputs).map(id => id.replace(/[0-9A-F]{8}$/, ''))).toEqual([
      'MtaStsOutputsPolicyUrl', 'MtaStsOutputsPolicyId', 'MtaStsOutputsPolicyRecord', 'MtaStsOutputsTlsRptRecord',
    ]);
    expect(Object.values(outputs).map((o: any) => o.Value)).toEqual([
      'https://mta-sts.example.com/.well-known/mta-sts.txt',
      { 'Fn::GetAtt': [publication.id, 'PolicyId'] },
      { 'Fn::Join': ['', ['_mta-sts.example.com TXT "', { 'Fn::GetAtt': [publication.id, 'RecordValue'] }, '"']] },
      `_smtp._tls.example.com TXT "${TLS_RPT_VALUE}"`,
    ]);
  });

  test('keeps its child ids stable, with the domain\'s resources beneath a construct named after it', () => {
    expect(mtaSts.node.children.map(c => c.node.id)).toEqual(['Bucket', 'example.com', 'Outputs']);
    expect(stack.node.findChild('MtaStsOriginAccessControl')).toBeInstanceOf(cloudfront.S3OriginAccessControl);
    expect(mtaSts.node.findChild('example.com').node.children.map(c => c.node.id)).toEqual([
      'Certificate', 'Distribution', 'AliasRecord', 'AliasRecordIpv6', 'Publication', 'TlsRptRecord',
    ]);
    expect(mtaSts.node.findChild('Outputs').node.children.map(c => c.node.id)).toEqual(['PolicyUrl', 'PolicyId', 'PolicyRecord', 'TlsRptRecord']);
    expect(mtaSts.publication.node.path).toBe('Stack/MtaSts/example.com/Publication');
  });

  test('adds no warnings when TLS-RPT is configured', () => {
    expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
  });
});

describe('MtaSts options', () => {
  test('warns and publishes no TLS-RPT record or output without tlsRpt', () => {
    // GIVEN
    const { stack, zone } = makeStack();
    // WHEN
    const mtaSts = new MtaSts(stack, 'MtaSts', { hostedZone: zone, mx: ['mx.example.com'] });
    // THEN
    const template = Template.fromStack(stack);
    expect(template.findResources('AWS::Route53::RecordSet', { Properties: { Name: '_smtp._tls.example.com.' } })).toEqual({});
    expect(mtaSts.tlsRptRecord).toBeUndefined();
    expect(mtaSts.tlsRptRecordValue).toBeUndefined();
    expect(Object.keys(template.toJSON().Outputs)).toHaveLength(3);
    Annotations.fromStack(stack).hasWarning('/Stack/MtaSts', Match.stringLikeRegexp('example.com: no `tlsRpt` given.*\\[ack: cdk-mta-sts:noTlsRpt\\]'));
  });

  test('warns when mode none withdraws the policy', () => {
    const { stack, zone } = makeStack();
    new MtaSts(stack, 'MtaSts', { hostedZone: zone, mode: MtaStsMode.NONE, mx: [], tlsRpt: { rua: ['mailto:r@example.com'] } });
    Annotations.fromStack(stack).hasWarning('/Stack/MtaSts', Match.stringLikeRegexp('mode "none" withdraws the policy.*cdk-mta-sts:modeNone'));
  });

  test('warns about a short maxAge in enforce mode', () => {
    const { stack, zone } = makeStack();
    new MtaSts(stack, 'MtaSts', enforceProps(zone, { maxAge: Duration.hours(1) }));
    Annotations.fromStack(stack).hasWarning('/Stack/MtaSts', Match.stringLikeRegexp('maxAge of 3600 s in enforce mode.*cdk-mta-sts:shortMaxAge'));
  });

  test('publishes for a subdomain of the zone', () => {
    // GIVEN
    const { stack, zone } = makeStack();
    // WHEN
    const mtaSts = new MtaSts(stack, 'MtaSts', enforceProps(zone, { domainName: 'EU.Example.com.' }));
    // THEN
    expect(mtaSts.policyUrl).toBe('https://mta-sts.eu.example.com/.well-known/mta-sts.txt');
    expect(mtaSts.node.findChild('eu.example.com')).toBeDefined();
    const template = Template.fromStack(stack);
    template.hasResourceProperties(PUBLICATION, {
      DomainName: 'eu.example.com',
      ObjectKey: 'policies/eu.example.com/.well-known/mta-sts.txt',
      RecordName: '_mta-sts.eu.example.com',
    });
    template.hasResourceProperties('AWS::Route53::RecordSet', { Name: '_smtp._tls.eu.example.com.', Type: 'TXT' });
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: { Aliases: ['mta-sts.eu.example.com'], Origins: [Match.objectLike({ OriginPath: '/policies/eu.example.com' })] },
    });
  });

  test('writes an internationalised domain as its A-label', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const zone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z1', zoneName: 'bücher.example' });
    // WHEN
    const mtaSts = new MtaSts(stack, 'MtaSts', { hostedZone: zone, mx: ['mx.bücher.example'], tlsRpt: { rua: ['mailto:r@xn--bcher-kva.example'] } });
    // THEN
    expect(mtaSts.policyHost).toBe('mta-sts.xn--bcher-kva.example');
    expect(mtaSts.policy.text).toContain('mx: mx.xn--bcher-kva.example\r\n');
    Template.fromStack(stack).hasResourceProperties(PUBLICATION, {
      RecordName: '_mta-sts.xn--bcher-kva.example',
      ObjectKey: 'policies/xn--bcher-kva.example/.well-known/mta-sts.txt',
    });
  });

  test('applies price class, removal policy and record TTL, and deletes the policy file with a DESTROY bucket', () => {
    // GIVEN
    const { stack, zone } = makeStack();
    // WHEN
    new MtaSts(stack, 'MtaSts', enforceProps(zone, {
      priceClass: cloudfront.PriceClass.PRICE_CLASS_ALL,
      removalPolicy: RemovalPolicy.DESTROY,
      recordTtl: Duration.hours(1),
    }));
    // THEN
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::CloudFront::Distribution', { DistributionConfig: { PriceClass: 'PriceClass_All' } });
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
    template.hasResourceProperties(PUBLICATION, { RecordTtl: '3600', RetainObject: 'false' });
    template.hasResourceProperties('AWS::Route53::RecordSet', { Name: '_smtp._tls.example.com.', TTL: '3600' });
  });

  test('keeps the policy file when the bucket is retained explicitly', () => {
    const { stack, zone } = makeStack();
    new MtaSts(stack, 'MtaSts', enforceProps(zone, { removalPolicy: RemovalPolicy.RETAIN }));
    const template = Template.fromStack(stack);
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
    template.hasResourceProperties(PUBLICATION, { RetainObject: 'true' });
  });

  test('passes replaceExistingRecords through to the publication', () => {
    // GIVEN
    const { stack, zone } = makeStack();
    // WHEN
    new MtaSts(stack, 'MtaSts', enforceProps(zone, { replaceExistingRecords: true }));
    // THEN
    Template.fromStack(stack).hasResourceProperties(PUBLICATION, { ReplaceExistingRecord: 'true' });
  });

  test('adds no outputs with outputs: false', () => {
    // GIVEN
    const { stack, zone } = makeStack();
    // WHEN
    const mtaSts = new MtaSts(stack, 'MtaSts', enforceProps(zone, { outputs: false }));
    // THEN
    expect(Template.fromStack(stack).toJSON().Outputs).toBeUndefined();
    expect(mtaSts.node.tryFindChild('Outputs')).toBeUndefined();
  });

  test('writes every record inside a zone delegated for mta-sts.<domain>', () => {
    // GIVEN a zone named mta-sts.example.com, delegated from DNS outside Route 53
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const zone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'ZDELEGATED', zoneName: 'mta-sts.example.com' });
    // WHEN
    const mtaSts = new MtaSts(stack, 'MtaSts', enforceProps(zone, { domainName: 'example.com' }));
    // THEN
    expect(mtaSts.policyHost).toBe('mta-sts.example.com');
    const template = Template.fromStack(stack);
    template.hasResourceProperties(PUBLICATION, {
      DomainName: 'example.com',
      RecordName: '_mta-sts.mta-sts.example.com',
      HostedZoneId: 'ZDELEGATED',
      ObjectKey: 'policies/example.com/.well-known/mta-sts.txt',
    });
    const names = Object.values(template.findResources('AWS::Route53::RecordSet')).map((r: any) => `${r.Properties.Type} ${r.Properties.Name}`).sort();
    expect(names).toEqual(['A mta-sts.example.com.', 'AAAA mta-sts.example.com.', 'TXT _smtp._tls.mta-sts.example.com.']);
    template.hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: 'mta-sts.example.com',
      DomainValidationOptions: [{ DomainName: 'mta-sts.example.com', HostedZoneId: 'ZDELEGATED' }],
    });
    const outputs = Object.values(template.toJSON().Outputs).map((o: any) => o.Value);
    expect(JSON.stringify(outputs[2])).toContain('_mta-sts.mta-sts.example.com TXT');
    expect(outputs[3]).toBe(`_smtp._tls.mta-sts.example.com TXT "${TLS_RPT_VALUE}"`);
  });

  test('shares one publisher function between instances in a stack, adding each bucket to its one object grant and nothing else', () => {
    // GIVEN
    const { stack, zone } = makeStack();
    // WHEN
    const a = new MtaSts(stack, 'A', enforceProps(zone));
    const b = new MtaSts(stack, 'B', enforceProps(zone, { domainName: 'eu.example.com', mode: MtaStsMode.TESTING }));
    // THEN
    const template = Template.fromStack(stack);
    template.resourceCountIs(PUBLICATION, 2);
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.resourceCountIs('AWS::IAM::Role', 1);
    template.resourceCountIs('AWS::IAM::Policy', 0);
    expect(publisherStatements(template)).toEqual([...ROUTE53_STATEMENTS, objectGrant(logicalIdOf(a.bucket), logicalIdOf(b.bucket))]);
  });

  test('shares the stack\'s one origin access control between instances, beneath the stack', () => {
    // GIVEN
    const { stack, zone } = makeStack();
    // WHEN
    const a = new MtaSts(stack, 'A', enforceProps(zone));
    const b = new MtaSts(stack, 'B', enforceProps(zone, { domainName: 'eu.example.com' }));
    // THEN
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    template.resourceCountIs('AWS::CloudFront::Distribution', 2);
    for (const mtaSts of [a, b]) {
      expect(template.toJSON().Resources[logicalIdOf(mtaSts.distribution)].Properties.DistributionConfig.Origins[0].OriginAccessControlId)
        .toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^MtaStsOriginAccessControl[0-9A-F]{8}$/), 'Id'] });
    }
  });

  test('names the origin access control from the stack id at deploy time, unique in the account and constant for the stack', () => {
    // GIVEN
    const { stack, zone } = makeStack();
    // WHEN
    new MtaSts(stack, 'MtaSts', enforceProps(zone));
    // THEN
    Template.fromStack(stack).hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: {
        Name: { 'Fn::Join': ['', [Match.stringLikeRegexp('^MtaSts-[0-9a-f]{8}-$'), { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] }]] },
        Description: 'MTA-STS policy buckets of the MtaSts constructs in stack Stack',
        OriginAccessControlOriginType: 's3',
        SigningBehavior: 'always',
        SigningProtocol: 'sigv4',
      },
    });
  });

  test('keeps MtaStsDomains\' own origin access control beside the one MtaSts constructs share, each named apart', () => {
    // GIVEN
    const { stack, zone } = makeStack();
    const other = route53.HostedZone.fromHostedZoneAttributes(stack, 'Other', { hostedZoneId: 'Z9876543210', zoneName: 'example.org' });
    // WHEN
    new MtaSts(stack, 'MtaSts', enforceProps(zone));
    new MtaStsDomains(stack, 'Domains', { mx: ['mx.example.org'], domains: [{ hostedZone: other }] });
    // THEN
    const controls = Template.fromStack(stack).findResources('AWS::CloudFront::OriginAccessControl');
    expect(Object.keys(controls)).toEqual([expect.stringMatching(/^MtaStsOriginAccessControl[0-9A-F]{8}$/), expect.stringMatching(/^DomainsOriginAccessControl/)]);
    const prefixes = Object.values(controls).map((c: any) => c.Properties.OriginAccessControlConfig.Name['Fn::Join'][1][0]);
    expect(new Set(prefixes).size).toBe(2);
  });

  test('fails when the stack holds another construct with the id of the shared origin access control', () => {
    // GIVEN
    const { stack, zone } = makeStack();
    new cloudfront.S3OriginAccessControl(stack, 'MtaStsOriginAccessControl');
    // WHEN / THEN
    expect(() => new MtaSts(stack, 'MtaSts', enforceProps(zone))).toThrow('cdk-mta-sts: the construct id MtaStsOriginAccessControl at the root '
      + 'of stack Stack is reserved for the origin access control that the stack\'s MtaSts constructs share; rename the construct there, '
      + 'got: a construct at Stack/MtaStsOriginAccessControl that this library did not create');
  });

  test('passes an unresolved rua through unchecked', () => {
    const { stack, zone } = makeStack();
    const rua = Token.asString({ Ref: 'ReportAddress' });
    const mtaSts = new MtaSts(stack, 'MtaSts', enforceProps(zone, { tlsRpt: { rua: [rua] } }));
    expect(stack.resolve(mtaSts.tlsRptRecordValue)).toEqual({ 'Fn::Join': ['', ['v=TLSRPTv1; rua=', { Ref: 'ReportAddress' }]] });
  });

  test('gives the same content id for the same text, and another for another text', () => {
    const { stack, zone } = makeStack();
    const a = new MtaSts(stack, 'A', enforceProps(zone));
    const b = new MtaSts(stack, 'B', enforceProps(zone, { domainName: 'eu.example.com' }));
    const c = new MtaSts(stack, 'C', enforceProps(zone, { domainName: 'us.example.com', maxAge: Duration.days(15) }));
    expect(b.policy.contentId).toBe(a.policy.contentId);
    expect(c.policy.contentId).not.toBe(a.policy.contentId);
    expect(c.policy.contentId).toBe(new MtaStsPolicy({ mode: MtaStsMode.ENFORCE, mx: ['mx1.example.com', '*.mail.example.com'], maxAge: Duration.days(15) }).contentId);
  });
});

/** Every warning or info of the app's stacks: [construct path, message]. */
function messagesOf(stack: Stack, level: 'warning' | 'info'): Array<[string, unknown]> {
  const annotations = Annotations.fromStack(stack);
  const found = level === 'warning' ? annotations.findWarning('*', Match.anyValue()) : annotations.findInfo('*', Match.anyValue());
  return found.map(m => [m.id, m.entry.data]);
}

/** The info acknowledgement of aws-cdk-lib versions after 2.197.0, absent from 2.197.0. */
function acknowledgeInfo(scope: IConstruct, id: string, reason: string): void {
  (CoreAnnotations.of(scope) as unknown as { acknowledgeInfo(id: string, reason: string): void }).acknowledgeInfo(id, reason);
}

describe('warnings and notes carry one id each, and acknowledging the id removes them', () => {
  const REASON = 'reviewed';

  test('every warning and note of MtaSts ends with its one id, and these are all the ids (the README table)', () => {
    // GIVEN an app that triggers each of them
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const zone = (name: string) => route53.HostedZone.fromHostedZoneAttributes(stack, `Zone-${name}`, { hostedZoneId: `Z${name.length}`, zoneName: name });
    const com = zone('example.com');
    new MtaSts(stack, 'Com', { hostedZone: com, mode: MtaStsMode.TESTING, mx: ['mx1.example.com'] });
    new route53.MxRecord(stack, 'Mx', { zone: com, values: [{ priority: 10, hostName: 'mx3.example.com' }, { priority: 20, hostName: Fn.importValue('MailHost') }] });
    new MtaSts(stack, 'Org', enforceProps(zone('mta-sts.example.org'), { domainName: 'example.org', maxAge: Duration.hours(1) }));
    new MtaSts(stack, 'Net', { hostedZone: zone('example.net'), mode: MtaStsMode.NONE, mx: [], tlsRpt: { rua: ['mailto:r@example.com'] } });
    // WHEN
    const found = [...messagesOf(stack, 'warning').map(m => ['warning', ...m]), ...messagesOf(stack, 'info').map(m => ['info', ...m])];
    // THEN
    expect(found.map(([level, path, message]) => [level, path, /\[ack: ([^\]]+)\]$/.exec(String(message))?.[1]])).toEqual([
      ['warning', '/Stack/Com', 'cdk-mta-sts:noTlsRpt'],
      ['warning', '/Stack/Com', 'cdk-mta-sts:mxNotInPolicy'],
      ['warning', '/Stack/Org', 'cdk-mta-sts:shortMaxAge'],
      ['warning', '/Stack/Net', 'cdk-mta-sts:modeNone'],
      ['info', '/Stack/Com', 'cdk-mta-sts:mxNotChecked'],
      ['info', '/Stack/Org', 'cdk-mta-sts:delegatedZoneRecords'],
    ]);
    expect(found.every(([, , message]) => String(message).match(/\[ack: /g)!.length === 1)).toBe(true);
  });

  test.each([
    ['cdk-mta-sts:modeNone', (zone: route53.IHostedZone): MtaStsProps => ({ hostedZone: zone, mode: MtaStsMode.NONE, mx: [], tlsRpt: { rua: ['mailto:r@example.com'] } }),
      'example.com: mode "none" withdraws the policy; keep it published for at least the previous max_age before removing MTA-STS (RFC 8461 §8.3).'],
    ['cdk-mta-sts:shortMaxAge', (zone: route53.IHostedZone): MtaStsProps => enforceProps(zone, { maxAge: Duration.hours(1) }),
      'example.com: maxAge of 3600 s in enforce mode gives little protection against downgrade attacks; RFC 8461 §3.2 recommends weeks.'],
    ['cdk-mta-sts:noTlsRpt', (zone: route53.IHostedZone): MtaStsProps => enforceProps(zone, { tlsRpt: undefined }),
      'example.com: no `tlsRpt` given, so no _smtp._tls record is published and senders cannot report MTA-STS or TLS failures (RFC 8460).'],
  ])('%s is the id of its warning, and Annotations.of(stack).acknowledgeWarning(id) removes it', (id, props, message) => {
    // GIVEN
    const warned = makeStack();
    const acknowledged = makeStack();
    // WHEN
    new MtaSts(warned.stack, 'MtaSts', props(warned.zone));
    new MtaSts(acknowledged.stack, 'MtaSts', props(acknowledged.zone));
    CoreAnnotations.of(acknowledged.stack).acknowledgeWarning(id, REASON);
    // THEN
    expect(messagesOf(warned.stack, 'warning')).toEqual([['/Stack/MtaSts', `${message} [ack: ${id}]`]]);
    expect(messagesOf(acknowledged.stack, 'warning')).toEqual([]);
  });

  test('the delegated-zone records note has the id cdk-mta-sts:delegatedZoneRecords on every aws-cdk-lib version', () => {
    // GIVEN
    const { stack } = delegatedStack();
    // THEN
    expect(messagesOf(stack, 'info')).toEqual([['/Stack/MtaSts', [
      'example.com: create these records once at the DNS provider of example.com (zone-file form):',
      '  mta-sts.example.com. NS <each name server of hosted zone ZDELEGATED>',
      '  _mta-sts.example.com. CNAME _mta-sts.mta-sts.example.com.',
      '  _smtp._tls.example.com. CNAME _smtp._tls.mta-sts.example.com.',
      'Create and delegate the zone before the first deploy: the certificate is validated in it, and the deploy waits until it is. [ack: cdk-mta-sts:delegatedZoneRecords]',
    ].join('\n')]]);
  });

  test('Annotations.of(stack).acknowledgeInfo(id) removes the delegated-zone note where aws-cdk-lib has it (not 2.197.0)', () => {
    // GIVEN
    const { stack } = delegatedStack();
    const annotations = CoreAnnotations.of(stack) as unknown as { acknowledgeInfo?: unknown };
    // WHEN / THEN
    if (LEG === 'minimum') {
      expect(annotations.acknowledgeInfo).toBeUndefined();
      expect(messagesOf(stack, 'info')).toHaveLength(1);
    } else {
      acknowledgeInfo(stack, 'cdk-mta-sts:delegatedZoneRecords', REASON);
      expect(messagesOf(stack, 'info')).toEqual([]);
    }
  });

  test('acknowledging on the stack before the construct exists also works, for warnings and notes', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    CoreAnnotations.of(stack).acknowledgeWarning('cdk-mta-sts:noTlsRpt', REASON);
    if (LEG === 'latest') {
      acknowledgeInfo(stack, 'cdk-mta-sts:delegatedZoneRecords', REASON);
    }
    // WHEN
    const zone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'ZDELEGATED', zoneName: 'mta-sts.example.com' });
    new MtaSts(stack, 'MtaSts', enforceProps(zone, { domainName: 'example.com', tlsRpt: undefined }));
    // THEN
    expect(messagesOf(stack, 'warning')).toEqual([]);
    expect(messagesOf(stack, 'info')).toHaveLength(LEG === 'latest' ? 0 : 1);
  });

  test('on newer aws-cdk-lib, Validations.of(stack).acknowledge with the id the CDK CLI prints (Annotation::<id>) removes a warning', () => {
    // GIVEN
    const { stack, zone } = makeStack();
    new MtaSts(stack, 'MtaSts', enforceProps(zone, { tlsRpt: undefined }));
    type Acknowledge = (...rules: Array<{ id: string; reason: string }>) => void;
    const validations = (cdk as unknown as { Validations?: { of(scope: IConstruct): { acknowledge: Acknowledge } } }).Validations;
    // WHEN / THEN
    if (LEG === 'minimum') {
      expect(validations).toBeUndefined();
    } else {
      validations!.of(stack).acknowledge({ id: 'Annotation::cdk-mta-sts:noTlsRpt', reason: REASON });
      expect(messagesOf(stack, 'warning')).toEqual([]);
    }
  });
});

describe('MtaSts placement outside us-east-1', () => {
  test('puts every resource in one us-east-1 companion stack that the stack depends on', () => {
    // GIVEN
    const { app, stack, zone } = makeStack('eu-west-1');
    // WHEN
    const mtaSts = new MtaSts(stack, 'MtaSts', enforceProps(zone));
    // THEN
    const companion = app.node.findChild('Stack-MtaSts') as Stack;
    expect(companion.region).toBe('us-east-1');
    expect(companion.account).toBe(ACCOUNT);
    expect(stack.dependencies).toEqual([companion]);
    const created = [
      mtaSts.bucket, mtaSts.certificate, mtaSts.distribution, mtaSts.aliasRecord, mtaSts.aliasRecordIpv6, mtaSts.publication, mtaSts.tlsRptRecord!,
    ];
    for (const resource of created) {
      expect(Stack.of(resource)).toBe(companion);
    }
    expect(mtaSts.publication.node.path).toMatch(/^Stack-MtaSts\/StackMtaSts[0-9A-F]{8}\/example\.com\/Publication$/);
    expect(Template.fromStack(stack).toJSON().Resources).toBeUndefined();
    const template = Template.fromStack(companion);
    template.resourceCountIs('AWS::CertificateManager::Certificate', 1);
    template.resourceCountIs('AWS::CloudFront::Distribution', 1);
    template.resourceCountIs(PUBLICATION, 1);
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: 'mta-sts.example.com',
      DomainValidationOptions: [{ DomainName: 'mta-sts.example.com', HostedZoneId: 'Z0123456789' }],
    });
    template.hasResourceProperties(PUBLICATION, { HostedZoneId: 'Z0123456789', RecordName: '_mta-sts.example.com', PolicyText: POLICY_TEXT });
    expect(Object.keys(template.toJSON().Outputs)).toHaveLength(4);
  });

  test('needs and creates no cross-region references', () => {
    // GIVEN
    const { app, stack, zone } = makeStack('eu-west-1');
    // WHEN
    new MtaSts(stack, 'MtaSts', enforceProps(zone));
    // THEN
    expect(crossRegionLeftovers(app)).toEqual([]);
  });

  test('puts several instances in one companion stack with one publisher function', () => {
    // GIVEN
    const { app, stack, zone } = makeStack('eu-west-1');
    // WHEN
    new MtaSts(stack, 'A', enforceProps(zone));
    new MtaSts(stack, 'B', enforceProps(zone, { domainName: 'eu.example.com' }));
    // THEN
    const companion = app.node.findChild('Stack-MtaSts') as Stack;
    const template = Template.fromStack(companion);
    template.resourceCountIs('AWS::CertificateManager::Certificate', 2);
    template.resourceCountIs(PUBLICATION, 2);
    template.resourceCountIs('AWS::Lambda::Function', 1);
    expect(app.node.children.filter(c => c instanceof Stack).map(s => s.node.id)).toEqual(['Stack', 'Stack-MtaSts']);
    expect(crossRegionLeftovers(app)).toEqual([]);
  });

  test('shares one origin access control in the companion stack between instances', () => {
    // GIVEN
    const { app, stack, zone } = makeStack('eu-west-1');
    // WHEN
    new MtaSts(stack, 'A', enforceProps(zone));
    new MtaSts(stack, 'B', enforceProps(zone, { domainName: 'eu.example.com' }));
    // THEN
    const companion = app.node.findChild('Stack-MtaSts') as Stack;
    Template.fromStack(companion).resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    expect(companion.node.findChild('MtaStsOriginAccessControl')).toBeInstanceOf(cloudfront.S3OriginAccessControl);
    expect(Template.fromStack(stack).toJSON().Resources).toBeUndefined();
  });

  test('names the companion stack after the stack name', () => {
    // GIVEN
    const { app, stack, zone } = makeStack('eu-west-1', { stackName: 'mail-production' });
    // WHEN
    const mtaSts = new MtaSts(stack, 'MtaSts', enforceProps(zone));
    // THEN
    const companion = Stack.of(mtaSts.publication);
    expect(companion).toBe(app.node.findChild('Stack-MtaSts'));
    expect(companion.stackName).toBe('mail-production-MtaSts');
  });

  test('uses a supplied us-east-1 certificate in the companion stack and creates none', () => {
    // GIVEN
    const { app, stack, zone } = makeStack('eu-west-1');
    const certificate = acm.Certificate.fromCertificateArn(stack, 'Cert', `arn:aws:acm:us-east-1:${ACCOUNT}:certificate/abc`);
    // WHEN
    const mtaSts = new MtaSts(stack, 'MtaSts', enforceProps(zone, { certificate }));
    // THEN
    expect(mtaSts.certificate).toBe(certificate);
    const companion = app.node.findChild('Stack-MtaSts') as Stack;
    const template = Template.fromStack(companion);
    template.resourceCountIs('AWS::CertificateManager::Certificate', 0);
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: { ViewerCertificate: { AcmCertificateArn: `arn:aws:acm:us-east-1:${ACCOUNT}:certificate/abc` } },
    });
    expect(Template.fromStack(stack).toJSON().Resources).toBeUndefined();
  });

  test('gives each stack outside us-east-1 its own companion stack', () => {
    // GIVEN
    const { app, stack, zone } = makeStack('eu-west-1');
    const other = new Stack(app, 'Other', { env: { account: ACCOUNT, region: 'ap-southeast-2' } });
    const otherZone = route53.HostedZone.fromHostedZoneAttributes(other, 'Zone', { hostedZoneId: 'Z9876543210', zoneName: 'example.org' });
    // WHEN
    const a = new MtaSts(stack, 'MtaSts', enforceProps(zone));
    const b = new MtaSts(other, 'MtaSts', { ...enforceProps(otherZone), mx: ['mx.example.org'] });
    // THEN
    expect(Stack.of(a.publication).node.id).toBe('Stack-MtaSts');
    expect(Stack.of(b.publication).node.id).toBe('Other-MtaSts');
    expect(Stack.of(b.publication).region).toBe('us-east-1');
    expect(other.dependencies).toEqual([Stack.of(b.publication)]);
    Template.fromStack(Stack.of(b.publication)).hasResourceProperties(PUBLICATION, { DomainName: 'example.org', HostedZoneId: 'Z9876543210' });
    expect(crossRegionLeftovers(app)).toEqual([]);
  });

  test('fails when the zone id is a token outside us-east-1', () => {
    // GIVEN
    const { stack } = makeStack('eu-west-1');
    const zone = new route53.PublicHostedZone(stack, 'NewZone', { zoneName: 'example.com' });
    // WHEN / THEN
    expect(() => new MtaSts(stack, 'MtaSts', enforceProps(zone))).toThrow([
      'Invalid MtaSts props at Stack/MtaSts (1 problem):',
      '  - `hostedZone` must have a literal hosted zone id when the stack is outside us-east-1, since the construct\'s resources are then '
      + 'created in a companion stack in us-east-1: import the zone with HostedZone.fromHostedZoneAttributes, '
      + 'got: a zone whose id is an unresolved token (stack "Stack" in eu-west-1)',
    ].join('\n'));
  });

  test('accepts a token zone id in a us-east-1 stack', () => {
    const { stack } = makeStack();
    const zone = new route53.PublicHostedZone(stack, 'NewZone', { zoneName: 'example.com' });
    new MtaSts(stack, 'MtaSts', enforceProps(zone));
    Template.fromStack(stack).hasResourceProperties(PUBLICATION, { HostedZoneId: { Ref: Match.stringLikeRegexp('^NewZone') } });
  });
});

describe('MtaSts in a stack with no region', () => {
  test('fails when no certificate is given', () => {
    // GIVEN
    const { stack, zone } = makeStack(null);
    // WHEN / THEN
    expect(() => new MtaSts(stack, 'MtaSts', enforceProps(zone))).toThrow([
      'Invalid MtaSts props at Stack/MtaSts (1 problem):',
      '  - `certificate` is required when the stack has no region: CloudFront needs a certificate in us-east-1, so give the stack an env with '
      + 'a region (the construct then creates the certificate) or pass a us-east-1 certificate, got: stack "Stack" with an unresolved region',
    ].join('\n'));
  });

  test('builds in place with a supplied certificate', () => {
    // GIVEN
    const { app, stack, zone } = makeStack(null);
    const certificate = acm.Certificate.fromCertificateArn(stack, 'Cert', `arn:aws:acm:us-east-1:${ACCOUNT}:certificate/abc`);
    // WHEN
    const mtaSts = new MtaSts(stack, 'MtaSts', enforceProps(zone, { certificate }));
    // THEN
    expect(Stack.of(mtaSts.publication)).toBe(stack);
    expect(app.node.children.filter(c => c instanceof Stack)).toEqual([stack]);
    Template.fromStack(stack).resourceCountIs(PUBLICATION, 1);
  });
});

describe('MtaSts with a supplied certificate', () => {
  test('accepts a certificate whose ARN is a token', () => {
    const { stack, zone } = makeStack();
    const certificate = acm.Certificate.fromCertificateArn(stack, 'Cert', Token.asString({ Ref: 'CertArn' }));
    expect(() => new MtaSts(stack, 'MtaSts', enforceProps(zone, { certificate }))).not.toThrow();
  });

  test.each([
    ['an ACM ARN in another region', `arn:aws:acm:eu-west-1:${ACCOUNT}:certificate/abc`,
      '`certificate` must be in us-east-1, the only region CloudFront takes certificates from, '
      + `got: a certificate in "eu-west-1" (arn:aws:acm:eu-west-1:${ACCOUNT}:certificate/abc)`],
    ['an ARN that is not an ACM ARN', `arn:aws:iam::${ACCOUNT}:server-certificate/abc`,
      `\`certificate\` must be an ACM certificate ARN (arn:aws:acm:us-east-1:<account>:certificate/<id>), got: "arn:aws:iam::${ACCOUNT}:server-certificate/abc"`],
    ['an ACM ARN with no region', `arn:aws:acm::${ACCOUNT}:certificate/abc`,
      `\`certificate\` must be an ACM certificate ARN (arn:aws:acm:us-east-1:<account>:certificate/<id>), got: "arn:aws:acm::${ACCOUNT}:certificate/abc"`],
    ['a certificate name rather than an ARN', 'mta-sts.example.com',
      '`certificate` must be an ACM certificate ARN (arn:aws:acm:us-east-1:<account>:certificate/<id>), got: "mta-sts.example.com"'],
  ])('fails when the certificate is %s', (_name, arn, message) => {
    // GIVEN
    const { stack, zone } = makeStack();
    const certificate = acm.Certificate.fromCertificateArn(stack, 'Cert', arn);
    // WHEN / THEN
    expect(() => new MtaSts(stack, 'MtaSts', enforceProps(zone, { certificate }))).toThrow(
      `Invalid MtaSts props at Stack/MtaSts (1 problem):\n  - ${message}`,
    );
    expect(stack.node.findChild('MtaSts').node.children).toEqual([]);
  });

  test('fails when a token certificate belongs to a stack in another region', () => {
    // GIVEN
    const { app, stack, zone } = makeStack();
    const other = new Stack(app, 'Other', { env: { account: ACCOUNT, region: 'eu-west-1' } });
    const certificate = new acm.Certificate(other, 'Cert', { domainName: 'mta-sts.example.com' });
    // WHEN / THEN
    expect(() => new MtaSts(stack, 'MtaSts', enforceProps(zone, { certificate }))).toThrow(
      '  - `certificate` must be in us-east-1, the only region CloudFront takes certificates from, got: a certificate in stack region "eu-west-1"',
    );
  });
});

describe('MtaSts domain names', () => {
  const name56 = `${'a'.repeat(44)}.example.com`; // 56 characters: mta-sts.<name> is 64
  const name57 = `${'a'.repeat(45)}.example.com`;

  test('accepts a 56-character domain, whose mta-sts name is exactly 64 characters', () => {
    // GIVEN
    const { stack, zone } = makeStack();
    expect(name56).toHaveLength(56);
    // WHEN
    new MtaSts(stack, 'MtaSts', enforceProps(zone, { domainName: name56 }));
    // THEN
    Template.fromStack(stack).hasResourceProperties('AWS::CertificateManager::Certificate', { DomainName: `mta-sts.${name56}` });
  });

  test('fails when the domain name is too long for ACM and no certificate is given', () => {
    // GIVEN
    const { stack, zone } = makeStack();
    // WHEN / THEN
    expect(() => new MtaSts(stack, 'MtaSts', enforceProps(zone, { domainName: name57 }))).toThrow([
      'Invalid MtaSts props at Stack/MtaSts (1 problem):',
      `  - \`domainName\` must be at most 56 characters so that "mta-sts.${name57}" fits ACM's 64-character limit on a certificate's domain name `
      + `(or pass a certificate), got: "${name57}" (57 characters)`,
    ].join('\n'));
  });

  test('accepts a long domain name with a supplied certificate', () => {
    const { stack, zone } = makeStack();
    const certificate = acm.Certificate.fromCertificateArn(stack, 'Cert', `arn:aws:acm:us-east-1:${ACCOUNT}:certificate/abc`);
    const mtaSts = new MtaSts(stack, 'MtaSts', enforceProps(zone, { domainName: name57, certificate }));
    expect(mtaSts.policyHost).toBe(`mta-sts.${name57}`);
    Template.fromStack(stack).resourceCountIs('AWS::CertificateManager::Certificate', 0);
  });

  test('fails when the domain name is an unresolved token', () => {
    const { stack, zone } = makeStack();
    expect(() => new MtaSts(stack, 'MtaSts', enforceProps(zone, { domainName: Token.asString({ Ref: 'Domain' }) }))).toThrow(
      '  - `domainName` must be known at synthesis time, since it names the domain\'s resources and records, got: an unresolved token',
    );
  });
});

describe('MtaSts publishing a domain once per app', () => {
  test('fails when two MtaSts in one app publish the same domain, naming both paths', () => {
    // GIVEN
    const { app, stack, zone } = makeStack();
    new MtaSts(stack, 'First', enforceProps(zone));
    const other = new Stack(app, 'Other', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const otherZone = route53.HostedZone.fromHostedZoneAttributes(other, 'Zone', { hostedZoneId: 'Z0123456789', zoneName: 'example.com' });
    // WHEN / THEN
    expect(() => new MtaSts(other, 'Second', enforceProps(otherZone))).toThrow([
      'Invalid MtaSts props at Other/Second (1 problem):',
      '  - `domainName` "example.com" is already published by Stack/First; one app may publish a policy domain only once, '
      + 'got: "example.com" again at Other/Second',
    ].join('\n'));
  });

  test('fails when MtaStsDomains already publishes the domain, naming both paths', () => {
    // GIVEN
    const { stack, zone } = makeStack();
    new MtaStsDomains(stack, 'Domains', { mx: ['mx1.example.com'], tlsRpt: { rua: ['mailto:r@example.com'] }, domains: [{ hostedZone: zone }] });
    // WHEN / THEN
    expect(() => new MtaSts(stack, 'MtaSts', enforceProps(zone))).toThrow([
      'Invalid MtaSts props at Stack/MtaSts (1 problem):',
      '  - `domainName` "example.com" is already published by Stack/Domains; one app may publish a policy domain only once, '
      + 'got: "example.com" again at Stack/MtaSts',
    ].join('\n'));
  });

  test('allows the same domain in two separate apps', () => {
    const first = makeStack();
    const second = makeStack();
    new MtaSts(first.stack, 'MtaSts', enforceProps(first.zone));
    expect(() => new MtaSts(second.stack, 'MtaSts', enforceProps(second.zone))).not.toThrow();
  });
});

describe('MtaSts validation', () => {
  test('fails once, listing every problem with the prop, the rule and the value', () => {
    const { stack, zone } = makeStack();
    expect(() => new MtaSts(stack, 'MtaSts', {
      hostedZone: zone,
      domainName: 'other.org',
      mode: MtaStsMode.ENFORCE,
      mx: ['mx1.example.com', 'mx1.example.com:25'],
      maxAge: Duration.seconds(31557601),
      tlsRpt: { rua: ['http://r.example.com'] },
    })).toThrow([
      'Invalid MtaSts props at Stack/MtaSts (4 problems):',
      '  - `domainName` must be the hosted zone\'s name (example.com), a name below it, or the domain whose mta-sts name the zone is (delegated), got: "other.org"',
      '  - `mx[1]` must be a hostname or *.hostname and must be a bare hostname: no scheme, port, path or address, got: "mx1.example.com:25"',
      '  - `maxAge` must be between 0 and 31557600 seconds (about one year), got: 31557601 s',
      '  - `tlsRpt.rua[0]` must be a mailto: address or an https: URL, got: "http://r.example.com"',
    ].join('\n'));
    expect(stack.node.tryFindChild('MtaSts')?.node.children ?? []).toEqual([]);
  });

  test('fails when recordTtl is not a whole number of seconds', () => {
    const { stack, zone } = makeStack();
    expect(() => new MtaSts(stack, 'MtaSts', enforceProps(zone, { recordTtl: Duration.millis(1500) })))
      .toThrow('`recordTtl` must be a whole number of seconds from 0 to 2147483647, got: 1.5 s');
  });

  test('fails when mx is empty in enforce mode', () => {
    const { stack, zone } = makeStack();
    expect(() => new MtaSts(stack, 'MtaSts', { hostedZone: zone, mode: MtaStsMode.ENFORCE, mx: [] }))
      .toThrow('`mx` must list at least one MX host unless mode is "none", got: [] with mode "enforce"');
  });

  test('fails when domainName is not a domain name', () => {
    const { stack, zone } = makeStack();
    expect(() => new MtaSts(stack, 'MtaSts', enforceProps(zone, { domainName: 'example.com\r\n_evil' })))
      .toThrow('`domainName` must be a domain name and must not contain CR or LF, got: "example.com\\r\\n_evil"');
  });

  test('fails when domainName has a wildcard', () => {
    const { stack, zone } = makeStack();
    expect(() => new MtaSts(stack, 'MtaSts', enforceProps(zone, { domainName: '*.example.com' })))
      .toThrow('`domainName` must be a domain name and must be a hostname without a wildcard, got: "*.example.com"');
  });

  test('fails when the zone has no name and domainName is not given', () => {
    const { stack } = makeStack();
    const zone = route53.HostedZone.fromHostedZoneId(stack, 'ById', 'Z1');
    expect(() => new MtaSts(stack, 'MtaSts', { hostedZone: zone, mx: ['mx.example.com'] }))
      .toThrow('`domainName` is required when `hostedZone` has no known zone name, got: undefined');
  });

  test('fails when an mx is an unresolved token, since the id hashes the text', () => {
    const { stack, zone } = makeStack();
    expect(() => new MtaSts(stack, 'MtaSts', enforceProps(zone, { mx: [Token.asString({ Ref: 'Mx' })] })))
      .toThrow('`mx[0]` must be known at synthesis time, since the policy id is a hash of the policy text, got: an unresolved token');
  });
});
