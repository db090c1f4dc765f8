import { App, Aspects, CfnResource, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as route53 from 'aws-cdk-lib/aws-route53';
import {
  AwsSolutionsChecks,
  INagLogger,
  NagLoggerComplianceData,
  NagLoggerErrorData,
  NagLoggerNonComplianceData,
  NagLoggerNotApplicableData,
  NagLoggerSuppressedData,
  NagLoggerSuppressedErrorData,
} from 'cdk-nag';
import { MtaSts, MtaStsDomains, MtaStsMode } from '../src';
import { ACCOUNT, CERTIFICATE_ARN, exampleStack } from './fixtures';
import { addNagSuppressions } from '../src/private/nag';

const SINGLETON = 'AWS679f53fac002430cb0da5b7982bd2287';

/** Records what cdk-nag did, beside the annotations it writes. */
class RecordingLogger implements INagLogger {
  public readonly suppressed: NagLoggerSuppressedData[] = [];
  public readonly failures: NagLoggerErrorData[] = [];
  public readonly checkedPaths = new Set<string>();
  onCompliance(data: NagLoggerComplianceData): void { this.checkedPaths.add(data.resource.node.path); }
  onNonCompliance(data: NagLoggerNonComplianceData): void { this.checkedPaths.add(data.resource.node.path); }
  onSuppressed(data: NagLoggerSuppressedData): void { this.checkedPaths.add(data.resource.node.path); this.suppressed.push(data); }
  onError(data: NagLoggerErrorData): void { this.failures.push(data); }
  onSuppressedError(data: NagLoggerSuppressedErrorData): void { this.failures.push(data); }
  onNotApplicable(data: NagLoggerNotApplicableData): void { this.checkedPaths.add(data.resource.node.path); }
}

interface Configuration {
  readonly region: string;
  readonly crossRegionReferences?: boolean;
  readonly suppliedCertificate?: boolean;
  readonly tlsRpt: boolean;
}

const CONFIGURATIONS: Record<string, Configuration> = {
  'a us-east-1 stack creating its certificate, with TLS-RPT': { region: 'us-east-1', tlsRpt: true },
  'a us-east-1 stack creating its certificate, without TLS-RPT': { region: 'us-east-1', tlsRpt: false },
  'a eu-west-1 stack with a companion certificate stack, with TLS-RPT': { region: 'eu-west-1', crossRegionReferences: true, tlsRpt: true },
  'a eu-west-1 stack with a companion certificate stack, without TLS-RPT': { region: 'eu-west-1', crossRegionReferences: true, tlsRpt: false },
  'a eu-west-1 stack with a supplied us-east-1 certificate, with TLS-RPT': { region: 'eu-west-1', suppliedCertificate: true, tlsRpt: true },
  'a eu-west-1 stack with a supplied us-east-1 certificate, without TLS-RPT': { region: 'eu-west-1', suppliedCertificate: true, tlsRpt: false },
};

/** A suppression as found in a template: resource path in its stack, rule, finding, reason. */
interface FoundSuppression {
  readonly stack: string;
  readonly path: string;
  readonly id: string;
  readonly appliesTo?: string[];
  readonly reason: string;
}

const OWN_SUPPRESSIONS = [
  { path: 'MtaSts/Bucket/Resource', id: 'AwsSolutions-S1' },
  { path: 'MtaSts/Distribution/Resource', id: 'AwsSolutions-CFR1' },
  { path: 'MtaSts/Distribution/Resource', id: 'AwsSolutions-CFR2' },
  { path: 'MtaSts/Distribution/Resource', id: 'AwsSolutions-CFR3' },
  {
    path: `${SINGLETON}/ServiceRole/Resource`,
    id: 'AwsSolutions-IAM4',
    appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
  },
  { path: `${SINGLETON}/Resource`, id: 'AwsSolutions-L1' },
];

/** Suppressions added ahead of a finding that today's aws-cdk-lib does not produce. */
const AHEAD_OF_TIME = new Set(['AwsSolutions-L1']);

/** What each reason must talk about, so a reason cannot drift to another rule's. */
const REASON_TOPICS: Record<string, RegExp> = {
  'AwsSolutions-S1': /public by design.*origin access control.*CloudTrail/s,
  'AwsSolutions-CFR1': /RFC 8461.*in any country/s,
  'AwsSolutions-CFR2': /static text file.*Shield.*attachWebAclId/s,
  'AwsSolutions-CFR3': /public, static.*TLS-RPT.*CloudWatch/s,
  'AwsSolutions-IAM4': /AwsCustomResource.*AWSLambdaBasicExecutionRole/s,
  'AwsSolutions-L1': /runtime.*chosen by aws-cdk-lib/s,
};

function synthesizeWithNag(config: Configuration) {
  const { app, stack, hostedZone } = exampleStack(config.region, { crossRegionReferences: config.crossRegionReferences });
  new MtaSts(stack, 'MtaSts', {
    hostedZone,
    mx: ['mx1.example.com', '*.mail.example.com'],
    certificate: config.suppliedCertificate ? acm.Certificate.fromCertificateArn(stack, 'Certificate', CERTIFICATE_ARN) : undefined,
    tlsRpt: config.tlsRpt ? { rua: ['mailto:tls-reports@example.com'] } : undefined,
  });
  const logger = new RecordingLogger();
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true, additionalLoggers: [logger] }));
  // aws-cdk-lib adds the cross-region reference resources while preparing the first synthesis,
  // after aspects ran; Annotations.fromStack synthesizes again, so cdk-nag checks those too.
  app.synth();
  const stacks = app.node.children.filter(Stack.isStack);
  return { app, stack, stacks, logger };
}

