import * as fs from 'fs';
import * as path from 'path';
import { App, Aspects, CfnResource, IAspect, Names, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { IConstruct } from 'constructs';
import { ACCOUNT, CERTIFICATE_ARN, exampleStack } from './fixtures';
import { AWS_CDK_LIB_VERSION, byLeg, CDK_NAG_MAJOR, LEG } from './leg';
import { MtaSts, MtaStsDomains, MtaStsMode } from '../src';
import { acknowledgedIds, acknowledgementIds, addNagSuppressions, validationsApi } from '../src/private/nag';


/*
 * cdk-nag 2 (minimum leg) is an aspect that writes annotations and reads `cdk_nag` metadata;
 * cdk-nag 3 (latest leg) is an aws-cdk-lib validation plugin that reads `Validations`
 * acknowledgements. Their APIs differ, so the installed one is loaded untyped and driven through
 * `runNag`, which reports what each found in the same shape.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const cdkNag = require('cdk-nag');

/** What one cdk-nag run found, whichever major ran. */
interface NagRun {
  /** Unacknowledged errors and warnings: `<rule> at <path>: <message>`. */
  readonly messages: string[];
  /** Acknowledged findings that silenced a real finding: `<stack>|<path>|<rule without [finding]>`. */
  readonly used: Set<string>;
  /** The paths of every resource the rules looked at. */
  readonly checkedPaths: Set<string>;
}

/** Records what cdk-nag 2 did, beside the annotations it writes. */
class RecordingLogger {
  public readonly used = new Set<string>();
  public readonly failures: string[] = [];
  public readonly checkedPaths = new Set<string>();
  onCompliance(data: NagData): void { this.checkedPaths.add(data.resource.node.path); }
  onNonCompliance(data: NagData): void { this.checkedPaths.add(data.resource.node.path); }
  onSuppressed(data: NagData): void {
    this.checkedPaths.add(data.resource.node.path);
    this.used.add(`${Stack.of(data.resource).stackName}|${data.resource.node.path}|${data.ruleId}`);
  }
  onError(data: NagData): void { this.failures.push(`${data.ruleId} at ${data.resource.node.path}: ${data.errorMessage}`); }
  onSuppressedError(data: NagData): void { this.failures.push(`${data.ruleId} at ${data.resource.node.path}: ${data.errorMessage}`); }
  onNotApplicable(data: NagData): void { this.checkedPaths.add(data.resource.node.path); }
}

/** A cdk-nag 3 finding, as aws-cdk-lib's PolicyViolation. */
interface Violation {
  readonly ruleName: string;
  readonly severity: string;
  readonly description: string;
  readonly violatingResources: Array<{ readonly constructPath: string }>;
}

interface NagData { readonly resource: CfnResource; readonly ruleId: string; readonly errorMessage?: string }

/**
 * Prepares `app` for a cdk-nag run (cdk-nag 2's aspect must be added before synthesis), then,
 * once the caller has built the app, synthesizes it and returns what AwsSolutionsChecks found.
 */
function nagRunner(app: App): () => NagRun {
  if (CDK_NAG_MAJOR === 2) {
    const logger = new RecordingLogger();
    Aspects.of(app).add(new cdkNag.AwsSolutionsChecks({ verbose: true, additionalLoggers: [logger] }) as IAspect);
    return () => {
      // aws-cdk-lib adds the cross-region reference resources while preparing the first synthesis,
      // after aspects ran; Annotations.fromStack synthesizes again, so cdk-nag checks those too.
      app.synth();
      const stacks = app.node.children.filter(Stack.isStack);
      const aws = Match.stringLikeRegexp('AwsSolutions-.*');
      const messages = stacks.flatMap(stack => {
        const annotations = Annotations.fromStack(stack);
        return [...annotations.findError('*', aws), ...annotations.findWarning('*', aws)]
          .map(message => `${message.entry.type} at ${message.id}: ${message.entry.data}`);
      });
      return { messages: [...messages, ...logger.failures], used: logger.used, checkedPaths: logger.checkedPaths };
    };
  }
  return () => {
    app.synth();
    // The pack's own entry point for a construct tree (what aws-cdk-lib calls during synthesis),
    // observed through its acknowledgement lookup and its per-resource check.
    const pack = new cdkNag.AwsSolutionsChecks(undefined, { verbose: true });
    const used = new Set<string>();
    const checkedPaths = new Set<string>();
    const isAcknowledged = pack.isAcknowledged.bind(pack);
    pack.isAcknowledged = (resource: CfnResource, ruleId: string) => {
      const acknowledged = isAcknowledged(resource, ruleId);
      if (acknowledged) {
        used.add(`${Stack.of(resource).stackName}|${resource.node.path}|${ruleId.replace(/\[.*\]$/, '')}`);
      }
      return acknowledged;
    };
    const checkResource = pack.checkResource.bind(pack);
    pack.checkResource = (resource: CfnResource) => {
      checkedPaths.add(resource.node.path);
      checkResource(resource);
    };
    const report = pack.validateScope(app);
    const violations: Violation[] = report.violations;
    const messages = violations.flatMap(violation => violation.violatingResources
      .map(resource => `${violation.severity} ${violation.ruleName} at ${resource.constructPath}: ${violation.description}`));
    return { messages, used, checkedPaths };
  };
}

describe('the CI leg', () => {
  test(`runs the aws-cdk-lib and cdk-nag versions the ${LEG} leg names`, () => {
    // GIVEN
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
    const minimum = /\d+\.\d+\.\d+/.exec(String(manifest.peerDependencies['aws-cdk-lib']))?.[0];
    const [major, minor] = AWS_CDK_LIB_VERSION.split('.').map(Number);

    // THEN
    if (LEG === 'minimum') {
      expect(AWS_CDK_LIB_VERSION).toEqual(minimum);
      expect(manifest.devDependencies['aws-cdk-lib']).toEqual(minimum);
      expect(CDK_NAG_MAJOR).toBe(2);
      expect(validationsApi()).toBeUndefined();
    } else {
      expect(major).toBe(2);
      expect(minor).toBeGreaterThanOrEqual(257);
      expect(CDK_NAG_MAJOR).toBe(3);
      expect(validationsApi()).toBeDefined();
    }
  });
});

interface Configuration {
  readonly region: string;
  readonly suppliedCertificate?: boolean;
  readonly tlsRpt: boolean;
}

const CONFIGURATIONS: Record<string, Configuration> = {
  'a us-east-1 stack creating its certificate, with TLS-RPT': { region: 'us-east-1', tlsRpt: true },
  'a us-east-1 stack creating its certificate, without TLS-RPT': { region: 'us-east-1', tlsRpt: false },
  'a eu-west-1 stack with its resources in the us-east-1 companion stack, with TLS-RPT': { region: 'eu-west-1', tlsRpt: true },
  'a eu-west-1 stack with its resources in the us-east-1 companion stack, without TLS-RPT': { region: 'eu-west-1', tlsRpt: false },
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

/**
 * The suppressions of one MtaSts for example.com, below `prefix`: the construct's path in the
 * stack that holds its resources (`MtaSts` in us-east-1, the construct's unique id in the
 * companion stack elsewhere). The publisher function and role need none (plain CfnResources).
 */
function ownSuppressions(prefix: string) {
  return [
    { path: `${prefix}/Bucket/Resource`, id: 'AwsSolutions-S1' },
    { path: `${prefix}/example.com/Distribution/Resource`, id: 'AwsSolutions-CFR1' },
    { path: `${prefix}/example.com/Distribution/Resource`, id: 'AwsSolutions-CFR2' },
    { path: `${prefix}/example.com/Distribution/Resource`, id: 'AwsSolutions-CFR3' },
  ];
}
const OWN_SUPPRESSION_COUNT = ownSuppressions('MtaSts').length;

/** What each reason must talk about, so a reason cannot drift to another rule's. */
const REASON_TOPICS: Record<string, RegExp> = {
  'AwsSolutions-S1': /public by design.*origin access control.*CloudTrail/s,
  'AwsSolutions-CFR1': /RFC 8461.*in any country/s,
  'AwsSolutions-CFR2': /static text file.*Shield.*attachWebAclId/s,
  'AwsSolutions-CFR3': /public, static.*TLS-RPT.*CloudWatch/s,
};

function synthesizeWithNag(config: Configuration) {
  const { app, stack, hostedZone } = exampleStack(config.region);
  const run = nagRunner(app);
  const mtaSts = new MtaSts(stack, 'MtaSts', {
    hostedZone,
    mx: ['mx1.example.com', '*.mail.example.com'],
    certificate: config.suppliedCertificate ? acm.Certificate.fromCertificateArn(stack, 'Certificate', CERTIFICATE_ARN) : undefined,
    tlsRpt: config.tlsRpt ? { rua: ['mailto:tls-reports@example.com'] } : undefined,
  });
  const nag = run();
  const stacks = app.node.children.filter(Stack.isStack);
  // Where the resources are: the stack in us-east-1, else its companion stack.
  const home = Stack.of(mtaSts.bucket);
  const prefix = home === stack ? 'MtaSts' : Names.uniqueId(mtaSts);
  return { app, stack, stacks, nag, home, prefix };
}

/** The cdk-nag 2 suppressions (`cdk_nag` metadata) of every resource of the stacks. */
function foundSuppressions(stacks: Stack[]): FoundSuppression[] {
  return resourcesOf(stacks).flatMap(({ stack, resource }) => {
    const rules: Array<{ id: string; reason: string; applies_to?: string[] }> = resource.getMetadata('cdk_nag')?.rules_to_suppress ?? [];
    return rules.map(rule => ({
      stack: stack.stackName,
      path: resource.node.path.slice(stack.node.path.length + 1),
      id: rule.id,
      ...(rule.applies_to ? { appliesTo: rule.applies_to } : {}),
      reason: rule.reason,
    }));
  });
}

/** The cdk-nag 3 acknowledgements (aws-cdk-lib `Validations`) on any construct of the stacks: `<stack>|<path>|<id>` to reason. */
function foundAcknowledgements(stacks: Stack[]): Map<string, string> {
  const found = new Map<string, string>();
  for (const stack of stacks) {
    for (const construct of stack.node.findAll().filter((c: IConstruct) => Stack.of(c) === stack)) {
      for (const [id, reason] of acknowledgedIds(construct)) {
        found.set(`${stack.stackName}|${construct.node.path.slice(stack.node.path.length + 1)}|${id}`, reason);
      }
    }
  }
  return found;
}

/** The acknowledgements cdk-nag 3 must find for the cdk-nag 2 suppressions, with the same reasons. */
function expectedAcknowledgements(suppressions: FoundSuppression[]): Map<string, string> {
  return new Map(suppressions.flatMap(suppression => acknowledgementIds(suppression)
    .map(id => [`${suppression.stack}|${suppression.path}|${id}`, suppression.reason] as [string, string])));
}

/** The data of each aws-cdk-lib acknowledgement metadata entry on the construct itself. */
function acknowledgementEntries(construct: IConstruct): object[] {
  return construct.node.metadata.filter(entry => entry.type === 'aws:cdk:acknowledged-rules').map(entry => entry.data as object);
}

function resourcesOf(stacks: Stack[]): Array<{ stack: Stack; resource: CfnResource }> {
  return stacks.flatMap(stack => stack.node.findAll()
    .filter(CfnResource.isCfnResource)
    .filter(resource => Stack.of(resource) === stack)
    .map(resource => ({ stack, resource })));
}

const byKey = (a: { stack?: string; path: string; id: string }, b: { stack?: string; path: string; id: string }) =>
  `${a.stack}|${a.path}|${a.id}`.localeCompare(`${b.stack}|${b.path}|${b.id}`);

describe.each(Object.entries(CONFIGURATIONS))(`cdk-nag ${CDK_NAG_MAJOR} AwsSolutions checks of %s`, (_name, config) => {
  test('report no unacknowledged error or warning in any stack of the app', () => {
    // GIVEN
    const { stacks, nag } = synthesizeWithNag(config);

    // THEN
    expect(nag.messages).toEqual([]);
    expect(stacks.map(stack => stack.stackName)).toEqual(config.region === 'us-east-1' ? ['Stack'] : ['Stack', 'Stack-MtaSts']);
  });

  test('find exactly the expected suppressions, each with a reason about its rule', () => {
    // GIVEN
    const { home, prefix, stacks } = synthesizeWithNag(config);

    // WHEN
    const found = foundSuppressions(stacks);

    // THEN
    const expected = ownSuppressions(prefix).map(suppression => ({ stack: home.stackName, ...suppression }));
    expect(found.map(({ reason: _reason, ...where }) => where).sort(byKey)).toEqual(expected.sort(byKey));
    for (const suppression of found) {
      expect(suppression.reason).toMatch(REASON_TOPICS[suppression.id]);
      expect(suppression.reason.length).toBeGreaterThanOrEqual(100);
    }
  });

  test(`write the same acknowledgements for cdk-nag 3 ${byLeg({ minimum: '(none: this aws-cdk-lib has no Validations)', latest: 'through aws-cdk-lib Validations' })}`, () => {
    // GIVEN
    const { stacks } = synthesizeWithNag(config);

    // WHEN
    const acknowledged = foundAcknowledgements(stacks);

    // THEN
    const expected = byLeg({ minimum: new Map<string, string>(), latest: expectedAcknowledgements(foundSuppressions(stacks)) });
    expect([...acknowledged].sort()).toEqual([...expected].sort());
  });

  test('use every acknowledgement to silence a real finding', () => {
    // GIVEN
    const { stacks, nag } = synthesizeWithNag(config);

    // WHEN
    const unused = foundSuppressions(stacks)
      .map(suppression => `${suppression.stack}|${suppression.stack}/${suppression.path}|${suppression.id}`)
      .filter(key => !nag.used.has(key));

    // THEN
    expect(unused).toEqual([]);
  });
});

describe(`cdk-nag ${CDK_NAG_MAJOR} AwsSolutions checks beyond the main configurations`, () => {
  test('check the publisher function and role and find nothing to acknowledge on them', () => {
    // GIVEN
    const { nag, home } = synthesizeWithNag({ region: 'eu-west-1', tlsRpt: true });

    // THEN: the rules looked at them (plain CfnResources, which the IAM and Lambda rules pass over)
    expect(nag.messages).toEqual([]);
    const checked = [...nag.checkedPaths].filter(p => /MtaStsPolicyPublisher/.test(p)).sort();
    expect(checked).toEqual([
      `${home.stackName}/MtaStsPolicyPublisherCustomResourceProvider/Handler`,
      `${home.stackName}/MtaStsPolicyPublisherCustomResourceProvider/Role`,
    ]);
  });

  test('add each acknowledgement once when two MtaSts constructs share a stack and its publisher function', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const run = nagRunner(app);

    // WHEN
    for (const domain of ['example.com', 'example.org']) {
      const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, `Zone-${domain}`, {
        hostedZoneId: domain === 'example.com' ? 'Z0123456789ABCDEFGHIJ' : 'Z9876543210ABCDEFGHIJ',
        zoneName: domain,
      });
      new MtaSts(stack, `MtaSts-${domain}`, { hostedZone, mx: [`mx.${domain}`], tlsRpt: { rua: [`mailto:tls@${domain}`] } });
    }

    // THEN
    expect(run().messages).toEqual([]);
    const found = foundSuppressions([stack]);
    expect(found.filter(suppression => suppression.path.includes('Publisher'))).toEqual([]);
    expect(found.filter(suppression => suppression.id === 'AwsSolutions-S1').map(suppression => suppression.path).sort())
      .toEqual(['MtaSts-example.com/Bucket/Resource', 'MtaSts-example.org/Bucket/Resource']);
    for (const construct of stack.node.findAll()) {
      const ids = acknowledgementEntries(construct).flatMap(data => Object.keys(data));
      expect(ids).toEqual([...new Set(ids)]);
    }
    expect(foundAcknowledgements([stack])).toEqual(byLeg({ minimum: new Map(), latest: expectedAcknowledgements(found) }));
  });

  test('adds nothing when the acknowledgements are added again', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789ABCDEFGHIJ', zoneName: 'example.com' });
    const mtaSts = new MtaSts(stack, 'MtaSts', { hostedZone, mx: ['mx.example.com'], tlsRpt: { rua: ['mailto:tls@example.com'] } });
    const before = foundSuppressions([stack]);
    const countAcknowledgements = () => stack.node.findAll().map(c => acknowledgementEntries(c).length);
    const acknowledgementsBefore = countAcknowledgements();

    // WHEN
    addNagSuppressions(mtaSts);
    addNagSuppressions(mtaSts);

    // THEN
    expect(foundSuppressions([stack])).toEqual(before);
    expect(before).toHaveLength(OWN_SUPPRESSION_COUNT);
    expect(countAcknowledgements()).toEqual(acknowledgementsBefore);
  });

  const pluginTest = CDK_NAG_MAJOR === 3 ? test : test.skip;
  pluginTest.each([
    ['us-east-1'],
    ['eu-west-1'],
  ])('synthesize a %s app with AwsSolutionsChecks registered as cdk-nag 3 says, as a validation plugin (latest leg only)', (region) => {
    // GIVEN
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Validations } = require('aws-cdk-lib');
    const app = (withPlainBucket: boolean) => {
      const example = exampleStack(region);
      new MtaSts(example.stack, 'MtaSts', { hostedZone: example.hostedZone, mx: ['mx1.example.com'], tlsRpt: { rua: ['mailto:tls-reports@example.com'] } });
      if (withPlainBucket) {
        new s3.Bucket(example.stack, 'PlainBucket', { enforceSSL: true });
      }
      Validations.of(example.app).addPlugins(new cdkNag.AwsSolutionsChecks(example.app, { verbose: true }));
      return example.app;
    };

    // THEN: synthesis passes; the same app with a bucket of its own fails, so the plugin did run
    expect(() => app(false).synth()).not.toThrow();
    expect(() => app(true).synth()).toThrow(/AwsSolutions-S1/);
  });
});

