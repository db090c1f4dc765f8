import { App, Duration, RemovalPolicy, Stack, StackProps, Token } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { MtaSts, MtaStsMode, MtaStsProps } from '../src';

const ACCOUNT = '111111111111';
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const POLICY_TEXT = 'version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.mail.example.com\r\nmax_age: 1209600\r\n';

function makeStack(region: string | null = 'us-east-1', props: StackProps = {}): { app: App; stack: Stack; zone: route53.IHostedZone } {
  const app = new App();
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

function logicalIdOf(stack: Stack, construct: { node: { defaultChild?: unknown } } | undefined): string {
  return stack.getLogicalId((construct as any).node.defaultChild);
}

describe('MtaSts in a us-east-1 stack', () => {
  // GIVEN
  const { stack, zone } = makeStack();
  // WHEN
  const mtaSts = new MtaSts(stack, 'MtaSts', enforceProps(zone));
  const template = Template.fromStack(stack);

  test('exposes the policy text, id, URL and record values', () => {
    expect(mtaSts.policyText).toBe(POLICY_TEXT);
    expect(mtaSts.policyId).toMatch(/^[0-9a-f]{32}$/);
    expect(mtaSts.policyUrl).toBe('https://mta-sts.example.com/.well-known/mta-sts.txt');
    expect(mtaSts.policyHost).toBe('mta-sts.example.com');
    expect(mtaSts.domainName).toBe('example.com');
    expect(mtaSts.policyRecordValue).toBe(`v=STSv1; id=${mtaSts.policyId}`);
    expect(mtaSts.tlsRptRecordValue).toBe('v=TLSRPTv1; rua=mailto:tls-reports@example.com,https://tlsrpt.example.com/v1');
  });

  test('creates a private, encrypted, TLS-only bucket retained by default', () => {
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
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

  test('uploads the exact policy text to .well-known/mta-sts.txt as text/plain', () => {
    const objects = template.findResources('Custom::MtaStsPolicyObject');
    expect(Object.keys(objects)).toHaveLength(1);
    const create = JSON.parse(Object.values(objects)[0].Properties.Create['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'BUCKET')).join(''));
    expect(create).toEqual({
      service: 'S3',
      action: 'putObject',
      parameters: {
        Bucket: 'BUCKET',
        Key: '.well-known/mta-sts.txt',
        Body: POLICY_TEXT,
        ContentType: 'text/plain',
        CacheControl: 'no-store',
      },
      physicalResourceId: { id: '.well-known/mta-sts.txt' },
    });
  });

  test('deletes the policy object with its resource, so a DESTROY bucket can be removed', () => {
    const resource = Object.values(template.findResources('Custom::MtaStsPolicyObject'))[0];
    const remove = JSON.parse(resource.Properties.Delete['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'BUCKET')).join(''));
    expect(remove).toEqual({ service: 'S3', action: 'deleteObject', parameters: { Bucket: 'BUCKET', Key: '.well-known/mta-sts.txt' } });
    // The records that announce the policy are deleted before it (they depend on it).
    const policyObjectId = Object.keys(template.findResources('Custom::MtaStsPolicyObject'))[0];
    expect(template.toJSON().Resources[logicalIdOf(stack, mtaSts.policyRecord)].DependsOn).toContain(policyObjectId);
  });

  test('uploads with a single nodejs22.x function that may only put and delete that one object', () => {
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.hasResourceProperties('AWS::Lambda::Function', { Runtime: 'nodejs22.x' });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [{
          Action: ['s3:PutObject', 's3:DeleteObject'],
          Effect: 'Allow',
          Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^MtaStsBucket'), 'Arn'] }, '/.well-known/mta-sts.txt']] },
        }],
      },
    });
  });

  test('creates a DNS-validated certificate for mta-sts.<domain> in the stack', () => {
    template.resourceCountIs('AWS::CertificateManager::Certificate', 1);
    template.hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: 'mta-sts.example.com',
      ValidationMethod: 'DNS',
      DomainValidationOptions: [{ DomainName: 'mta-sts.example.com', HostedZoneId: 'Z0123456789' }],
    });
  });

  test('serves the bucket through CloudFront with OAC, SNI, TLSv1.2_2021, HTTPS only, IPv6, GET/HEAD and no caching', () => {
    template.resourceCountIs('AWS::CloudFront::Distribution', 1);
    template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    template.resourceCountIs('AWS::CloudFront::CloudFrontOriginAccessIdentity', 0);
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: {
        Aliases: ['mta-sts.example.com'],
        IPV6Enabled: true,
        PriceClass: 'PriceClass_100',
        ViewerCertificate: {
          AcmCertificateArn: { Ref: Match.stringLikeRegexp('^MtaStsCertificate') },
          MinimumProtocolVersion: 'TLSv1.2_2021',
          SslSupportMethod: 'sni-only',
        },
        DefaultCacheBehavior: {
          ViewerProtocolPolicy: 'https-only',
          AllowedMethods: ['GET', 'HEAD'],
          CachedMethods: ['GET', 'HEAD'],
          CachePolicyId: CACHING_DISABLED,
          Compress: false,
        },
        Origins: [Match.objectLike({
          OriginAccessControlId: { 'Fn::GetAtt': [Match.stringLikeRegexp('OriginAccessControl'), 'Id'] },
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
        AliasTarget: { DNSName: { 'Fn::GetAtt': [Match.stringLikeRegexp('^MtaStsDistribution'), 'DomainName'] } },
      });
    }
  });

  test('publishes exactly one _mta-sts TXT record with the policy id', () => {
    const records = template.findResources('AWS::Route53::RecordSet', { Properties: { Name: '_mta-sts.example.com.' } });
    expect(Object.values(records).map(r => r.Properties)).toEqual([{
      Name: '_mta-sts.example.com.',
      Type: 'TXT',
      HostedZoneId: 'Z0123456789',
      ResourceRecords: [`"v=STSv1; id=${mtaSts.policyId}"`],
      TTL: '300',
    }]);
  });

  test('publishes the TLS-RPT record with every rua in order', () => {
    template.hasResourceProperties('AWS::Route53::RecordSet', {
      Name: '_smtp._tls.example.com.',
      Type: 'TXT',
      ResourceRecords: ['"v=TLSRPTv1; rua=mailto:tls-reports@example.com,https://tlsrpt.example.com/v1"'],
      TTL: '300',
    });
  });

  test('announces the policy id only after the policy object, distribution and alias records exist', () => {
    const policyRecordId = logicalIdOf(stack, mtaSts.policyRecord);
    const dependsOn: string[] = template.toJSON().Resources[policyRecordId].DependsOn;
    const policyObjectId = Object.keys(template.findResources('Custom::MtaStsPolicyObject'))[0];
    expect(dependsOn).toEqual(expect.arrayContaining([
      policyObjectId,
      logicalIdOf(stack, mtaSts.distribution),
      logicalIdOf(stack, mtaSts.aliasRecord),
      logicalIdOf(stack, mtaSts.aliasRecordIpv6),
    ]));
  });

  test('outputs the policy URL, id and records', () => {
    const outputs = Object.values(template.toJSON().Outputs).map((o: any) => o.Value);
    expect(outputs).toEqual([
      'https://mta-sts.example.com/.well-known/mta-sts.txt',
      mtaSts.policyId,
      `_mta-sts.example.com TXT "v=STSv1; id=${mtaSts.policyId}"`,
      '_smtp._tls.example.com TXT "v=TLSRPTv1; rua=mailto:tls-reports@example.com,https://tlsrpt.example.com/v1"',
    ]);
  });

  test('keeps its child ids stable', () => {
    expect(mtaSts.node.children.map(c => c.node.id)).toEqual([
      'Bucket', 'PolicyObject', 'Certificate', 'Distribution', 'AliasRecord', 'AliasRecordIpv6', 'PolicyRecord', 'TlsRptRecord',
      'PolicyUrlOutput', 'PolicyIdOutput', 'PolicyRecordOutput', 'TlsRptRecordOutput',
    ]);
  });

  test('adds no warnings when TLS-RPT is configured', () => {
    expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
  });
});

describe('MtaSts options', () => {
  test('warns and publishes no TLS-RPT record without tlsRpt', () => {
    const { stack, zone } = makeStack();
    new MtaSts(stack, 'MtaSts', { hostedZone: zone, mx: ['mx.example.com'] });
    const template = Template.fromStack(stack);
    expect(template.findResources('AWS::Route53::RecordSet', { Properties: { Name: '_smtp._tls.example.com.' } })).toEqual({});
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
    const { stack, zone } = makeStack();
    const mtaSts = new MtaSts(stack, 'MtaSts', enforceProps(zone, { domainName: 'EU.Example.com.' }));
    expect(mtaSts.policyUrl).toBe('https://mta-sts.eu.example.com/.well-known/mta-sts.txt');
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Route53::RecordSet', { Name: '_mta-sts.eu.example.com.', Type: 'TXT' });
    template.hasResourceProperties('AWS::Route53::RecordSet', { Name: '_smtp._tls.eu.example.com.', Type: 'TXT' });
    template.hasResourceProperties('AWS::CloudFront::Distribution', { DistributionConfig: { Aliases: ['mta-sts.eu.example.com'] } });
  });

  test('writes an internationalised domain as its A-label', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const zone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z1', zoneName: 'bücher.example' });
    const mtaSts = new MtaSts(stack, 'MtaSts', { hostedZone: zone, mx: ['mx.bücher.example'], tlsRpt: { rua: ['mailto:r@xn--bcher-kva.example'] } });
    expect(mtaSts.policyHost).toBe('mta-sts.xn--bcher-kva.example');
    expect(mtaSts.policyText).toContain('mx: mx.xn--bcher-kva.example\r\n');
    Template.fromStack(stack).hasResourceProperties('AWS::Route53::RecordSet', { Name: '_mta-sts.xn--bcher-kva.example.', Type: 'TXT' });
  });

  test('applies price class, removal policy and record TTL', () => {
    const { stack, zone } = makeStack();
    new MtaSts(stack, 'MtaSts', enforceProps(zone, {
      priceClass: cloudfront.PriceClass.PRICE_CLASS_ALL,
      removalPolicy: RemovalPolicy.DESTROY,
      recordTtl: Duration.hours(1),
    }));
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::CloudFront::Distribution', { DistributionConfig: { PriceClass: 'PriceClass_All' } });
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
    template.hasResourceProperties('AWS::Route53::RecordSet', { Name: '_mta-sts.example.com.', TTL: '3600' });
  });

  test('shares one upload function between instances in a stack', () => {
    const { stack, zone } = makeStack();
    new MtaSts(stack, 'A', enforceProps(zone));
    new MtaSts(stack, 'B', enforceProps(zone, { domainName: 'eu.example.com' }));
    const template = Template.fromStack(stack);
    template.resourceCountIs('Custom::MtaStsPolicyObject', 2);
    template.resourceCountIs('AWS::Lambda::Function', 1);
  });

  test('passes an unresolved rua through unchecked', () => {
    const { stack, zone } = makeStack();
    const rua = Token.asString({ Ref: 'ReportAddress' });
    const mtaSts = new MtaSts(stack, 'MtaSts', enforceProps(zone, { tlsRpt: { rua: [rua] } }));
    expect(stack.resolve(mtaSts.tlsRptRecordValue)).toEqual({ 'Fn::Join': ['', ['v=TLSRPTv1; rua=', { Ref: 'ReportAddress' }]] });
  });
});

describe('MtaSts certificate placement', () => {
  test('creates the certificate in a us-east-1 companion stack for a stack in another region', () => {
    // GIVEN
    const { app, stack, zone } = makeStack('eu-west-1', { crossRegionReferences: true });
    // WHEN
    const mtaSts = new MtaSts(stack, 'MtaSts', enforceProps(zone));
    // THEN
    const companion = app.node.findChild('Stack-MtaStsCertificates') as Stack;
    expect(companion.region).toBe('us-east-1');
    expect(companion.account).toBe(ACCOUNT);
    expect(Stack.of(mtaSts.certificate)).toBe(companion);
    Template.fromStack(companion).hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: 'mta-sts.example.com',
      DomainValidationOptions: [{ DomainName: 'mta-sts.example.com', HostedZoneId: 'Z0123456789' }],
    });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CertificateManager::Certificate', 0);
    template.resourceCountIs('Custom::CrossRegionExportReader', 1);
    expect(stack.dependencies).toContain(companion);
  });

  test('puts the certificates of several instances in one companion stack', () => {
    const { app, stack, zone } = makeStack('eu-west-1', { crossRegionReferences: true });
    new MtaSts(stack, 'A', enforceProps(zone));
    new MtaSts(stack, 'B', enforceProps(zone, { domainName: 'eu.example.com' }));
    const companion = app.node.findChild('Stack-MtaStsCertificates') as Stack;
    Template.fromStack(companion).resourceCountIs('AWS::CertificateManager::Certificate', 2);
    expect(app.node.children.filter(c => c instanceof Stack)).toHaveLength(2);
  });

  test('fails when a stack outside us-east-1 has no cross-region references', () => {
    const { stack, zone } = makeStack('eu-west-1');
    expect(() => new MtaSts(stack, 'MtaSts', enforceProps(zone))).toThrow(
      '`certificate` must be given, or the stack must set `crossRegionReferences: true`: stack "Stack" is in eu-west-1',
    );
  });

  test('fails when the stack has no region and no certificate is given', () => {
    const { stack, zone } = makeStack(null);
    expect(() => new MtaSts(stack, 'MtaSts', enforceProps(zone))).toThrow(
      '`certificate` is required when the stack has no region: CloudFront needs a certificate in us-east-1',
    );
  });

  test('fails when the zone id is a token and the certificate must go to the companion stack', () => {
    const { stack } = makeStack('eu-west-1', { crossRegionReferences: true });
    const zone = new route53.PublicHostedZone(stack, 'NewZone', { zoneName: 'example.com' });
    expect(() => new MtaSts(stack, 'MtaSts', enforceProps(zone))).toThrow('`hostedZone` must have a literal hosted zone id');
  });

  test('uses a supplied us-east-1 certificate and creates none', () => {
    const { stack, zone } = makeStack('eu-west-1');
    const certificate = acm.Certificate.fromCertificateArn(stack, 'Cert', `arn:aws:acm:us-east-1:${ACCOUNT}:certificate/abc`);
    const mtaSts = new MtaSts(stack, 'MtaSts', enforceProps(zone, { certificate }));
    expect(mtaSts.certificate).toBe(certificate);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CertificateManager::Certificate', 0);
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: { ViewerCertificate: { AcmCertificateArn: `arn:aws:acm:us-east-1:${ACCOUNT}:certificate/abc` } },
    });
  });

  test('accepts a supplied certificate in a stack with no region', () => {
    const { stack, zone } = makeStack(null);
    const certificate = acm.Certificate.fromCertificateArn(stack, 'Cert', `arn:aws:acm:us-east-1:${ACCOUNT}:certificate/abc`);
    expect(() => new MtaSts(stack, 'MtaSts', enforceProps(zone, { certificate }))).not.toThrow();
  });

  test('accepts a supplied certificate whose region is a token', () => {
    const { stack, zone } = makeStack();
    const certificate = acm.Certificate.fromCertificateArn(stack, 'Cert', Token.asString({ Ref: 'CertArn' }));
    expect(() => new MtaSts(stack, 'MtaSts', enforceProps(zone, { certificate }))).not.toThrow();
  });

  test('fails when a supplied certificate is in another region', () => {
    const { stack, zone } = makeStack();
    const certificate = acm.Certificate.fromCertificateArn(stack, 'Cert', `arn:aws:acm:eu-west-1:${ACCOUNT}:certificate/abc`);
    expect(() => new MtaSts(stack, 'MtaSts', enforceProps(zone, { certificate }))).toThrow(
      '`certificate` must be in us-east-1, the only region CloudFront takes certificates from, got: a certificate in "eu-west-1"',
    );
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
      'Invalid MtaSts configuration at Stack/MtaSts (4 problems):',
      '  - `domainName` must be the hosted zone\'s name (example.com) or a name below it, got: "other.org"',
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