function nagMessages(stack: Stack): string[] {
  const annotations = Annotations.fromStack(stack);
  const aws = Match.stringLikeRegexp('AwsSolutions-.*');
  return [...annotations.findError('*', aws), ...annotations.findWarning('*', aws)]
    .map(message => `${message.entry.type} at ${message.id}: ${message.entry.data}`);
}

function foundSuppressions(stacks: Stack[]): FoundSuppression[] {
  return stacks.flatMap(stack => stack.node.findAll()
    .filter(CfnResource.isCfnResource)
    .filter(resource => Stack.of(resource) === stack)
    .flatMap(resource => {
      const rules: Array<{ id: string; reason: string; applies_to?: string[] }> = resource.getMetadata('cdk_nag')?.rules_to_suppress ?? [];
      return rules.map(rule => ({
        stack: stack.stackName,
        path: resource.node.path.slice(stack.node.path.length + 1),
        id: rule.id,
        ...(rule.applies_to ? { appliesTo: rule.applies_to } : {}),
        reason: rule.reason,
      }));
    }));
}

const byKey = (a: { stack?: string; path: string; id: string }, b: { stack?: string; path: string; id: string }) =>
  `${a.stack}|${a.path}|${a.id}`.localeCompare(`${b.stack}|${b.path}|${b.id}`);

describe.each(Object.entries(CONFIGURATIONS))('cdk-nag AwsSolutions checks of %s', (_name, config) => {
  test('report no unsuppressed error or warning in any stack of the app', () => {
    // GIVEN
    const { stacks, logger } = synthesizeWithNag(config);

    // WHEN
    const messages = stacks.flatMap(nagMessages);

    // THEN
    expect(messages).toEqual([]);
    expect(logger.failures.map(failure => `${failure.ruleId} at ${failure.resource.node.path}: ${failure.errorMessage}`)).toEqual([]);
    expect(stacks.map(stack => stack.stackName)).toEqual(config.crossRegionReferences ? ['Stack', 'Stack-MtaStsCertificates'] : ['Stack']);
  });

  test('find exactly the expected suppressions, each with a reason about its rule', () => {
    // GIVEN
    const { stack, stacks } = synthesizeWithNag(config);

    // WHEN
    const found = foundSuppressions(stacks);

    // THEN
    const expected = OWN_SUPPRESSIONS.map(suppression => ({ stack: stack.stackName, ...suppression }));
    expect(found.map(({ reason: _reason, ...where }) => where).sort(byKey)).toEqual(expected.sort(byKey));
    for (const suppression of found) {
      expect(suppression.reason).toMatch(REASON_TOPICS[suppression.id]);
      expect(suppression.reason.length).toBeGreaterThanOrEqual(100);
    }
  });

  test('use every suppression to silence a real finding, except those added ahead of time', () => {
    // GIVEN
    const { stacks, logger } = synthesizeWithNag(config);

    // WHEN
    stacks.forEach(nagMessages);
    const used = new Set(logger.suppressed.map(data => `${Stack.of(data.resource).stackName}|${data.resource.node.path}|${data.ruleId}`));

    // THEN
    const unused = foundSuppressions(stacks)
      .filter(suppression => !AHEAD_OF_TIME.has(suppression.id))
      .map(suppression => `${suppression.stack}|${suppression.stack}/${suppression.path}|${suppression.id}`)
      .filter(key => !used.has(key));
    expect(unused).toEqual([]);
  });
});

