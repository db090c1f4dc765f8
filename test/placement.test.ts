import * as fs from 'node:fs';
import {
  App, CliCredentialsStackSynthesizer, DefaultStackSynthesizer, DockerImageAssetLocation, FileAssetLocation, ISynthesisSession, NestedStack,
  PermissionsBoundary, Stack, StackProps, StackSynthesizer, Stage, Tags,
} from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';
import { MtaSts, MtaStsDomains, MtaStsMode } from '../src';

const ACCOUNT = '111111111111';
const OTHER_ACCOUNT = '222222222222';
const env = (region: string, account = ACCOUNT) => ({ account, region });

function zoneIn(scope: Construct, name = 'example.com'): route53.IHostedZone {
  return route53.HostedZone.fromHostedZoneAttributes(scope, `Zone-${name}`, { hostedZoneId: `Z${name.replace(/\W/g, '').toUpperCase()}`, zoneName: name });
}

function mtaSts(stack: Stack, domain = 'example.com', id = 'MtaSts'): MtaSts {
  return new MtaSts(stack, id, {
    hostedZone: zoneIn(stack, domain),
    mode: MtaStsMode.ENFORCE,
    mx: [`mx.${domain}`],
    tlsRpt: { rua: [`mailto:tls@${domain}`] },
  });
}

/** A stack in eu-west-1 with one MtaSts; returns the stack and the companion that holds its resources. */
function placed(props: StackProps = {}, scope?: Construct, id = 'Stack'): { app: App; stack: Stack; companion: Stack; construct: MtaSts } {
  const app = new App();
  const stack = new Stack(scope ?? app, id, { env: env('eu-west-1'), ...props });
  const construct = mtaSts(stack);
  return { app: scope ? (scope.node.root as App) : app, stack, companion: Stack.of(construct.bucket), construct };
}

/** The stack artifact of `stack` in a synthesized app. */
function artifactOf(app: App, stack: Stack): cxapi.CloudFormationStackArtifact {
  return app.synth().getStackArtifact(stack.artifactId);
}

/** A synthesizer bound to one stack for good: it does not implement IReusableStackSynthesizer. */
class OneStackSynthesizer extends StackSynthesizer {
  private readonly inner = new DefaultStackSynthesizer();

  public bind(stack: Stack): void {
    super.bind(stack);
    this.inner.bind(stack);
  }

  public addFileAsset(asset: Parameters<StackSynthesizer['addFileAsset']>[0]): FileAssetLocation {
    return this.inner.addFileAsset(asset);
  }

  public addDockerImageAsset(asset: Parameters<StackSynthesizer['addDockerImageAsset']>[0]): DockerImageAssetLocation {
    return this.inner.addDockerImageAsset(asset);
  }

  public synthesize(session: ISynthesisSession): void {
    this.inner.synthesize(session);
  }
}

