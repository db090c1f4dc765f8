/**
 * Day-two deploys at scale: one MtaStsDomains with 1,000 domains in 25 shards, then seeded random
 * steps of domain adds, removes, renames and policy changes (SCALE_SEED overrides the seed). For
 * every step, between the templates before and after (test/support/cfn-day-two.ts):
 *
 * - no domain that stays changes stack, distribution or certificate, nor its distribution's
 *   Aliases (so no CNAMEAlreadyExists), and no stack imports or exports anything (so no export
 *   can change);
 * - the only stacks whose templates change are the shards of the domains that changed;
 * - publications depend on what serves them, and a removed domain's publication goes first;
 * - the deploys of the changed shards, replayed against moto with the packaged publisher
 *   (test/support/cfn-replay.ts), keep the replay's invariants: no `_mta-sts` record announces
 *   a policy that is not served; for one changed shard per step, also with a failure (and the
 *   rollback) after each update step. replay.test.ts replays every fault on smaller apps.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { MtaSts, MtaStsDomainOptions, MtaStsDomains, MtaStsMode } from '../src';
import { FaultProxy, startFaultProxy } from './support/aws-faults';
import { AppTemplates, crossStackProblems, domainResources, orderingProblems, removalProblems, stableDomainProblems } from './support/cfn-day-two';
import { CfnTemplate, ReplayEnvironment, expectInvariantsKept, replayScenario } from './support/cfn-replay';
import { Moto, motoAvailable, MOTO_MISSING, startMoto } from './support/moto';
import { findFunction, packagedFunctions } from './support/packaged';
import { motoCloud } from './support/replay-cloud';
import { packagedPublisher } from './support/replay-publisher';

const ACCOUNT = '111111111111';
const DOMAINS = 1000;
const SHARDS = 25;
const STEPS = 3;
const SEED = Number(process.env.SCALE_SEED ?? 20261207);
const OUTDIR = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-mta-sts-day-two-scale-'));
/** A 1,000-domain synthesis takes about 10 s on these machines, more under load; each step replays a few shards. */
const STEP_TIMEOUT_MS = 600_000;

const MODES = [MtaStsMode.TESTING, MtaStsMode.ENFORCE];
const zoneIdOf = (name: string): string => `Z${name.replace(/\W/g, '').toUpperCase()}`;

/** A domain of the app: its name and its own MX host (so each policy is distinct). */
interface Domain {
  readonly name: string;
  readonly mx: string;
  readonly mode: MtaStsMode;
}

/** A seeded sequence of numbers in [0, 1): SHA-256 of the seed and a counter, so a failing run can be replayed from its seed. */
function generator(seed: number): () => number {
  let counter = 0;
  return () => createHash('sha256').update(`${seed}:${counter++}`, 'utf8').digest().readUInt32BE(0) / 2 ** 32;
}

let apps = 0;
/** The app's templates and, per domain, the name of the stack holding it. */
function synth(domains: readonly Domain[]): { templates: AppTemplates; stackOf: Map<string, string> } {
  const app = new App({ outdir: path.join(OUTDIR, `app-${++apps}`) });
  const stack = new Stack(app, 'Mail', { env: { account: ACCOUNT, region: 'eu-west-1' } });
  const construct = new MtaStsDomains(stack, 'Domains', {
    shards: SHARDS,
    tlsRpt: { rua: ['mailto:tls-reports@example.net'] },
    domains: domains.map((d): MtaStsDomainOptions => ({
      hostedZone: route53.HostedZone.fromHostedZoneAttributes(stack, `Zone-${d.name}`, { hostedZoneId: zoneIdOf(d.name), zoneName: d.name }),
      mx: [d.mx],
      mode: d.mode,
    })),
  });
  const assembly = app.synth();
  const templates = Object.fromEntries(assembly.stacks.map(s => [s.stackName, s.template as CfnTemplate]));
  fs.rmSync(assembly.directory, { recursive: true, force: true });
  return { templates, stackOf: new Map(construct.domainNames.map(name => [name, Stack.of(construct.domain(name)).stackName])) };
}