describe('cdk-nag AwsSolutions checks beyond the main configurations', () => {
  test('check the cross-region reference custom resources and find nothing to suppress on them', () => {
    // GIVEN
    const { stacks, logger } = synthesizeWithNag({ region: 'eu-west-1', crossRegionReferences: true, tlsRpt: true });

    // WHEN
    const messages = stacks.flatMap(nagMessages);

    // THEN
    expect(messages).toEqual([]);
    const checked = [...logger.checkedPaths]
      .filter(path => /CrossRegionExport|ExportsReader|ExportsWriter/.test(path))
      .map(path => path.replace(/ExportsWriter\w+/, 'ExportsWriter<region><hash>'));
    expect(checked.sort()).toEqual([
      'Stack-MtaStsCertificates/Custom::CrossRegionExportWriterCustomResourceProvider/Handler',
      'Stack-MtaStsCertificates/Custom::CrossRegionExportWriterCustomResourceProvider/Role',
      'Stack-MtaStsCertificates/ExportsWriter<region><hash>/Resource/Default',
      'Stack/Custom::CrossRegionExportReaderCustomResourceProvider/Handler',
      'Stack/Custom::CrossRegionExportReaderCustomResourceProvider/Role',
      'Stack/ExportsReader/Resource/Default',
    ]);
  });

  test('add each suppression once when two MtaSts constructs share a stack and the stack-level function', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const logger = new RecordingLogger();
    Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true, additionalLoggers: [logger] }));

    // WHEN
    for (const domain of ['example.com', 'example.org']) {
      const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, `Zone-${domain}`, {
        hostedZoneId: domain === 'example.com' ? 'Z0123456789ABCDEFGHIJ' : 'Z9876543210ABCDEFGHIJ',
        zoneName: domain,
      });
      new MtaSts(stack, `MtaSts-${domain}`, { hostedZone, mx: [`mx.${domain}`], tlsRpt: { rua: [`mailto:tls@${domain}`] } });
    }

    // THEN
    expect(nagMessages(stack)).toEqual([]);
    const found = foundSuppressions([stack]);
    expect(found.filter(suppression => suppression.path.startsWith(SINGLETON)).map(suppression => suppression.id).sort())
      .toEqual(['AwsSolutions-IAM4', 'AwsSolutions-L1']);
    expect(found.filter(suppression => suppression.id === 'AwsSolutions-S1').map(suppression => suppression.path).sort())
      .toEqual(['MtaSts-example.com/Bucket/Resource', 'MtaSts-example.org/Bucket/Resource']);
  });

  test('adds nothing when the suppressions are added again', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789ABCDEFGHIJ', zoneName: 'example.com' });
    const mtaSts = new MtaSts(stack, 'MtaSts', { hostedZone, mx: ['mx.example.com'], tlsRpt: { rua: ['mailto:tls@example.com'] } });
    const before = foundSuppressions([stack]);

    // WHEN
    addNagSuppressions(mtaSts);
    addNagSuppressions(mtaSts);

    // THEN
    expect(foundSuppressions([stack])).toEqual(before);
    expect(before).toHaveLength(OWN_SUPPRESSIONS.length);
  });
});

describe.each([
  ['us-east-1', 25, false],
  ['eu-west-1', 12, true],
])('cdk-nag AwsSolutions checks of MtaStsDomains in %s with %d domains', (region, count, crossRegionReferences) => {
  test('report no unsuppressed error or warning, with the same suppressions on every group', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region }, crossRegionReferences });
    const modes = [MtaStsMode.TESTING, MtaStsMode.ENFORCE, MtaStsMode.NONE];
    const domains = new MtaStsDomains(stack, 'MtaSts', {
      mx: ['*.mail.example.net'],
      tlsRpt: { rua: ['mailto:tls-reports@example.net'] },
      domains: Array.from({ length: count }, (_, i) => ({
        hostedZone: route53.HostedZone.fromHostedZoneAttributes(stack, `Zone${i}`, { hostedZoneId: `Z0123456789ABCDEFG${i}`, zoneName: `brand${i}.example` }),
        mode: modes[i % 3],
      })),
    });
    const logger = new RecordingLogger();
    Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true, additionalLoggers: [logger] }));

    // WHEN
    app.synth();
    const stacks = app.node.children.filter(Stack.isStack);

    // THEN
    expect(stacks.flatMap(nagMessages)).toEqual([]);
    expect(logger.failures).toEqual([]);
    const suppressed = foundSuppressions(stacks);
    expect(domains.distributions.length).toBeGreaterThan(1);
    for (const distribution of domains.distributions) {
      const path = (distribution.node.defaultChild as CfnResource).node.path.slice(stack.node.path.length + 1);
      expect(suppressed.filter(found => found.path === path).map(found => found.id)).toEqual(['AwsSolutions-CFR1', 'AwsSolutions-CFR2', 'AwsSolutions-CFR3']);
    }
    expect(suppressed.filter(found => found.path === 'MtaSts/Bucket/Resource').map(found => found.id)).toEqual(['AwsSolutions-S1']);
  });
});