describe('the us-east-1 companion stack', () => {
  test('is named after the stack name, not the construct id, and keeps the construct id beside the stack', () => {
    // GIVEN / WHEN
    const { app, stack, companion } = placed({ stackName: 'mail-production' });

    // THEN
    expect(companion.stackName).toBe('mail-production-MtaSts');
    expect(companion.node.path).toBe('Stack-MtaSts');
    expect(companion.node.scope).toBe(app);
    expect(companion.region).toBe('us-east-1');
    expect(companion.account).toBe(ACCOUNT);
    expect(stack.dependencies).toEqual([companion]);
    expect(artifactOf(app, companion).stackName).toBe('mail-production-MtaSts');
  });

  test('gets a different name in each of two apps whose stacks share a construct id but not a stack name', () => {
    // GIVEN
    const first = placed({ stackName: 'mail-staging' });
    const second = placed({ stackName: 'mail-production' });

    // THEN
    expect(first.companion.node.id).toBe(second.companion.node.id);
    expect(first.companion.stackName).toBe('mail-staging-MtaSts');
    expect(second.companion.stackName).toBe('mail-production-MtaSts');
  });

  test('is named with the stage prefix and created in the stage of a stack inside a Stage', () => {
    // GIVEN
    const app = new App();
    const prod = new Stage(app, 'Prod', { env: env('eu-west-1') });
    const staging = new Stage(app, 'Staging', { env: env('eu-west-1') });

    // WHEN
    const inProd = mtaSts(new Stack(prod, 'Mail', { env: env('eu-west-1') }));
    const inStaging = mtaSts(new Stack(staging, 'Mail', { env: env('eu-west-1') }), 'example.org');

    // THEN
    const prodCompanion = Stack.of(inProd.bucket);
    const stagingCompanion = Stack.of(inStaging.bucket);
    expect(prodCompanion.node.path).toBe('Prod/Mail-MtaSts');
    expect(prodCompanion.stackName).toBe('Prod-Mail-MtaSts');
    expect(Stage.of(prodCompanion)).toBe(prod);
    expect(stagingCompanion.stackName).toBe('Staging-Mail-MtaSts');
    expect(prod.synth().getStackByName('Prod-Mail-MtaSts').environment.region).toBe('us-east-1');
  });

  test('keeps a name of 128 characters, the first ones of the stack name and a hash of all of it, for a long stack name', () => {
    // GIVEN
    const long = (last: string) => `Mail${'x'.repeat(120)}${last}`;

    // WHEN
    const a = placed({ stackName: long('aaaa') }).companion.stackName;
    const again = placed({ stackName: long('aaaa') }).companion.stackName;
    const b = placed({ stackName: long('bbbb') }).companion.stackName;

    // THEN
    expect(a).toHaveLength(128);
    expect(a).toMatch(/^Mailx{108}-[0-9A-F]{8}-MtaSts$/);
    expect(again).toBe(a);
    expect(b).not.toBe(a);
  });

  test('holds the resources of a nested stack beside its top-level stack', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: env('eu-west-1') });
    const nested = new NestedStack(stack, 'Nested');

    // WHEN
    const construct = mtaSts(nested);

    // THEN
    const companion = Stack.of(construct.bucket);
    expect(companion.node.path).toBe('Stack-MtaSts');
    expect(companion.stackName).toBe('Stack-MtaSts');
    expect(stack.dependencies).toEqual([companion]);
  });

  test('fails when a stack of the app already has its name, in any region', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: env('eu-west-1') });
    new Stack(app, 'Other', { stackName: 'Stack-MtaSts', env: env('eu-central-1') });

    // WHEN / THEN
    expect(() => mtaSts(stack)).toThrow([
      'Invalid MtaSts props at Stack/MtaSts (1 problem):',
      '  - the us-east-1 companion stack of stack "Stack", which holds the MTA-STS resources of a stack outside us-east-1, '
      + 'must have a stack name no other stack of the app uses in its account, "Stack-MtaSts", or one deploy would replace the other\'s '
      + 'resources: rename one of the stacks, got: a stack at Other named "Stack-MtaSts" in eu-central-1',
    ].join('\n'));
    expect(app.node.tryFindChild('Stack-MtaSts')).toBeUndefined();
  });

  test('fails at synthesis when a stack added after the construct takes its name', () => {
    // GIVEN
    const { app } = placed();

    // WHEN
    new Stack(app, 'Later', { stackName: 'Stack-MtaSts', env: env('us-east-1') });

    // THEN
    expect(() => app.synth()).toThrow('[Stack-MtaSts] the us-east-1 companion stack of stack "Stack", which holds the MTA-STS resources of a '
      + 'stack outside us-east-1, must have a stack name no other stack of the app uses in its account, "Stack-MtaSts", or one deploy would '
      + 'replace the other\'s resources: rename one of the stacks, got: a stack at Later named "Stack-MtaSts" in us-east-1');
  });

  test('fails when two stacks of one name in two regions of one account would share a companion', () => {
    // GIVEN
    const app = new App();
    mtaSts(new Stack(app, 'Ireland', { stackName: 'Mail', env: env('eu-west-1') }));
    const frankfurt = new Stack(app, 'Frankfurt', { stackName: 'Mail', env: env('eu-central-1') });

    // WHEN / THEN
    expect(() => mtaSts(frankfurt, 'example.org')).toThrow('got: the companion stack of stack "Mail" (Ireland) named "Mail-MtaSts" in us-east-1');
  });

  test('allows stacks of one name in two accounts, each with its own companion', () => {
    // GIVEN
    const app = new App();
    const a = mtaSts(new Stack(app, 'Dev', { stackName: 'Mail', env: env('eu-west-1') }));

    // WHEN
    const b = mtaSts(new Stack(app, 'Prod', { stackName: 'Mail', env: env('eu-west-1', OTHER_ACCOUNT) }), 'example.org');

    // THEN
    expect(Stack.of(a.bucket).stackName).toBe('Mail-MtaSts');
    expect(Stack.of(b.bucket).stackName).toBe('Mail-MtaSts');
    expect(Stack.of(b.bucket).account).toBe(OTHER_ACCOUNT);
    expect(() => app.synth()).not.toThrow();
  });

  test('fails when its construct id is taken beside the stack by a construct this library did not create', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: env('eu-west-1') });
    new Stack(app, 'Stack-MtaSts', { stackName: 'Unrelated', env: env('us-east-1') });

    // WHEN / THEN
    expect(() => mtaSts(stack)).toThrow([
      'Invalid MtaSts props at Stack/MtaSts (1 problem):',
      '  - the us-east-1 companion stack of stack "Stack", which holds the MTA-STS resources of a stack outside us-east-1, must be created '
      + 'with the construct id "Stack-MtaSts" beside it: rename the construct that uses this id or deploy the stack in us-east-1, '
      + 'got: a stack at Stack-MtaSts that this library did not create',
    ].join('\n'));
  });

  test('is shared by MtaSts and MtaStsDomains of one stack', () => {
    // GIVEN
    const { app, stack, companion } = placed();

    // WHEN
    const domains = new MtaStsDomains(stack, 'Domains', { mx: ['mx.example.net'], domains: [{ hostedZone: zoneIn(stack, 'example.net') }] });

    // THEN
    expect(Stack.of(domains.domain(domains.domainNames[0]).bucket)).toBe(companion);
    expect(app.node.children.filter(Stack.isStack).map(s => s.node.id)).toEqual(['Stack', 'Stack-MtaSts']);
  });
});

