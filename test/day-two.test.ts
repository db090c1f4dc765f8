/**
 * Day-two deploys ("every add, remove or rename of a domain deploys in one `cdk deploy --all`"):
 * random sequences of domain adds, removes and renames are synthesized with the real constructs,
 * in us-east-1 and in eu-west-1, and every version and every pair of consecutive versions of the
 * app is checked (test/support/cfn-day-two.ts):
 *
 * - no domain that stays changes distribution or certificate, nor do its distribution's Aliases
 *   change (CloudFront would refuse an alias held by another distribution: CNAMEAlreadyExists);
 * - no stack imports anything from another, so no export in use can change ("Some exports have
 *   changed!"): outside us-east-1 everything lives in one companion stack in us-east-1;
 * - each domain's publication depends on its distribution, its alias records and the bucket
 *   policy;
 * - a removed domain's publication is deleted before what serves it.
 *
 * What the deploys of these templates do is replayed by replay.test.ts.
 *
 * Sequences are seeded (FC_SEED overrides) and bounded: per region, 10 sequences of up to
 * 3 domain changes from up to 12 domains (20 in all), and 5 sequences of MtaSts renames.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as fc from 'fast-check';
import { MtaSts, MtaStsDomains, TlsRptCollector } from '../src';
import { AppTemplates, crossStackProblems, orderingProblems, removalProblems, stableDomainProblems } from './support/cfn-day-two';
import { CfnTemplate } from './support/cfn-replay';

const ACCOUNT = '111111111111';
const REGIONS = ['us-east-1', 'eu-west-1'];
const SEED = Number(process.env.FC_SEED ?? 20261201);
/** Names the sequences draw from. */
const POOL = Array.from({ length: 30 }, (_, i) => `brand${i}.example`);

/** One cloud assembly directory for every app of this file, removed at the end. */
const OUTDIR = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-mta-sts-day-two-'));
afterAll(() => fs.rmSync(OUTDIR, { recursive: true, force: true }));
/** Synthesizing a dozen domains takes about half a second; a sequence synthesizes up to 4 apps. */
const SEQUENCE_TIMEOUT_MS = 180_000;

function templatesOf(app: App): AppTemplates {
  return Object.fromEntries(app.synth().stacks.map(s => [s.stackName, s.template as CfnTemplate]));
}

function newStack(region: string): { app: App; stack: Stack } {
  const app = new App({ outdir: OUTDIR });
  const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region } });
  return { app, stack };
}

const cache = new Map<string, AppTemplates>();

/** An app with one `MtaStsDomains` over `names`, each in its own zone. Cached: synthesis is the slow part. */
function domainsApp(region: string, names: readonly string[]): AppTemplates {
  const key = `domains|${region}|${[...names].sort().join(',')}`;
  if (!cache.has(key)) {
    const { app, stack } = newStack(region);
    new MtaStsDomains(stack, 'MtaSts', {
      mx: ['*.mail.example.net'],
      tlsRpt: { rua: ['mailto:tls@example.net'] },
      domains: names.map(name => ({
        hostedZone: route53.HostedZone.fromHostedZoneAttributes(stack, `Zone-${name}`, { hostedZoneId: `Z${name.replace(/\W/g, '').toUpperCase()}`, zoneName: name }),
      })),
    });
    cache.set(key, templatesOf(app));
  }
  return cache.get(key)!;
}

/** An app with two `MtaSts` constructs, `First` and `Second`, in the example.com zone. */
function singlesApp(region: string, first: string, second: string): AppTemplates {
  const key = `singles|${region}|${first}|${second}`;
  if (!cache.has(key)) {
    const { app, stack } = newStack(region);
    const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789ABCDEFGHIJ', zoneName: 'example.com' });
    for (const [id, domainName] of [['First', first], ['Second', second]]) {
      new MtaSts(stack, id, { hostedZone, domainName, mx: ['mx1.example.com'], tlsRpt: { rua: ['mailto:tls@example.com'] } });
    }
    cache.set(key, templatesOf(app));
  }
  return cache.get(key)!;
}

/** Every day-two problem between two consecutive versions of an app. */
function dayTwoProblems(before: AppTemplates, after: AppTemplates): string[] {
  return [
    ...crossStackProblems(after),
    ...stableDomainProblems(before, after),
    ...removalProblems(before, after),
    ...orderingProblems(after),
  ];
}

/** Checks each consecutive pair of versions; throws with the step and its problems. */
function expectUneventful(versions: Array<{ description: string; templates: AppTemplates }>): void {
  for (let i = 1; i < versions.length; i++) {
    const problems = dayTwoProblems(versions[i - 1].templates, versions[i].templates);
    if (problems.length > 0) {
      throw new Error([
        `step ${i}: ${versions[i - 1].description} -> ${versions[i].description}`,
        ...[...new Set(problems)].slice(0, 12).map(p => `  - ${p}`),
        ...(new Set(problems).size > 12 ? [`  - ... and ${new Set(problems).size - 12} more`] : []),
      ].join('\n'));
    }
  }
}

