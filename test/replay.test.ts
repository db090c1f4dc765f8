/**
 * Publish before announce, proved by replaying CloudFormation against moto with the packaged
 * publisher (test/support/cfn-replay.ts).
 *
 * Each scenario synthesizes the versions of an app with the real constructs; `replayScenario`
 * deploys them in turn (and deletes the stack, and makes the user's own DNS changes) with each
 * scheduler, then replays every operation again from a save point with a failure after each
 * update step, with faults inside the publisher's requests (a record change Route 53 applied
 * but whose answer was lost, a change that stays PENDING until the deadline, a lost answer and
 * Lambda's retry, throttling, a failing S3 or Route 53), and with faults in the rollback's
 * requests. Every publication request runs the packaged handler (assets/handlers/publisher,
 * through aws-cdk-lib's entrypoint, in a Node.js process) against moto's S3 and Route 53; the
 * checks read moto after every step.
 *
 * The first block tests the replay itself, on hand-made templates whose publications are run by
 * stand-in publishers (test/support/replay-stand-in.ts), NOT the library's handler: a correct
 * stand-in must pass, and stand-ins that announce before the body is written, reuse ids, leave a
 * moved record behind or ignore updates, and a template that announces before the bucket lets
 * the distribution read, must be caught.
 *
 * Bounded to stay within a few minutes on two cores (each handler run is a Node.js process):
 * all four schedulers for the sequences of one to four domains, two for the rest; failures after
 * every update step, handler faults and rollback faults with one scheduler; no failure replays
 * for creates that only repeat a create replayed elsewhere (ten domains, a second create);
 * lasting faults (every call failing until the deadline) only in Create and Update requests, as
 * a Route 53 outage during a Delete would stop CloudFormation's own record deletes too.
 * REPLAY_STATS=1 prints each scenario's replays, handler runs and time.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { MtaSts, MtaStsDomainOptions, MtaStsDomains, MtaStsMode } from '../src';
import { FaultProxy, startFaultProxy } from './support/aws-faults';
import {
  CfnTemplate, NamedFaults, ORDERS, Replay, ReplayEnvironment, Scenario, ScenarioPlan, assertModelled, contentIdOf,
  expectInvariantsKept, formatOutcome, replayScenario,
} from './support/cfn-replay';
import { Moto, startMoto } from './support/moto';
import { findFunction, packagedFunctions } from './support/packaged';
import { ReplayCloud, motoCloud } from './support/replay-cloud';
import { packagedPublisher } from './support/replay-publisher';
import { StandInMistakes, standInPublisher } from './support/replay-stand-in';

const ACCOUNT = '111111111111';
const REGION = 'us-east-1';
const policyText = (mode: string, mx = 'mx1.example.com'): string => `version: STSv1\r\nmode: ${mode}\r\nmx: ${mx}\r\nmax_age: 604800\r\n`;

/** Replays run real processes against moto: minutes, not the default minute. */
const SCENARIO_TIMEOUT_MS = 300_000;

let moto: Moto;
let proxy: FaultProxy;
let cloud: ReplayCloud;
/** One cloud assembly directory per app, removed at the end (outside the project: packaged code must not see its node_modules). */
const OUTDIR = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-mta-sts-replay-'));

beforeAll(async () => {
  moto = await startMoto();
  proxy = await startFaultProxy(moto.endpoint);
  cloud = motoCloud(moto.endpoint);
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await moto?.stop();
  fs.rmSync(OUTDIR, { recursive: true, force: true });
});

const standIn = (mistakes: StandInMistakes = {}): ReplayEnvironment => ({ cloud, publisher: standInPublisher(proxy, mistakes) });

// -------------------------------------------------------------------------------------------
// Hand-made templates for the self-test
// -------------------------------------------------------------------------------------------

interface HandMadeOptions {
  /** The zone of every record. @default 'Z1' */
  readonly zone?: string;
  /** The zone's name. @default 'example.com' */
  readonly zoneName?: string;
  /** Make the publication wait for the bucket policy. @default true */
  readonly dependsOnBucketPolicy?: boolean;
  /** Grant read to every distribution of the account, not just this one. @default true */
  readonly accountWideRead?: boolean;
}