/** One random step: some domains removed, renamed, added, and some policies changed. */
function step(domains: readonly Domain[], random: () => number, serial: number): { next: Domain[]; changed: Set<string> } {
  const pick = (n: number) => Math.floor(random() * n);
  const next = [...domains];
  const changed = new Set<string>();
  const count = () => 1 + pick(2);
  for (let i = count(); i > 0; i--) {
    changed.add(next.splice(pick(next.length), 1)[0].name);
  }
  for (let i = count(); i > 0; i--) {
    const at = pick(next.length);
    const name = `renamed${serial}-${i}.example`;
    changed.add(next[at].name).add(name);
    next[at] = { ...next[at], name, mx: `mx.${name}` };
  }
  for (let i = count(); i > 0; i--) {
    const name = `added${serial}-${i}.example`;
    changed.add(name);
    next.push({ name, mx: `mx.${name}`, mode: MODES[pick(2)] });
  }
  for (let i = count(); i > 0; i--) {
    const at = pick(next.length);
    changed.add(next[at].name);
    next[at] = { ...next[at], mx: `mx2.${next[at].name}` };
  }
  return { next, changed };
}

/**
 * A shard's template without the resources of `unchanged` domains, which are identical before and
 * after (asserted above): CloudFormation leaves them alone, so replaying the changed domains'
 * deploy without them replays the same operations on the changed domains.
 */
function withoutDomains(shard: string, template: CfnTemplate, unchanged: readonly string[]): CfnTemplate {
  const drop = new Set<string>();
  for (const name of unchanged) {
    const found = domainResources({ [shard]: template }, name);
    [found.distribution, found.certificate, found.publication, ...found.aliasRecords].forEach(ref => ref && drop.add(ref.logicalId));
  }
  const tlsRptNames = new Set(unchanged.map(name => `_smtp._tls.${name}.`));
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
    if (resource.Type === 'AWS::Route53::RecordSet' && tlsRptNames.has(String(resource.Properties?.Name).toLowerCase())) {
      drop.add(logicalId);
    }
  }
  expect(drop.size).toBe(unchanged.length * 6);
  return { ...template, Resources: Object.fromEntries(Object.entries(template.Resources ?? {}).filter(([logicalId]) => !drop.has(logicalId))) };
}

const describeWithMoto = motoAvailable() ? describe : describe.skip;
if (!motoAvailable()) {
  test.todo(MOTO_MISSING);
}