describe.each([
  ['us-east-1', 25],
  ['eu-west-1', 12],
])(`cdk-nag ${CDK_NAG_MAJOR} AwsSolutions checks of MtaStsDomains in %s with %d domains`, (region, count) => {
  test('report no unacknowledged error or warning, with the same acknowledgements on every distribution', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region } });
    const run = nagRunner(app);
    const modes = [MtaStsMode.TESTING, MtaStsMode.ENFORCE, MtaStsMode.NONE];
    const domains = new MtaStsDomains(stack, 'MtaSts', {
      mx: ['*.mail.example.net'],
      tlsRpt: { rua: ['mailto:tls-reports@example.net'] },
      domains: Array.from({ length: count }, (_, i) => ({
        hostedZone: route53.HostedZone.fromHostedZoneAttributes(stack, `Zone${i}`, { hostedZoneId: `Z0123456789ABCDEFG${i}`, zoneName: `brand${i}.example` }),
        mode: modes[i % 3],
      })),
    });

    // WHEN
    const nag = run();
    const stacks = app.node.children.filter(Stack.isStack);

    // THEN
    expect(nag.messages).toEqual([]);
    const suppressed = foundSuppressions(stacks);
    const distributions = domains.domainNames.map(name => domains.domain(name).distribution);
    const bucket = domains.domain(domains.domainNames[0]).bucket;
    expect(distributions.length).toBe(count);
    const home = Stack.of(bucket);
    const pathIn = (construct: IConstruct) => construct.node.path.slice(home.node.path.length + 1);
    for (const distribution of distributions) {
      const p = pathIn(distribution.node.defaultChild as CfnResource);
      expect(suppressed.filter(found => found.path === p).map(found => found.id)).toEqual(['AwsSolutions-CFR1', 'AwsSolutions-CFR2', 'AwsSolutions-CFR3']);
    }
    expect(suppressed.filter(found => found.path === pathIn(bucket.node.defaultChild as CfnResource)).map(found => found.id)).toEqual(['AwsSolutions-S1']);
    expect(foundAcknowledgements(stacks)).toEqual(byLeg({ minimum: new Map(), latest: expectedAcknowledgements(suppressed) }));
  });
});