type Change = { kind: 'add'; pick: number } | { kind: 'remove'; pick: number } | { kind: 'rename'; pick: number; to: number };

const changeArb: fc.Arbitrary<Change> = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('rename' as const), pick: fc.nat(), to: fc.nat() }),
);

/** Applies a change to a domain list; picks index the current list or the unused names. */
function applyChange(names: string[], change: Change): { names: string[]; description: string } {
  const unused = POOL.filter(n => !names.includes(n));
  if (change.kind === 'add' || names.length === 1) {
    const added = unused[change.pick % unused.length];
    return { names: [...names, added], description: `add ${added}` };
  }
  const victim = names[change.pick % names.length];
  if (change.kind === 'remove') {
    return { names: names.filter(n => n !== victim), description: `remove ${victim}` };
  }
  const to = unused[change.to % unused.length];
  return { names: names.map(n => (n === victim ? to : n)), description: `rename ${victim} to ${to}` };
}

describe.each(REGIONS)('day-two deploys in %s', (region) => {
  // Different sequences in each region.
  const seed = SEED + REGIONS.indexOf(region);

  test('adding, removing and renaming MtaStsDomains domains leaves every other domain alone and imports nothing across stacks', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 12 }), fc.array(changeArb, { minLength: 1, maxLength: 3 }),
      (initialCount, changes) => {
        let names = POOL.slice(0, initialCount);
        const versions = [{ description: `${names.length} domains`, templates: domainsApp(region, names) }];
        for (const change of changes) {
          const next = applyChange(names, change);
          names = next.names;
          versions.push({ description: `${next.description} (${names.length} domains)`, templates: domainsApp(region, names) });
        }
        expectUneventful(versions);
      },
    ), { seed, numRuns: 10, endOnFailure: true });
  }, SEQUENCE_TIMEOUT_MS);

  test('renaming one of two MtaSts domains leaves the other domain alone and imports nothing across stacks', () => {
    const names = Array.from({ length: 6 }, (_, i) => `d${i}.example.com`);
    fc.assert(fc.property(
      fc.array(fc.record({ second: fc.boolean(), to: fc.nat() }), { minLength: 1, maxLength: 3 }),
      (renames) => {
        let pair = [names[0], names[1]];
        const versions = [{ description: `First ${pair[0]}, Second ${pair[1]}`, templates: singlesApp(region, pair[0], pair[1]) }];
        for (const { second, to } of renames) {
          const unused = names.filter(n => !pair.includes(n));
          pair = second ? [pair[0], unused[to % unused.length]] : [unused[to % unused.length], pair[1]];
          versions.push({ description: `First ${pair[0]}, Second ${pair[1]}`, templates: singlesApp(region, pair[0], pair[1]) });
        }
        expectUneventful(versions);
      },
    ), { seed, numRuns: 5, endOnFailure: true });
  }, SEQUENCE_TIMEOUT_MS);

  test('growing from 10 to 11 MtaStsDomains domains moves no existing domain', () => {
    expect(stableDomainProblems(domainsApp(region, POOL.slice(0, 10)), domainsApp(region, POOL.slice(0, 11)))).toEqual([]);
  });

  test('every publication waits for its distribution, its alias records and the bucket policy', () => {
    expect(orderingProblems(domainsApp(region, POOL.slice(0, 3)))).toEqual([]);
    expect(orderingProblems(singlesApp(region, 'd0.example.com', 'd1.example.com'))).toEqual([]);
  });

  test('a removed domain stops being announced before what serves it changes or goes', () => {
    expect(removalProblems(domainsApp(region, POOL.slice(0, 4)), domainsApp(region, POOL.slice(0, 3)))).toEqual([]);
    expect(removalProblems(singlesApp(region, 'd0.example.com', 'd1.example.com'), singlesApp(region, 'd0.example.com', 'd2.example.com'))).toEqual([]);
  });
});

test('an app outside us-east-1 with a TLS-RPT collector imports nothing across stacks', () => {
  // GIVEN: the collector in the user's stack, the MTA-STS resources in the companion stack
  const { app, stack } = newStack('eu-west-1');
  const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789ABCDEFGHIJ', zoneName: 'example.com' });
  const collector = new TlsRptCollector(stack, 'Collector', { hostedZone });
  new MtaSts(stack, 'MtaSts', { hostedZone, mx: ['mx1.example.com'], tlsRptCollector: collector });

  // WHEN
  const templates = templatesOf(app);

  // THEN
  expect(Object.keys(templates).sort()).toEqual(['Stack', expect.stringMatching(/^Stack-?MtaSts/)].sort());
  expect(crossStackProblems(templates)).toEqual([]);
});

/**
 * A hand-made app: a bucket and its policy, and per domain A and AAAA alias records and a
 * publication; either one certificate and distribution per domain, or one shared by all
 * (`shared`).
 */