describeWithMoto('1,000 domains in 25 shards through seeded adds, removes, renames and policy changes', () => {
  let moto: Moto;
  let proxy: FaultProxy;
  let packaged: ReplayEnvironment;

  beforeAll(async () => {
    moto = await startMoto();
    proxy = await startFaultProxy(moto.endpoint);
    // The publisher function of one synthesized app: the same bundle serves every shard.
    const app = new App({ outdir: path.join(OUTDIR, 'publisher') });
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    new MtaSts(stack, 'MtaSts', {
      hostedZone: route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'ZEXAMPLE', zoneName: 'example.com' }),
      mx: ['mx1.example.com'],
    });
    const fn = findFunction(packagedFunctions(app.synth().directory, 'Stack'), 'MtaStsPolicyPublisherCustomResourceProviderHandler');
    packaged = { cloud: motoCloud(moto.endpoint), publisher: packagedPublisher({ fn, proxy }) };
  }, 120_000);

  afterAll(async () => {
    await (packaged?.publisher as ReturnType<typeof packagedPublisher> | undefined)?.stop();
    await proxy?.stop();
    await moto?.stop();
    fs.rmSync(OUTDIR, { recursive: true, force: true });
  });

  const random = generator(SEED);
  let domains: Domain[] = Array.from({ length: DOMAINS }, (_, i) => ({ name: `brand${i}.example`, mx: `mx.brand${i}.example`, mode: MODES[i % 2] }));
  let before: ReturnType<typeof synth>;

  test('the first version: every domain placed, no stack over its limits, nothing imported', () => {
    before = synth(domains);
    expect(before.stackOf.size).toBe(DOMAINS);
    expect(Object.keys(before.templates).sort()).toEqual(['Mail', ...Array.from({ length: SHARDS }, (_, i) => `Mail-Domains-Shard${i}`)].sort());
    for (const [name, template] of Object.entries(before.templates)) {
      expect([name, Object.keys(template.Resources ?? {}).length <= 500]).toEqual([name, true]);
      expect([name, Buffer.byteLength(JSON.stringify(template)) < 1_000_000]).toEqual([name, true]);
    }
    expect(crossStackProblems(before.templates)).toEqual([]);
  }, STEP_TIMEOUT_MS);

  for (let serial = 1; serial <= STEPS; serial++) {
    test(`step ${serial} (seed ${SEED}): only the changed domains' shards change, nothing moves, and their deploys keep every promise`, async () => {
      // GIVEN
      const { next, changed } = step(domains, random, serial);

      // WHEN
      const after = synth(next);

      // THEN: no domain that stays moves, and no stack imports or exports anything
      expect(stableDomainProblems(before.templates, after.templates)).toEqual([]);
      expect(removalProblems(before.templates, after.templates)).toEqual([]);
      expect(crossStackProblems(after.templates)).toEqual([]);
      for (const template of Object.values(after.templates)) {
        expect(Object.values(template.Outputs ?? {}).filter(output => output.Export !== undefined)).toEqual([]);
      }
      for (const [name, stack] of after.stackOf) {
        if (before.stackOf.has(name)) {
          expect([name, stack]).toEqual([name, before.stackOf.get(name)]);
        }
      }
      // Only the shards of changed domains change, each only in that domain's resources.
      const changedShards = new Set([...changed].flatMap(name => [before.stackOf.get(name), after.stackOf.get(name)])
        .filter((s): s is string => s !== undefined));
      const differing = Object.keys(after.templates).filter(name => JSON.stringify(after.templates[name]) !== JSON.stringify(before.templates[name]));
      expect(differing.sort()).toEqual([...changedShards].sort());
      for (const shard of changedShards) {
        const shardApp = (app: AppTemplates) => ({ [shard]: app[shard] });
        expect(orderingProblems(shardApp(after.templates))).toEqual([]);
        for (const name of [...after.stackOf.keys()].filter(n => after.stackOf.get(n) === shard && !changed.has(n))) {
          const was = domainResources(shardApp(before.templates), name);
          const is = domainResources(shardApp(after.templates), name);
          for (const ref of [was.distribution, was.certificate, was.publication, ...was.aliasRecords]) {
            expect(after.templates[shard].Resources?.[ref!.logicalId]).toEqual(before.templates[shard].Resources?.[ref!.logicalId]);
          }
          expect(is.publication).toEqual(was.publication);
        }
      }

      // THEN: each changed shard's deploy, replayed against moto, keeps the invariants, also with a
      // failure (and its rollback) after each update step.
      for (const shard of [...changedShards].sort()) {
        const inShard = (app: ReturnType<typeof synth>) => [...app.stackOf].filter(([, s]) => s === shard).map(([name]) => name);
        const unchanged = inShard(after).filter(name => !changed.has(name));
        const replayed = [...new Set([...inShard(before), ...inShard(after)])].filter(name => changed.has(name));
        const outcome = await replayScenario(packaged, {
          zones: replayed.map(name => ({ id: zoneIdOf(name), name })),
          steps: [
            { label: `${shard} before step ${serial}`, deploy: withoutDomains(shard, before.templates[shard], unchanged), variants: false },
            { label: `${shard} after step ${serial}`, deploy: withoutDomains(shard, after.templates[shard], unchanged) },
          ],
        }, { orders: ['template'] });
        expectInvariantsKept(outcome);
      }
      domains = next;
      before = after;
    }, STEP_TIMEOUT_MS);
  }
});
