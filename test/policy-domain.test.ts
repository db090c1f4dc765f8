/**
 * PolicyDomain on its own: the unit MtaSts is and MtaStsDomains is built from. MtaSts's own tests
 * (mta-sts.test.ts) cover everything a PolicyDomain with a bucket of its own does; these cover a
 * shared `bucket`, the common error heading and the registry shared with the other constructs.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { MtaSts, MtaStsDomains, PolicyDomain, TlsRptRecord } from '../src';

const ACCOUNT = '111111111111';

function zone(stack: Stack, name: string): route53.IHostedZone {
  return route53.HostedZone.fromHostedZoneAttributes(stack, `Zone-${name}`, { hostedZoneId: `Z${name.replace(/\W/g, '').toUpperCase()}`, zoneName: name });
}

function newStack(region = 'us-east-1', app = new App(), id = 'Stack'): Stack {
  return new Stack(app, id, { env: { account: ACCOUNT, region } });
}

describe('PolicyDomain', () => {
  test('with a bucket of its own: the bucket and outputs beside a child named after the domain, like MtaSts', () => {
    // GIVEN
    const stack = newStack();

    // WHEN
    const domain = new PolicyDomain(stack, 'Example', { hostedZone: zone(stack, 'example.com'), mx: ['mx1.example.com'] });

    // THEN
    expect(domain.bucket.node.path).toBe('Stack/Example/Bucket');
    expect(domain.distribution.node.path).toBe('Stack/Example/example.com/Distribution');
    expect(domain.publication.node.path).toBe('Stack/Example/example.com/Publication');
    expect(domain.node.tryFindChild('Outputs')?.node.children.map(c => c.node.id)).toEqual(['PolicyUrl', 'PolicyId', 'PolicyRecord']);
    expect(domain.policy.text).toBe('version: STSv1\r\nmode: testing\r\nmx: mx1.example.com\r\nmax_age: 604800\r\n');
    expect(domain.policyUrl).toBe('https://mta-sts.example.com/.well-known/mta-sts.txt');
    expect(domain.hostedZone.zoneName).toBe('example.com');
  });

  test('MtaSts is a PolicyDomain', () => {
    const stack = newStack();
    expect(new MtaSts(stack, 'MtaSts', { hostedZone: zone(stack, 'example.com'), mx: ['mx1.example.com'] })).toBeInstanceOf(PolicyDomain);
  });

  test('with a shared bucket: its resources directly beneath it, one bucket and one bucket policy for every domain', () => {
    // GIVEN
    const stack = newStack();
    const bucket = new s3.Bucket(stack, 'Policies');

    // WHEN
    const a = new PolicyDomain(stack, 'A', { hostedZone: zone(stack, 'a.example'), mx: ['mx.a.example'], bucket, outputs: false });
    const b = new PolicyDomain(stack, 'B', { hostedZone: zone(stack, 'b.example'), mx: ['mx.b.example'], bucket, outputs: false });

    // THEN
    expect(a.bucket).toBe(bucket);
    expect(a.distribution.node.path).toBe('Stack/A/Distribution');
    expect(b.aliasRecord.node.path).toBe('Stack/B/AliasRecord');
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.resourceCountIs('AWS::S3::BucketPolicy', 1);
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: [Match.objectLike({ Sid: 'CloudFrontReadsPolicyFiles', Action: 's3:GetObject' })] },
    });
    template.resourceCountIs('AWS::CloudFront::Distribution', 2);
    template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    template.hasResourceProperties('Custom::MtaStsPolicyPublication', { DomainName: 'a.example', ObjectKey: 'policies/a.example/.well-known/mta-sts.txt' });
    template.hasResourceProperties('Custom::MtaStsPolicyPublication', { DomainName: 'b.example', ObjectKey: 'policies/b.example/.well-known/mta-sts.txt' });
  });

  test('fails when a shared bucket is in another stack', () => {
    // GIVEN
    const app = new App();
    const other = newStack('us-east-1', app, 'Other');
    const stack = newStack('us-east-1', app);
    const bucket = new s3.Bucket(other, 'Policies');

    // WHEN / THEN
    expect(() => new PolicyDomain(stack, 'Example', { hostedZone: zone(stack, 'example.com'), mx: ['mx1.example.com'], bucket })).toThrow([
      'Invalid PolicyDomain props at Stack/Example (1 problem):',
      '  - `bucket` must be in the PolicyDomain\'s stack "Stack", since the domain\'s resources are created beside it, '
      + 'got: a bucket of stack "Other" (Other/Policies)',
    ].join('\n'));
  });

  test('fails when the shared bucket is imported, since CloudFront\'s read cannot be granted in its policy', () => {
    const stack = newStack();
    const bucket = s3.Bucket.fromBucketName(stack, 'Policies', 'my-policies');
    expect(() => new PolicyDomain(stack, 'Example', { hostedZone: zone(stack, 'example.com'), mx: ['mx1.example.com'], bucket })).toThrow(
      'Invalid PolicyDomain props at Stack/Example (1 problem):\n  - `bucket` must be a bucket whose policy this app sets (an s3.Bucket), since '
      + 'CloudFront\'s read of `policies/*` is granted there, got: an imported bucket (Stack/Policies)');
  });

  test('fails when given a shared bucket in a stack outside us-east-1', () => {
    // GIVEN
    const stack = newStack('eu-west-1');
    const bucket = new s3.Bucket(stack, 'Policies');

    // WHEN / THEN
    expect(() => new PolicyDomain(stack, 'Example', { hostedZone: zone(stack, 'example.com'), mx: ['mx1.example.com'], bucket })).toThrow([
      'Invalid PolicyDomain props at Stack/Example (1 problem):',
      '  - `bucket` may be given only to a PolicyDomain in a stack in us-east-1 (or with no region and a `certificate`), since the domain\'s '
      + 'resources are created beside it and CloudFront takes certificates from us-east-1 only, got: stack "Stack" in eu-west-1',
    ].join('\n'));
  });

  test('fails with the same heading as every construct, listing every problem', () => {
    const stack = newStack();
    expect(() => new PolicyDomain(stack, 'Example', { hostedZone: zone(stack, 'example.com'), mx: [], maxAge: undefined, tlsRpt: { rua: [] } })).toThrow([
      'Invalid PolicyDomain props at Stack/Example (2 problems):',
      '  - `mx` must list at least one MX host unless mode is "none", got: [] with mode "testing"',
      '  - `tlsRpt.rua` must list at least one mailto: or https: URI, got: []',
    ].join('\n'));
    expect(() => new TlsRptRecord({ rua: [] })).toThrow('Invalid TlsRptRecord props (1 problem):\n  - `tlsRpt.rua` must list at least one mailto: or https: URI, got: []');
  });

  test('fails when MtaStsDomains of the same app already publishes the domain', () => {
    // GIVEN
    const stack = newStack();
    const hostedZone = zone(stack, 'example.com');
    new MtaStsDomains(stack, 'Many', { mx: ['mx1.example.com'], domains: [{ hostedZone }] });

    // WHEN / THEN
    expect(() => new PolicyDomain(stack, 'Example', { hostedZone, mx: ['mx1.example.com'] })).toThrow(
      '`domainName` "example.com" is already published by Stack/Many; one app may publish a policy domain only once, got: "example.com" again at Stack/Example');
  });
});