describe('the companion stack carries over the stack\'s settings', () => {
  test('synthesizes with a DefaultStackSynthesizer of the same qualifier: bootstrap version, deploy role and asset bucket', () => {
    // GIVEN
    const synthesizer = new DefaultStackSynthesizer({ qualifier: 'mail7q' });

    // WHEN
    const { app, stack, companion } = placed({ synthesizer });

    // THEN
    expect(companion.synthesizer).toBeInstanceOf(DefaultStackSynthesizer);
    expect(companion.synthesizer).not.toBe(stack.synthesizer);
    expect(companion.synthesizer.bootstrapQualifier).toBe('mail7q');
    Template.fromStack(companion).templateMatches({
      Parameters: { BootstrapVersion: { Default: '/cdk-bootstrap/mail7q/version' } },
    });
    const assembly = app.synth();
    const artifact = assembly.getStackArtifact(companion.artifactId);
    expect(artifact.assumeRoleArn).toBe(`arn:\${AWS::Partition}:iam::${ACCOUNT}:role/cdk-mail7q-deploy-role-${ACCOUNT}-us-east-1`);
    const manifest = assembly.artifacts.find((a): a is cxapi.AssetManifestArtifact =>
      a instanceof cxapi.AssetManifestArtifact && a.id === `${companion.artifactId}.assets`)!;
    const files = JSON.parse(fs.readFileSync(manifest.file, 'utf8')).files as Record<string, { destinations: Record<string, { bucketName: string }> }>;
    const buckets = Object.values(files).flatMap(file => Object.values(file.destinations).map(d => d.bucketName));
    expect(new Set(buckets)).toEqual(new Set([`cdk-mail7q-assets-${ACCOUNT}-us-east-1`]));
  });

  test('synthesizes with the app\'s default synthesizer when the stack was given none', () => {
    // GIVEN
    const app = new App({ defaultStackSynthesizer: new DefaultStackSynthesizer({ qualifier: 'appwide1' }) });
    const stack = new Stack(app, 'Stack', { env: env('eu-west-1') });

    // WHEN
    const companion = Stack.of(mtaSts(stack).bucket);

    // THEN
    Template.fromStack(companion).templateMatches({ Parameters: { BootstrapVersion: { Default: '/cdk-bootstrap/appwide1/version' } } });
  });

  test('synthesizes with the stack\'s own DefaultStackSynthesizer subclass, bound to the companion as to any stack', () => {
    // GIVEN
    class CorporateSynthesizer extends DefaultStackSynthesizer {
      constructor() {
        super({ qualifier: 'corp1', fileAssetsBucketName: 'corp-assets-${AWS::AccountId}-${AWS::Region}' });
      }
    }

    // WHEN
    const { stack, companion } = placed({ synthesizer: new CorporateSynthesizer() });

    // THEN
    expect(companion.synthesizer).toBeInstanceOf(CorporateSynthesizer);
    expect(companion.synthesizer).not.toBe(stack.synthesizer);
    Template.fromStack(companion).templateMatches({ Parameters: { BootstrapVersion: { Default: '/cdk-bootstrap/corp1/version' } } });
  });

  test('synthesizes with a CliCredentialsStackSynthesizer when the stack has one', () => {
    // GIVEN / WHEN
    const { app, companion } = placed({ synthesizer: new CliCredentialsStackSynthesizer({ qualifier: 'cli5q' }) });

    // THEN
    expect(companion.synthesizer).toBeInstanceOf(CliCredentialsStackSynthesizer);
    expect(artifactOf(app, companion).assumeRoleArn).toBeUndefined();
  });

  test('fails when the stack\'s synthesizer is not reusable, since the companion could not be deployed the same way', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: env('eu-west-1'), synthesizer: new OneStackSynthesizer() });

    // WHEN / THEN
    expect(() => mtaSts(stack)).toThrow([
      'Invalid MtaSts props at Stack/MtaSts (1 problem):',
      '  - the synthesizer of stack "Stack" must be reusable (an IReusableStackSynthesizer such as DefaultStackSynthesizer or '
      + 'CliCredentialsStackSynthesizer), since its us-east-1 companion stack, which holds the MTA-STS resources of a stack outside '
      + 'us-east-1, must be synthesized with the same bootstrap settings: pass a reusable synthesizer or deploy the stack in us-east-1, '
      + 'got: a OneStackSynthesizer',
    ].join('\n'));
  });

  test('builds in place with a synthesizer that is not reusable in us-east-1', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: env('us-east-1'), synthesizer: new OneStackSynthesizer() });

    // WHEN
    const construct = mtaSts(stack);

    // THEN
    expect(Stack.of(construct.bucket)).toBe(stack);
  });

  test('is protected from termination when the stack is, by prop', () => {
    // GIVEN / WHEN
    const { app, companion } = placed({ terminationProtection: true });

    // THEN
    expect(artifactOf(app, companion).terminationProtection).toBe(true);
  });

  test('is protected from termination when the stack is protected after the construct is added', () => {
    // GIVEN
    const { app, stack, companion } = placed();
    expect(companion.terminationProtection).toBe(false);

    // WHEN
    stack.terminationProtection = true;

    // THEN
    expect(artifactOf(app, companion).terminationProtection).toBe(true);
  });

  test('keeps termination protection set on the companion itself', () => {
    // GIVEN
    const { app, companion } = placed({ terminationProtection: true });

    // WHEN
    companion.terminationProtection = false;

    // THEN
    expect(artifactOf(app, companion).terminationProtection).toBe(false);
  });

  test('carries the stack\'s tags prop as stack tags', () => {
    // GIVEN / WHEN
    const { app, companion } = placed({ tags: { CostCenter: 'mail', Owner: 'postmaster' } });

    // THEN
    expect(artifactOf(app, companion).tags).toEqual({ CostCenter: 'mail', Owner: 'postmaster' });
  });

  test('carries tags added with Tags.of(stack), also after the construct, to its resources and stack tags, and honours their removal', () => {
    // GIVEN
    const { app, stack, companion } = placed();

    // WHEN
    Tags.of(stack).add('Team', 'messaging');
    Tags.of(stack).add('OnlyBuckets', 'yes', { includeResourceTypes: ['AWS::S3::Bucket'] });
    Tags.of(app).add('Removed', 'no');
    Tags.of(stack).remove('Removed');

    // THEN
    const template = Template.fromStack(companion);
    template.hasResourceProperties('AWS::S3::Bucket', {
      Tags: Match.arrayWith([{ Key: 'OnlyBuckets', Value: 'yes' }, { Key: 'Team', Value: 'messaging' }]),
    });
    template.hasResourceProperties('AWS::CloudFront::Distribution', { Tags: [{ Key: 'Team', Value: 'messaging' }] });
    expect(artifactOf(app, companion).tags).toEqual({ Team: 'messaging' });
  });

  test('carries the stack\'s permissions boundary to the publisher role', () => {
    // GIVEN / WHEN
    const { companion } = placed({ permissionsBoundary: PermissionsBoundary.fromName('mail-boundary') });

    // THEN
    Template.fromStack(companion).hasResourceProperties('AWS::IAM::Role', {
      PermissionsBoundary: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${ACCOUNT}:policy/mail-boundary`]] },
    });
  });
});
