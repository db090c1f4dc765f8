import { App, CfnOutput, CfnResource, NestedStack, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { MtaSts, MtaStsDomains, MtaStsMode } from '../src';
import { sharedOriginAccessControl } from '../src/private/policy-store';
import { addStackLimitChecks, stackLimitProblems } from '../src/private/stack-limits';

const ACCOUNT = '111111111111';

function makeStack(region = 'us-east-1'): { app: App; stack: Stack } {
  const app = new App();
  return { app, stack: new Stack(app, 'Stack', { env: { account: ACCOUNT, region } }) };
}

/** `count` MtaSts constructs with TLS-RPT and default outputs (4 each), each domain in its own zone. */
function addMtaSts(stack: Stack, count: number): MtaSts[] {
  return Array.from({ length: count }, (_, i) => {
    const name = `d${i}.example`;
    const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, `Zone${i}`, { hostedZoneId: `ZD${i}`, zoneName: name });
    return new MtaSts(stack, `MtaSts${i}`, { hostedZone, mode: MtaStsMode.ENFORCE, mx: [`mx.${name}`], tlsRpt: { rua: [`mailto:tls@${name}`] } });
  });
}

/** `count` plain resources, to fill a stack. */
function addTopics(stack: Stack, count: number): void {
  for (let i = 0; i < count; i++) {
    new CfnResource(stack, `Topic${i}`, { type: 'AWS::SNS::Topic' });
  }
}

describe('CloudFormation quotas of a stack holding MTA-STS resources', () => {
  test('fails synthesis when 51 MtaSts with default outputs give a stack 204 outputs', () => {
    // GIVEN
    const { app, stack } = makeStack();

    // WHEN
    addMtaSts(stack, 51);

    // THEN
    expect(() => app.synth()).toThrow('[Stack] stack "Stack" must have at most 200 outputs (CloudFormation\'s quota per stack); '
      + 'set `outputs: false` on some MtaSts constructs (each adds 3, or 4 with TLS-RPT) or spread them over several stacks, got: 204 outputs');
  });

  test('accepts exactly 200 outputs', () => {
    // GIVEN
    const { stack } = makeStack();

    // WHEN
    addMtaSts(stack, 50);

    // THEN
    expect(stackLimitProblems(stack)).toEqual([]);
    expect(Object.keys(Template.fromStack(stack).findOutputs('*'))).toHaveLength(200);
  });

  test('fails synthesis when the constructs and the stack\'s own resources pass 500 resources together', () => {
    // GIVEN
    const { app, stack } = makeStack();
    addTopics(stack, 490);

    // WHEN: one MtaSts adds 11 (bucket, bucket policy, origin access control, certificate, distribution, A, AAAA,
    // publication, TLS-RPT record, publisher function and role)
    addMtaSts(stack, 1);

    // THEN
    expect(() => app.synth()).toThrow('[Stack] stack "Stack" must hold at most 500 resources (CloudFormation\'s quota per stack); '
      + 'spread the MtaSts and MtaStsDomains constructs over several stacks, got: 501 resources');
  });

  test('counts the outputs of the user\'s own constructs too', () => {
    // GIVEN
    const { stack } = makeStack();
    addMtaSts(stack, 1);

    // WHEN
    for (let i = 0; i < 197; i++) {
      new CfnOutput(stack, `Output${i}`, { value: 'x' });
    }

    // THEN
    expect(stackLimitProblems(stack)).toEqual([expect.stringContaining('got: 201 outputs')]);
  });

  test('counts the companion stack and the user\'s stack separately outside us-east-1', () => {
    // GIVEN
    const { app, stack } = makeStack('eu-west-1');
    addTopics(stack, 495);

    // WHEN
    const [construct] = addMtaSts(stack, 1);

    // THEN
    const companion = Stack.of(construct.bucket);
    expect(companion).not.toBe(stack);
    expect(stackLimitProblems(stack)).toEqual([]);
    expect(stackLimitProblems(companion)).toEqual([]);
    expect(() => app.synth()).not.toThrow();
  });

  test('does not count the resources of a nested stack, only the nested stack itself', () => {
    // GIVEN
    const { stack } = makeStack();
    addTopics(stack, 499);
    const nested = new NestedStack(stack, 'Nested');

    // WHEN
    addTopics(nested, 10);

    // THEN
    expect(stackLimitProblems(stack)).toEqual([]);
    expect(stackLimitProblems(nested)).toEqual([]);
  });

  test('reports a stack once however many constructs it holds', () => {
    // GIVEN
    const { stack } = makeStack();
    addStackLimitChecks(stack);

    // WHEN
    addStackLimitChecks(stack);
    addMtaSts(stack, 2);
    new MtaStsDomains(stack, 'Domains', {
      mx: ['mx.example.net'],
      domains: [{ hostedZone: route53.HostedZone.fromHostedZoneAttributes(stack, 'Net', { hostedZoneId: 'ZNET', zoneName: 'example.net' }) }],
    });
    for (let i = 0; i < 200; i++) {
      new CfnOutput(stack, `Output${i}`, { value: 'x' });
    }

    // THEN
    expect(stack.node.validate()).toEqual([expect.stringContaining('got: 208 outputs')]);
  });
});

describe('CloudFront\'s quota of distributions per origin access control', () => {
  test('fails synthesis when more than 100 distributions of the stack use the shared origin access control', () => {
    // GIVEN
    const { app, stack } = makeStack();
    const originAccessControl = sharedOriginAccessControl(stack);
    const bucket = new s3.Bucket(stack, 'Bucket');

    // WHEN
    for (let i = 0; i < 101; i++) {
      new cloudfront.Distribution(stack, `Distribution${i}`, {
        defaultBehavior: { origin: origins.S3BucketOrigin.withOriginAccessControl(bucket, { originAccessControl }) },
      });
    }

    // THEN
    expect(() => app.synth()).toThrow('[Stack/MtaStsOriginAccessControl] origin access control Stack/MtaStsOriginAccessControl must serve '
      + 'at most 100 distributions (CloudFront\'s default quota per origin access control); spread the MtaSts and MtaStsDomains constructs '
      + 'over several stacks, got: 101 distributions');
  });

  test('accepts 100 distributions and ignores those that use another origin access control', () => {
    // GIVEN
    const { app, stack } = makeStack();
    const originAccessControl = sharedOriginAccessControl(stack);
    const other = new cloudfront.S3OriginAccessControl(stack, 'Other');
    const bucket = new s3.Bucket(stack, 'Bucket');

    // WHEN
    for (let i = 0; i < 110; i++) {
      new cloudfront.Distribution(stack, `Distribution${i}`, {
        defaultBehavior: {
          origin: origins.S3BucketOrigin.withOriginAccessControl(bucket, { originAccessControl: i < 100 ? originAccessControl : other }),
        },
      });
    }

    // THEN
    expect(() => app.synth()).not.toThrow();
  });
});