/**
 * The library's shape by hand: bucket and policy, origin access control, certificate,
 * distribution, A and AAAA aliases, and a publication that depends on them, for example.com.
 * In a zone named `mta-sts.example.com` the records are written as in a delegated zone.
 */
function handMade(text: string, options: HandMadeOptions = {}): CfnTemplate {
  const zoneId = options.zone ?? 'Z1';
  const delegated = (options.zoneName ?? 'example.com') === 'mta-sts.example.com';
  const condition = options.accountWideRead === false
    ? { StringEquals: { 'AWS:SourceArn': { 'Fn::Join': ['', ['arn:aws:cloudfront::', { Ref: 'AWS::AccountId' }, ':distribution/', { Ref: 'Distribution' }]] } } }
    : { StringEquals: { 'AWS:SourceAccount': { Ref: 'AWS::AccountId' } } };
  const alias = (type: string) => ({
    Type: 'AWS::Route53::RecordSet',
    Properties: { HostedZoneId: zoneId, Name: 'mta-sts.example.com.', Type: type, AliasTarget: { DNSName: { 'Fn::GetAtt': ['Distribution', 'DomainName'] }, HostedZoneId: 'Z2FDTNDATAQYW2' } },
  });
  return {
    Resources: {
      Bucket: { Type: 'AWS::S3::Bucket', Properties: {} },
      BucketPolicy: {
        Type: 'AWS::S3::BucketPolicy',
        Properties: {
          Bucket: { Ref: 'Bucket' },
          PolicyDocument: {
            Statement: [{
              Effect: 'Allow',
              Principal: { Service: 'cloudfront.amazonaws.com' },
              Action: 's3:GetObject',
              Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Bucket', 'Arn'] }, '/policies/*']] },
              Condition: condition,
            }],
          },
        },
      },
      OriginAccessControl: { Type: 'AWS::CloudFront::OriginAccessControl', Properties: {} },
      Certificate: { Type: 'AWS::CertificateManager::Certificate', Properties: { DomainName: 'mta-sts.example.com' } },
      Distribution: {
        Type: 'AWS::CloudFront::Distribution',
        Properties: {
          DistributionConfig: {
            Aliases: ['mta-sts.example.com'],
            ViewerCertificate: { AcmCertificateArn: { Ref: 'Certificate' } },
            DefaultCacheBehavior: { TargetOriginId: 'origin' },
            Origins: [{
              Id: 'origin',
              DomainName: { 'Fn::GetAtt': ['Bucket', 'RegionalDomainName'] },
              OriginPath: '/policies/example.com',
              OriginAccessControlId: { 'Fn::GetAtt': ['OriginAccessControl', 'Id'] },
            }],
          },
        },
      },
      AliasA: alias('A'),
      AliasAAAA: alias('AAAA'),
      Publication: {
        Type: 'Custom::MtaStsPolicyPublication',
        DependsOn: options.dependsOnBucketPolicy === false ? ['AliasA', 'AliasAAAA', 'Distribution'] : ['AliasA', 'AliasAAAA', 'Distribution', 'BucketPolicy'],
        Properties: {
          ServiceToken: 'arn:aws:lambda:us-east-1:111111111111:function:stand-in',
          DomainName: 'example.com',
          BucketName: { Ref: 'Bucket' },
          ObjectKey: 'policies/example.com/.well-known/mta-sts.txt',
          PolicyText: text,
          ContentId: contentIdOf(text),
          HostedZoneId: zoneId,
          RecordName: delegated ? '_mta-sts.mta-sts.example.com' : '_mta-sts.example.com',
          RecordTtl: 300,
          RetainObject: 'false',
          ReplaceExistingRecord: 'false',
          DistributionId: { Ref: 'Distribution' },
        },
      },
    },
  };
}

const ONE_ZONE = [{ id: 'Z1', name: 'example.com' }];

describe('the CloudFormation replay (self-test on hand-made templates with stand-in publishers)', () => {
  test('accepts a correct publisher through create, policy change, failed change, stack delete and create again, whatever fails when', async () => {
    // GIVEN
    const scenario: Scenario = {
      zones: ONE_ZONE,
      steps: [
        { label: 'create', deploy: handMade(policyText('testing')) },
        { label: 'policy change', deploy: handMade(policyText('enforce')) },
        { label: 'failed policy change', deploy: handMade(policyText('testing')), failAfterStep: 1 },
        { label: 'stack delete', deleteStack: true },
        { label: 'create again', deploy: handMade(policyText('testing')) },
      ],
    };

    // WHEN
    const outcome = await replayScenario(standIn(), scenario, {
      handlerFaults: [{ name: 'S3 fails the put', aws: [{ service: 's3', operation: 'PutObject', fault: 'server-error' }], requestTypes: ['Create', 'Update'] }],
    });

    // THEN
    expect(formatOutcome(outcome)).toBe(`all ${outcome.runs} replays kept every promise`);
    expect(outcome.runs).toBeGreaterThan(ORDERS.length * 5);
  }, SCENARIO_TIMEOUT_MS);

  test('serves and announces what a created stack publishes, as a sender sees it', async () => {
    // GIVEN
    const replay = new Replay(standIn());
    await replay.start(ONE_ZONE);

    // WHEN
    const result = await replay.deploy(handMade(policyText('testing')));

    // THEN
    expect(result.violations).toEqual([]);
    expect(await replay.senderView('example.com')).toEqual({
      id: expect.stringMatching(new RegExp(`^${contentIdOf(policyText('testing'))}[0-9]{16}$`)),
      served: `body:${policyText('testing')}`,
    });
  });

  test('follows the _mta-sts CNAME of a delegated mta-sts zone once the user delegates it', async () => {
    // GIVEN: a zone for example.com, and one for mta-sts.example.com that it does not delegate to yet
    const replay = new Replay(standIn());
    await replay.start([...ONE_ZONE, { id: 'ZD', name: 'mta-sts.example.com' }]);
    const deployed = await replay.deploy(handMade(policyText('testing'), { zone: 'ZD', zoneName: 'mta-sts.example.com' }));
    const before = await replay.senderView('example.com');

    // WHEN: the runbook's records
    const delegated = await replay.userDns('delegate mta-sts.example.com and point _mta-sts at it', async (dns) => {
      await dns.change('Z1', 'CREATE', { name: 'mta-sts.example.com', type: 'NS', values: ['ns-1.awsdns-01.org.'] });
      await dns.change('Z1', 'CREATE', { name: '_mta-sts.example.com', type: 'CNAME', values: ['_mta-sts.mta-sts.example.com'] });
    });

    // THEN
    expect([...deployed.violations, ...delegated.violations]).toEqual([]);
    expect(before).toEqual({ id: undefined, served: 'error:no alias record for mta-sts.example.com' });
    expect(await replay.senderView('example.com')).toEqual({
      id: expect.stringMatching(new RegExp(`^${contentIdOf(policyText('testing'))}`)),
      served: `body:${policyText('testing')}`,
    });
  });

  test('fails when a template serves a domain it does not publish through a publication', () => {
    // GIVEN
    const template = handMade(policyText('testing'));
    const { Publication: _publication, ...rest } = template.Resources!;

    // THEN
    expect(() => assertModelled({ Resources: rest })).toThrow(/^the replay does not model how example\.com is announced/);
  });

  test('fails when a deploy leaves the old policy in place (end state)', async () => {
    // GIVEN: a publisher that answers SUCCESS to an Update without writing
    const replay = new Replay(standIn({ ignoreUpdates: true }));
    await replay.start(ONE_ZONE);
    await replay.deploy(handMade(policyText('testing')));

    // WHEN
    const result = await replay.deploy(handMade(policyText('enforce')));

    // THEN
    expect(result.violations).toEqual([
      expect.stringMatching(/^End state of the deploy: _mta-sts\.example\.com in zone Z1 holds \[v=STSv1; id=\w+\], not one id made for the body with content id \w+ \(mode enforce/),
      expect.stringMatching(/^End state of the deploy: s3:\/\/\S+ holds the body with content id \w+ \(mode testing.*, not the body with content id \w+ \(mode enforce/),
    ]);
  });

  test('fails when a publisher writes the record before the body and the put fails (Invariant B)', async () => {
    // GIVEN
    const scenario: Scenario = { zones: ONE_ZONE, steps: [{ label: 'create', deploy: handMade(policyText('testing')) }, { label: 'policy change', deploy: handMade(policyText('enforce')) }] };

    // WHEN
    const outcome = await replayScenario(standIn({ announceFirst: true }), scenario, {
      orders: ['template'],
      failEveryStep: false,
      handlerFaults: [{ name: 'S3 fails the put', aws: [{ service: 's3', operation: 'PutObject', fault: 'server-error' }], requestTypes: ['Update'] }],
    });

    // THEN
    expect(outcome.problems.map(p => p.violations[0])).toEqual([
      expect.stringMatching(/^Invariant B after step #\d+ update update Publication .*FAILED.*: example\.com announces id=\w+, not made for what it serves: the body with content id \w+ \(mode testing/),
    ]);
  });

  test('fails when a publisher announces an id it announced before for a body served since (Invariant A)', async () => {
    // GIVEN: testing, enforce, testing again, by a publisher whose ids are the content id alone
    const scenario: Scenario = {
      zones: ONE_ZONE,
      steps: [
        { label: 'create', deploy: handMade(policyText('testing')) },
        { label: 'to enforce', deploy: handMade(policyText('enforce')) },
        { label: 'back to testing', deploy: handMade(policyText('testing')) },
      ],
    };

    // WHEN
    const outcome = await replayScenario(standIn({ reuseIds: true }), scenario, { orders: ['template'], failEveryStep: false });

    // THEN
    expect(outcome.problems.flatMap(p => p.violations)).toEqual([
      expect.stringMatching(/^Invariant A at the end of the deploy: example\.com announces id=\w+, first announced at step #\d+, but what it serves last changed at step #\d+/),
    ]);
  }, SCENARIO_TIMEOUT_MS);

  test('fails when the record may be written before the bucket policy lets the distribution read', async () => {
    // GIVEN: a per-distribution grant, and a publication that does not wait for it
    const scenario: Scenario = { zones: ONE_ZONE, steps: [{ label: 'create', deploy: handMade(policyText('testing'), { dependsOnBucketPolicy: false, accountWideRead: false }) }] };

    // WHEN
    const outcome = await replayScenario(standIn(), scenario, { orders: ['announce-early'], failEveryStep: false });

    // THEN
    expect(outcome.problems.map(p => p.violations[0])).toEqual([
      expect.stringMatching(/^Invariant B after step #\d+ update create Publication .*: example\.com announces id=\w+ but serves the bucket policy does not let distribution \w+ read/),
    ]);
  });

  test('fails when a publication that moves to another zone leaves its old record behind', async () => {
    // GIVEN: the zone of example.com is replaced by a new one, which the registrar points at afterwards
    const scenario: Scenario = {
      zones: [{ id: 'ZOLD', name: 'example.com' }, { id: 'ZNEW', name: 'example.com' }],
      registrar: { 'example.com': 'ZOLD' },
      steps: [
        { label: 'create', deploy: handMade(policyText('testing'), { zone: 'ZOLD' }) },
        { label: 'new zone', deploy: handMade(policyText('testing'), { zone: 'ZNEW' }) },
      ],
    };

    // WHEN
    const outcome = await replayScenario(standIn({ keepMovedRecord: true }), scenario, { orders: ['template'], failEveryStep: false });

    // THEN
    expect(outcome.problems.flatMap(p => p.violations)).toEqual(expect.arrayContaining([
      expect.stringMatching(/^Orphaned record after step #\d+ update update Publication .*: _mta-sts\.example\.com\. in zone ZOLD announces "v=STSv1; id=\w+", but no publication of the stack owns it/),
      expect.stringMatching(/^Invariant B after step #\d+ cleanup delete old physical AliasA .*: example\.com announces id=\w+ but serves/),
    ]));
  });

  test('fails when a new distribution would take the alias of another (CNAMEAlreadyExists), and rolls back', async () => {
    // GIVEN: the same alias moves to a distribution with a new logical id
    const before = handMade(policyText('testing'));
    const after = JSON.parse(JSON.stringify(before).replace(/"Distribution"/g, '"Distribution2"'));
    const replay = new Replay(standIn());
    await replay.start(ONE_ZONE);
    await replay.deploy(before);

    // WHEN
    const result = await replay.deploy(after);

    // THEN
    expect(result.failure).toMatch(/^Distribution2 \(AWS::CloudFront::Distribution\) failed: CNAMEAlreadyExists: mta-sts\.example\.com/);
    expect(result.violations).toEqual([]);
    expect(replay.deployed).toBe(before);
  });
});

// -------------------------------------------------------------------------------------------
// The real constructs, published by the packaged handler
// -------------------------------------------------------------------------------------------

/**
 * The time left when a request with a lasting fault starts: the handler gives up (it keeps a
 * minute to clean up) after a minute of retries, not after the function's ten.
 */
const DEADLINE_MS = 120_000;

/** Faults inside one publication request (see aws-faults.ts for how each is answered). */
const LOST_ANSWERS: NamedFaults = {
  name: 'Route 53 applies every record change but every answer is lost',
  aws: [{ service: 'route53', operation: 'ChangeResourceRecordSets', fault: 'after-forward-error', times: 1000 }],
  remainingMs: DEADLINE_MS,
  requestTypes: ['Create', 'Update'],
};
const ONE_LOST_ANSWER: NamedFaults = {
  name: 'Route 53 applies a record change but its answer is lost once',
  aws: [{ service: 'route53', operation: 'ChangeResourceRecordSets', fault: 'after-forward-error' }],
};
const PENDING: NamedFaults = {
  name: 'the record change stays PENDING until the deadline',
  aws: [{ service: 'route53', operation: 'ChangeResourceRecordSets', fault: 'pending' }, { service: 'route53', operation: 'GetChange', fault: 'pending', times: 1000 }],
  remainingMs: DEADLINE_MS,
};
const LOST_RUN: NamedFaults = { name: 'the answer is lost and Lambda runs the same event again', loseAnswer: true };
const THROTTLED: NamedFaults = {
  name: 'Route 53 and S3 throttle',
  aws: [{ service: 'route53', fault: 'throttle', times: 3 }, { service: 's3', fault: 'throttle', times: 2 }],
};
const PUT_FAILS: NamedFaults = {
  name: 'S3 fails every put',
  aws: [{ service: 's3', operation: 'PutObject', fault: 'server-error', times: 1000 }],
  remainingMs: DEADLINE_MS,
  requestTypes: ['Create', 'Update'],
};
const CHANGE_FAILS: NamedFaults = {
  name: 'Route 53 refuses every record change',
  aws: [{ service: 'route53', operation: 'ChangeResourceRecordSets', fault: 'server-error', times: 1000 }],
  remainingMs: DEADLINE_MS,
  requestTypes: ['Create', 'Update'],
};
const EVERY_FAULT = [LOST_ANSWERS, ONE_LOST_ANSWER, PENDING, LOST_RUN, THROTTLED, PUT_FAILS, CHANGE_FAILS];

let packaged: ReplayEnvironment;

beforeAll(() => {
  // The publisher function of one synthesized app: the same bundle serves every template below.
  const { app, stack } = newStack();
  new MtaSts(stack, 'MtaSts', { hostedZone: zone(stack, 'ZEXAMPLE', 'example.com'), mx: ['mx1.example.com'] });
  const fn = findFunction(packagedFunctions(app.synth().directory, 'Stack'), 'MtaStsPolicyPublisherCustomResourceProviderHandler');
  packaged = { cloud, publisher: packagedPublisher({ fn, proxy }) };
});
afterAll(() => (packaged?.publisher as ReturnType<typeof packagedPublisher> | undefined)?.stop());

let apps = 0;
function newStack(region = REGION): { app: App; stack: Stack } {
  const app = new App({ outdir: path.join(OUTDIR, `app-${++apps}`) });
  return { app, stack: new Stack(app, 'Stack', { env: { account: ACCOUNT, region } }) };
}

function zone(stack: Stack, hostedZoneId: string, zoneName: string): route53.IHostedZone {
  return route53.HostedZone.fromHostedZoneAttributes(stack, `Zone-${hostedZoneId}`, { hostedZoneId, zoneName });
}

/** The template of the one stack of `app` that publishes policies (the companion stack outside us-east-1). */
function servingTemplate(app: App): CfnTemplate {
  const templates = app.synth().stacks.map(s => s.template as CfnTemplate)
    .filter(t => Object.values(t.Resources ?? {}).some(r => r.Type === 'Custom::MtaStsPolicyPublication'));
  if (templates.length !== 1) {
    throw new Error(`expected one stack publishing policies, got: ${templates.length}`);
  }
  return templates[0];
}

interface SingleDomain {
  readonly domainName?: string;
  readonly mode?: MtaStsMode;
  readonly mx?: string[];
  /** @default ['ZEXAMPLE', 'example.com'] */
  readonly zone?: [string, string];
  readonly removalPolicy?: RemovalPolicy;
}

/** One stack with one `MtaSts`. */
function mtaSts(d: SingleDomain = {}): CfnTemplate {
  const { app, stack } = newStack();
  const [zoneId, zoneName] = d.zone ?? ['ZEXAMPLE', 'example.com'];
  new MtaSts(stack, 'MtaSts', {
    hostedZone: zone(stack, zoneId, zoneName),
    domainName: d.domainName,
    mode: d.mode ?? MtaStsMode.TESTING,
    mx: d.mx ?? ['mx1.example.com'],
    tlsRpt: { rua: ['mailto:tls@example.com'] },
    removalPolicy: d.removalPolicy,
  });
  return servingTemplate(app);
}

type DomainSpec = string | { name: string; mode?: MtaStsMode; mx?: string[] };
const zoneIdOf = (name: string): string => `Z${name.replace(/\W/g, '').toUpperCase()}`;

/** One stack with an `MtaStsDomains` over the given domains, each in its own zone. */
function mtaStsDomains(domains: DomainSpec[], region = REGION): CfnTemplate {
  const { app, stack } = newStack(region);
  new MtaStsDomains(stack, 'MtaSts', {
    mx: ['*.mail.example.net'],
    tlsRpt: { rua: ['mailto:tls@example.net'] },
    domains: domains.map((d): MtaStsDomainOptions => {
      const { name, mode, mx } = typeof d === 'string' ? { name: d, mode: undefined, mx: undefined } : d;
      return { hostedZone: zone(stack, zoneIdOf(name), name), mode, mx };
    }),
  });
  return servingTemplate(app);
}

const brands = (count: number, from = 0): string[] => Array.from({ length: count }, (_, i) => `brand${from + i}.example`);
const zonesOf = (names: string[]) => names.map(name => ({ id: zoneIdOf(name), name }));
const EXAMPLE_ZONE = [{ id: 'ZEXAMPLE', name: 'example.com' }];

async function expectScenarioKept(scenario: Scenario, plan: ScenarioPlan): Promise<void> {
  const publisher = packaged.publisher as ReturnType<typeof packagedPublisher>;
  const [runs, ms, started] = [publisher.log.runs, publisher.log.ms, Date.now()];
  const outcome = await replayScenario(packaged, scenario, plan);
  if (process.env.REPLAY_STATS) {
    process.stderr.write(`${expect.getState().currentTestName}: ${outcome.runs} replays, ${publisher.log.runs - runs} handler runs `
      + `(${publisher.log.ms - ms} ms), ${Date.now() - started} ms\n`);
  }
  expectInvariantsKept(outcome);
}

describe('MtaSts keeps every promise through updates, rollbacks and failures inside the publisher', () => {
  test('create, policy change, failed policy change, stack delete, create again', async () => {
    await expectScenarioKept({
      zones: EXAMPLE_ZONE,
      steps: [
        { label: 'create', deploy: mtaSts() },
        { label: 'new mx', deploy: mtaSts({ mx: ['mx1.example.com', 'mx2.example.com'] }) },
        { label: 'to enforce, failing after the publication', deploy: mtaSts({ mx: ['mx1.example.com', 'mx2.example.com'], mode: MtaStsMode.ENFORCE }), failAfterStep: 1 },
        { label: 'stack delete', deleteStack: true },
        // The first create's failures and faults, again.
        { label: 'create again', deploy: mtaSts(), variants: false },
      ],
    }, { handlerFaults: EVERY_FAULT, rollbackFaults: [LOST_ANSWERS, PENDING, LOST_RUN] });
  }, SCENARIO_TIMEOUT_MS);
});


describe('MtaSts keeps every promise when its domain, its zone or its delegation changes', () => {
  test('a renamed domain (domainName changes)', async () => {
    await expectScenarioKept({
      zones: EXAMPLE_ZONE,
      steps: [
        { label: 'create mail.example.com', deploy: mtaSts({ domainName: 'mail.example.com' }) },
        { label: 'rename to post.example.com', deploy: mtaSts({ domainName: 'post.example.com' }) },
      ],
    }, { orders: ['template', 'announce-late'], handlerFaults: [LOST_ANSWERS, LOST_RUN, PENDING] });
  }, SCENARIO_TIMEOUT_MS);

  test('a new hosted zone for the domain (the zone id changes), and back with a policy change', async () => {
    await expectScenarioKept({
      zones: [{ id: 'ZOLD', name: 'example.com' }, { id: 'ZNEW', name: 'example.com' }],
      registrar: { 'example.com': 'ZOLD' },
      steps: [
        { label: 'create in the old zone', deploy: mtaSts({ zone: ['ZOLD', 'example.com'] }) },
        { label: 'move to the new zone', deploy: mtaSts({ zone: ['ZNEW', 'example.com'] }) },
        { label: 'registrar points at the new zone', userDns: async (dns) => dns.register('example.com', 'ZNEW') },
        { label: 'back to the old zone, in enforce mode', deploy: mtaSts({ zone: ['ZOLD', 'example.com'], mode: MtaStsMode.ENFORCE }) },
        { label: 'registrar points at the old zone', userDns: async (dns) => dns.register('example.com', 'ZOLD') },
      ],
    }, { orders: ['template', 'announce-early'], handlerFaults: [LOST_ANSWERS, LOST_RUN, PENDING, CHANGE_FAILS, PUT_FAILS], rollbackFaults: [LOST_ANSWERS] });
  }, SCENARIO_TIMEOUT_MS);

  test('delegation switched on (a mta-sts.example.com zone and the runbook\'s CNAMEs) and off again', async () => {
    const cname = { name: '_mta-sts.example.com', type: 'CNAME', values: ['_mta-sts.mta-sts.example.com'], ttl: 300 };
    const tlsRptCname = { name: '_smtp._tls.example.com', type: 'CNAME', values: ['_smtp._tls.mta-sts.example.com'], ttl: 300 };
    const ns = { name: 'mta-sts.example.com', type: 'NS', values: ['ns-1.awsdns-01.org.'], ttl: 300 };
    await expectScenarioKept({
      zones: [{ id: 'ZEXAMPLE', name: 'example.com' }, { id: 'ZDELEGATED', name: 'mta-sts.example.com' }],
      steps: [
        { label: 'create in example.com', deploy: mtaSts() },
        { label: 'switch to the delegated zone', deploy: mtaSts({ domainName: 'example.com', zone: ['ZDELEGATED', 'mta-sts.example.com'] }) },
        {
          label: 'delegate mta-sts.example.com and add the CNAMEs',
          userDns: async (dns) => {
            for (const record of [ns, cname, tlsRptCname]) {
              await dns.change('ZEXAMPLE', 'CREATE', record);
            }
          },
        },
        { label: 'policy change in the delegated zone', deploy: mtaSts({ domainName: 'example.com', zone: ['ZDELEGATED', 'mta-sts.example.com'], mode: MtaStsMode.ENFORCE }) },
        {
          label: 'remove the CNAMEs and the delegation',
          userDns: async (dns) => {
            for (const record of [cname, tlsRptCname, ns]) {
              await dns.change('ZEXAMPLE', 'DELETE', record);
            }
          },
        },
        { label: 'switch back to example.com', deploy: mtaSts({ mode: MtaStsMode.ENFORCE }) },
      ],
    }, { orders: ['template', 'announce-early'], handlerFaults: [LOST_ANSWERS, LOST_RUN, CHANGE_FAILS] });
  }, SCENARIO_TIMEOUT_MS);
});

describe('MtaSts keeps or removes its bucket as its removalPolicy says', () => {
  test.each([
    ['RETAIN', RemovalPolicy.RETAIN],
    ['DESTROY', RemovalPolicy.DESTROY],
  ])('a stack delete with removalPolicy %s', async (_name, removalPolicy) => {
    // GIVEN
    const template = mtaSts({ removalPolicy });
    await expectScenarioKept({
      zones: EXAMPLE_ZONE,
      steps: [{ label: 'create', deploy: template }, { label: 'stack delete', deleteStack: true }],
    }, { orders: ['template'], failEveryStep: false, handlerFaults: [LOST_RUN, THROTTLED, ONE_LOST_ANSWER] });

    // WHEN
    const replay = new Replay(packaged);
    await replay.start(EXAMPLE_ZONE);
    await replay.deploy(template);
    const deleted = await replay.deleteStack();
    const left = await cloud.read();

    // THEN
    expect(deleted.violations).toEqual([]);
    expect(left.zones.flatMap(z => z.records)).toEqual([]);
    expect(Object.values(left.buckets)).toEqual(removalPolicy === RemovalPolicy.RETAIN
      ? [{ 'policies/example.com/.well-known/mta-sts.txt': policyText('testing') }] : []);
  }, SCENARIO_TIMEOUT_MS);
});

describe('MtaStsDomains keeps every promise through updates, rollbacks and failures inside the publisher', () => {
  test('a policy change of one domain, a domain added, one removed, one renamed', async () => {
    const names = brands(3);
    await expectScenarioKept({
      zones: zonesOf([...brands(4), 'renamed.example']),
      steps: [
        // MtaSts's create replays the failures of a create.
        { label: 'create 3', deploy: mtaStsDomains(names), variants: false },
        { label: 'new mx for brand2', deploy: mtaStsDomains([...brands(2), { name: 'brand2.example', mx: ['*.mail.example.net', 'mx.brand2.example'] }]) },
        { label: 'add brand3', deploy: mtaStsDomains(brands(4)) },
        { label: 'remove brand3', deploy: mtaStsDomains(names) },
        { label: 'rename brand2 to renamed.example', deploy: mtaStsDomains([...brands(2), 'renamed.example']) },
      ],
    }, { handlerFaults: [LOST_ANSWERS, LOST_RUN] });
  }, SCENARIO_TIMEOUT_MS);

  test('growing from 10 to 11 domains', async () => {
    await expectScenarioKept({
      zones: zonesOf(brands(11)),
      steps: [
        // Creating ten domains is the three-domain create ten times over: its failures are replayed there.
        { label: 'create 10', deploy: mtaStsDomains(brands(10)), variants: false },
        { label: 'add the 11th', deploy: mtaStsDomains(brands(11)) },
      ],
    }, { orders: ['template', 'announce-early'], handlerFaults: [LOST_ANSWERS, LOST_RUN, PENDING] });
  }, SCENARIO_TIMEOUT_MS);

  test('outside us-east-1: the companion stack in us-east-1 through a policy change and an added domain', async () => {
    await expectScenarioKept({
      zones: zonesOf(brands(3)),
      steps: [
        { label: 'create 2', deploy: mtaStsDomains(brands(2), 'eu-west-1') },
        { label: 'enforce brand1', deploy: mtaStsDomains(['brand0.example', { name: 'brand1.example', mode: MtaStsMode.ENFORCE }], 'eu-west-1') },
        { label: 'add brand2', deploy: mtaStsDomains(['brand0.example', { name: 'brand1.example', mode: MtaStsMode.ENFORCE }, 'brand2.example'], 'eu-west-1') },
      ],
    }, { orders: ['template'], handlerFaults: [LOST_RUN] });
  }, SCENARIO_TIMEOUT_MS);
});