function handMade(domains: string[], options: { shared?: boolean; publicationWaits?: boolean } = {}): AppTemplates {
  const id = (d: string): string => d.replace(/\W/g, '');
  const resources: Record<string, any> = {
    Bucket: { Type: 'AWS::S3::Bucket', Properties: {} },
    BucketPolicy: { Type: 'AWS::S3::BucketPolicy', Properties: { Bucket: { Ref: 'Bucket' }, PolicyDocument: {} } },
  };
  const endpoint = (suffix: string, names: string[]): void => {
    resources[`Cert${suffix}`] = { Type: 'AWS::CertificateManager::Certificate', Properties: { DomainName: names[0], SubjectAlternativeNames: names.slice(1) } };
    resources[`Dist${suffix}`] = {
      Type: 'AWS::CloudFront::Distribution',
      Properties: { DistributionConfig: { Aliases: names, ViewerCertificate: { AcmCertificateArn: { Ref: `Cert${suffix}` } }, Origins: [{ DomainName: { 'Fn::GetAtt': ['Bucket', 'RegionalDomainName'] } }] } },
    };
  };
  if (options.shared) {
    endpoint('', domains.map(d => `mta-sts.${d}`));
  }
  for (const d of domains) {
    if (!options.shared) {
      endpoint(id(d), [`mta-sts.${d}`]);
    }
    const dist = options.shared ? 'Dist' : `Dist${id(d)}`;
    for (const type of ['A', 'AAAA']) {
      resources[`Alias${type}${id(d)}`] = { Type: 'AWS::Route53::RecordSet', Properties: { Name: `mta-sts.${d}.`, Type: type, AliasTarget: { DNSName: { 'Fn::GetAtt': [dist, 'DomainName'] } } } };
    }
    resources[`Pub${id(d)}`] = {
      Type: 'Custom::MtaStsPolicyPublication',
      DependsOn: options.publicationWaits === false ? [`AliasA${id(d)}`] : [`AliasA${id(d)}`, `AliasAAAA${id(d)}`, dist, 'BucketPolicy'],
      Properties: { DomainName: d, BucketName: { Ref: 'Bucket' } },
    };
  }
  return { Stack: { Resources: resources } };
}

describe('the day-two checks (self-test)', () => {
  test('accept a design with one distribution and certificate per domain', () => {
    const two = handMade(['a.example', 'b.example']);
    const three = handMade(['a.example', 'b.example', 'c.example']);
    const problems = [...stableDomainProblems(two, three), ...removalProblems(three, two), ...orderingProblems(three), ...crossStackProblems(three)];
    expect(problems).toEqual([]);
  });

  test('see a staying domain whose shared distribution and certificate change', () => {
    expect(stableDomainProblems(handMade(['a.example'], { shared: true }), handMade(['a.example', 'b.example'], { shared: true }))).toEqual([
      'a.example: the Aliases of its distribution Stack/Dist change from [mta-sts.a.example] to [mta-sts.a.example,mta-sts.b.example]',
      'a.example: its certificate Stack/Cert is replaced, its names change from [mta-sts.a.example] to [mta-sts.a.example,mta-sts.b.example]',
    ]);
  });

  test('see a removed domain whose endpoint changes before its publication goes', () => {
    expect(removalProblems(handMade(['a.example', 'b.example'], { shared: true }), handMade(['a.example'], { shared: true }))).toEqual([
      expect.stringMatching(/^b\.example: its distribution Stack\/Dist changes in the update phase, while its publication Stack\/Pubbexample is deleted only in cleanup/),
    ]);
  });

  test('see a publication that does not wait for what serves its domain', () => {
    // (It waits for the distribution through the A record.)
    expect(orderingProblems(handMade(['a.example'], { publicationWaits: false }))).toEqual([
      'a.example: its publication Stack/Pubaexample does not depend on the alias record Stack/AliasAAAAaexample',
      'a.example: its publication Stack/Pubaexample does not depend on the bucket policy Stack/BucketPolicy',
    ]);
  });

  test('see every way a stack takes a value from another', () => {
    // GIVEN: a cross-region writer and reader as aws-cdk-lib synthesizes them, and a same-region export and import
    const name = '/cdk/exports/Stack/CertArn';
    const app: AppTemplates = {
      Certs: {
        Resources: { Writer: { Type: 'Custom::CrossRegionExportWriter', Properties: { WriterProps: { exports: { [name]: { Ref: 'Cert' } } } } } },
        Outputs: { CertArn: { Value: { Ref: 'Cert' }, Export: { Name: 'CertArn' } } },
      },
      Stack: {
        Resources: {
          Reader: { Type: 'Custom::CrossRegionExportReader', Properties: { ReaderProps: { imports: { [name]: `{{resolve:ssm:${name}}}` } } } },
          Dist: { Type: 'AWS::CloudFront::Distribution', Properties: { DistributionConfig: { ViewerCertificate: { AcmCertificateArn: { 'Fn::ImportValue': 'CertArn' } } } } },
        },
      },
    };

    // THEN
    expect(crossStackProblems(app)).toEqual([
      'Certs/Writer is a cross-region export writer',
      'Certs exports its output CertArn',
      'Stack/Reader is a cross-region export reader',
      'Stack reads the cross-region export /cdk/exports/Stack/CertArn',
      'Stack imports a value of another stack (Fn::ImportValue)',
    ]);
  });
});
