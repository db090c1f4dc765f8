/**
 * Benchmark for cdk-mta-sts (not a test: it prints figures and never fails on them, but it
 * exits non-zero when a publication of part 4, or of part 5 at concurrency 1 or 5, fails, or
 * when moto is missing).
 *
 *   npx ts-node --project test/tsconfig.json bench/bench.ts
 *
 * Optional: BENCH_PARTS (e.g. `3,5`) runs only some parts; BENCH_REPS / BENCH_WARMUP change the
 * repetitions per domain count (defaults 7 and 2), BENCH_PAIRS / BENCH_PAIR_WARMUP those of the
 * single-domain comparison (40, 10); the others are named with their parts below.
 * No garbage collection is forced between runs: a forced full GC flushes V8's compiled code
 * and inline caches, and made every run 2-3x slower and less like a real `cdk synth`.
 *
 * Part 1: MtaStsDomains with 1, 10, 50 and 82 policy domains in one stack, each in its own
 * imported hosted zone and with its own policy (distinct MX host per domain, modes cycling
 * testing / enforce / none), and with TLS-RPT. Then the most domains one stack can hold (the
 * construct refuses more than fit CloudFormation's 500 resources), with and without TLS-RPT. Reports the median
 * synthesis time (new App + stack + construct + app.synth()), the CloudFormation resource
 * count, Lambda functions, the bytes of the file assets the stack's asset manifest references
 * (the template's own entry excluded; it is counted separately) and the template's bytes.
 *
 * Part 2: one domain, the MtaSts construct against a hand-written aws-cdk-lib stack with the
 * same resources (bench/handwritten.ts), interleaved, and the ratio of the median times.
 *
 * Part 3 (bench/synth-at-scale.ts): MtaStsDomains with 100, 500 and 1,000 domains
 * (BENCH_SCALE_DOMAINS) as in part 1, with `shards` = ceil(domains / 40), each count in a fresh
 * process: a cold synthesis and BENCH_SCALE_REPS (3) more, peak memory, stacks, resources, the
 * largest template against CloudFormation's 1 MB and the fullest stack against its 500 resources.
 *
 * Part 4: 100 publications at once (100 domains in one hosted zone), run as packaged (the
 * publisher's asset from cdk.out through aws-cdk-lib's entrypoint, test/support/publisher-world.ts)
 * against moto on loopback, behind the fault proxy with Route 53 throttled to 5 requests a second
 * and every change answered PENDING at first, as Route 53 does. Reports how many succeeded, the
 * median and slowest publication in the function's time, and how many requests were throttled.
 * BENCH_TIME_SCALE (default 5) sets how much faster the functions' timers run. Needs moto
 * (`pip install "moto[server]"`).
 *
 * Part 5 (bench/publish-at-scale.ts): 1,000 publications (BENCH_SCALE_PUBLICATIONS) in 25 shard
 * stacks as `cdk deploy --all --concurrency N` runs them, for N = 1, 5 and 25
 * (BENCH_SCALE_CONCURRENCY), all stacks sharing the account's 5 requests a second of Route 53;
 * BENCH_SCALE_TIME_SCALE sets the time scale (default 10, and 4 above 5 stacks at once). It says
 * whether moto and the proxy kept up. Concurrency 25 is the stress case: its failures are
 * reported, not counted in the exit code.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { addHandwrittenMtaSts } from './handwritten';
import { publicationsAtScale } from './publish-at-scale';
import { synthesisAtScale } from './synth-at-scale';
import { median, positiveInt, positiveInts, table } from './util';
import { MtaSts, MtaStsDomains, MtaStsMode } from '../src';
import { FaultProxy, startFaultProxy } from '../test/support/aws-faults';
import { MOTO_MISSING, motoAvailable } from '../test/support/moto';
import { Invocation } from '../test/support/packaged';
import { PublisherWorld, policyText, publisherWorld } from '../test/support/publisher-world';

const ENV = { account: '111111111111', region: 'us-east-1' };
const STACK_NAME = 'MtaStsBench';
const MX = ['*.mail.example.net'];
const TLS_RPT = { rua: ['mailto:tls@example.net'] };
const MODES = [MtaStsMode.TESTING, MtaStsMode.ENFORCE, MtaStsMode.NONE];
const DOMAIN_COUNTS = [1, 10, 50, 82];
const REPS = positiveInt(process.env.BENCH_REPS, 7);
const WARMUP = positiveInt(process.env.BENCH_WARMUP, 2);
/**
 * The single-domain comparison is cheap (tens of ms a run) and noisier, so it takes more
 * warm-up pairs (the JIT needs a few dozen synths to settle) and more timed pairs.
 */
const PAIR_WARMUP = positiveInt(process.env.BENCH_PAIR_WARMUP, 10);
const PAIRS = positiveInt(process.env.BENCH_PAIRS, 40);

const TEMP_ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-mta-sts-bench-'));

// This process's own SDK clients (publisher-world's) warn that this Node.js is older than the
// SDK's next minimum; the warning says nothing about the figures.
const emitWarning = process.emitWarning;
process.emitWarning = function filtered(this: unknown, warning: string | Error, ...rest: any[]) {
  const message = typeof warning === 'string' ? warning : warning?.message;
  if (typeof message === 'string' && message.startsWith('NodeVersionSupportWarning')) {
    return;
  }
  return (emitWarning as (...args: any[]) => void).call(process, warning, ...rest);
} as typeof process.emitWarning;

/** Part 4: publications at once, and Route 53's limit (requests a second, per account). */
const PUBLICATIONS = 100;
const ROUTE53_PER_SECOND = 5;
/**
 * How much faster the functions' timers run (test/support/packaged.ts InvokeOptions.timeScale).
 * At 5 and at 10 the figures agree; from about 20 the real overhead, scaled, starts to show.
 */
const PUBLICATION_TIME_SCALE = positiveInt(process.env.BENCH_TIME_SCALE, 5);

/** Which parts run (BENCH_PARTS=3,5): all by default. */
const PARTS = positiveInts(process.env.BENCH_PARTS, [1, 2, 3, 4, 5]);

/** Part 3: domain counts synthesized with shards, and the timed runs after the cold one. */
const SCALE_DOMAIN_COUNTS = positiveInts(process.env.BENCH_SCALE_DOMAINS, [100, 500, 1000]);
const SCALE_REPS = positiveInt(process.env.BENCH_SCALE_REPS, 3);

/** Part 5: 1,000 publications in 25 stacks (about 40 each) over 10 hosted zones. */
const SCALE_PUBLICATIONS = positiveInt(process.env.BENCH_SCALE_PUBLICATIONS, 1000);
const SCALE_STACKS = Math.ceil(SCALE_PUBLICATIONS / 40);
const SCALE_ZONES = 10;
/** `cdk deploy --concurrency`: 1 (cdk's default), 5, and every stack at once. */
const SCALE_CONCURRENCIES = positiveInts(process.env.BENCH_SCALE_CONCURRENCY, [1, 5, SCALE_STACKS]);
/** The configurations whose failures fail the bench: cdk's default and a moderate concurrency; all at once is the stress case. */
const GATING_CONCURRENCIES = [1, 5];
/**
 * Part 5's time scale (BENCH_SCALE_TIME_SCALE sets one for all): 10 up to 5 stacks at once, to
 * keep 15 minutes of deploys under 2 real minutes; 4 above, where 1,000 functions retrying at
 * once would otherwise saturate this machine (the bench says when moto or the proxy fell behind).
 */
const SCALE_TIME_SCALE = (concurrency: number) => positiveInt(process.env.BENCH_SCALE_TIME_SCALE, concurrency <= 5 ? 10 : 4);

interface Metrics {
  readonly resources: number;
  readonly lambdas: number;
  readonly assetBytes: number;
  readonly templateBytes: number;
  readonly types: Record<string, number>;
}

interface Run {
  readonly ms: number;
  readonly metrics: Metrics;
}

type Builder = (stack: Stack) => void;

/** Builds N imported zones and one MtaStsDomains over them. */
function multiDomain(count: number): Builder {
  return (stack) => {
    const domains = Array.from({ length: count }, (_, i) => ({
      hostedZone: route53.HostedZone.fromHostedZoneAttributes(stack, `Zone${i}`, {
        hostedZoneId: `ZBENCH${String(i).padStart(8, '0')}`,
        zoneName: `brand${i}.example`,
      }),
      mode: MODES[i % MODES.length],
      // A distinct policy per domain: the worst case for anything shared between policies.
      mx: [`mx.brand${i}.example`],
    }));
    new MtaStsDomains(stack, 'MtaSts', { mx: MX, tlsRpt: TLS_RPT, domains });
  };
}

/** One domain with the single-domain MtaSts construct. */
const singleConstruct: Builder = (stack) => {
  const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', {
    hostedZoneId: 'ZBENCH00000000',
    zoneName: 'brand0.example',
  });
  new MtaSts(stack, 'MtaSts', { hostedZone, mode: MtaStsMode.TESTING, mx: MX, tlsRpt: TLS_RPT });
};

/** The same domain, hand-written with aws-cdk-lib L2 constructs. */
const singleHandwritten: Builder = (stack) => {
  addHandwrittenMtaSts(stack, 'MtaSts', {
    hostedZoneId: 'ZBENCH00000000',
    domainName: 'brand0.example',
    mode: 'testing',
    mx: MX,
    rua: TLS_RPT.rua,
  });
};

/** Times one synthesis into a fresh directory, then measures what it wrote and removes it. */
function synthOnce(build: Builder): Run {
  const outdir = fs.mkdtempSync(path.join(TEMP_ROOT, 'cdk.out-'));
  try {
    const start = process.hrtime.bigint();
    const app = new App({ outdir });
    const stack = new Stack(app, STACK_NAME, { env: ENV });
    build(stack);
    const assembly = app.synth();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    return { ms, metrics: measure(assembly, outdir) };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

function measure(assembly: cxapi.CloudAssembly, outdir: string): Metrics {
  const stack = assembly.getStackByName(STACK_NAME);
  const resources = Object.values<{ Type: string }>(stack.template.Resources ?? {});
  const types: Record<string, number> = {};
  for (const resource of resources) {
    types[resource.Type] = (types[resource.Type] ?? 0) + 1;
  }
  const templateBytes = fs.statSync(stack.templateFullPath).size;

  // The stack's *.assets.json lists every file asset it publishes (the template included).
  let assetBytes = 0;
  for (const manifestArtifact of stack.dependencies.filter(cxapi.AssetManifestArtifact.isAssetManifestArtifact)) {
    const manifest = JSON.parse(fs.readFileSync(manifestArtifact.file, 'utf8')) as {
      files?: Record<string, { source: { path?: string } }>;
      dockerImages?: Record<string, { source: { directory?: string } }>;
    };
    const sources = [
      ...Object.values(manifest.files ?? {}).map(f => f.source.path),
      ...Object.values(manifest.dockerImages ?? {}).map(d => d.source.directory),
    ];
    for (const source of sources) {
      if (source === undefined || source === stack.templateFile) {
        continue;
      }
      assetBytes += sizeOf(path.resolve(outdir, source));
    }
  }
  return {
    resources: resources.length,
    lambdas: types['AWS::Lambda::Function'] ?? 0,
    assetBytes,
    templateBytes,
    types,
  };
}

/** The largest number of distinct-policy domains MtaStsDomains accepts in one stack. */
function maxDomainsPerStack(tlsRpt: boolean): number {
  let fits = 0;
  for (let count = 1; count <= 200; count++) {
    const app = new App();
    const stack = new Stack(app, STACK_NAME, { env: ENV });
    const domains = Array.from({ length: count }, (_, i) => ({
      hostedZone: route53.HostedZone.fromHostedZoneAttributes(stack, `Zone${i}`, { hostedZoneId: `ZBENCH${String(i).padStart(8, '0')}`, zoneName: `brand${i}.example` }),
      mx: [`mx.brand${i}.example`],
    }));
    try {
      new MtaStsDomains(stack, 'MtaSts', { mx: MX, tlsRpt: tlsRpt ? TLS_RPT : undefined, domains });
    } catch {
      break;
    }
    const resources = Object.keys(app.synth().getStackByName(STACK_NAME).template.Resources).length;
    if (resources > 500) {
      throw new Error(`MtaStsDomains accepted ${count} domains but synthesized ${resources} resources, over CloudFormation's 500`);
    }
    fits = count;
  }
  return fits;
}

/** Bytes of a file, or of every file below a directory. */
function sizeOf(target: string): number {
  const stat = fs.statSync(target);
  if (!stat.isDirectory()) {
    return stat.size;
  }
  return fs.readdirSync(target).reduce((sum, entry) => sum + sizeOf(path.join(target, entry)), 0);
}

function loadAverage(): string {
  return os.loadavg().map(l => l.toFixed(2)).join(' ');
}

function formatTypes(types: Record<string, number>): string {
  return Object.entries(types)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([type, n]) => `${type.replace(/^AWS::/, '')}=${n}`)
    .join(', ');
}

function sameMetrics(a: Metrics, b: Metrics): boolean {
  return a.resources === b.resources && a.assetBytes === b.assetBytes && a.templateBytes === b.templateBytes;
}

/**
 * Part 4: PUBLICATIONS Creates of the publisher at once, in one sandbox, with Route 53 throttled
 * and every change PENDING at first; before them, the same Creates with no fault, as a baseline.
 * Returns whether every publication succeeded.
 */
async function publicationsUnderThrottling(world: PublisherWorld): Promise<boolean> {
  console.log(`${PUBLICATIONS} publications at once, packaged publisher against moto: Route 53 throttled to `
    + `${ROUTE53_PER_SECOND} requests/s, every change PENDING at first`);
  let proxy: FaultProxy | undefined;
  try {
    // The proxy counts its rate limit in the functions' time: it gets the time scale the sandbox gets.
    proxy = await startFaultProxy(world.moto.endpoint, { timeScale: PUBLICATION_TIME_SCALE });
    const faults = proxy;
    const domains = Array.from({ length: PUBLICATIONS }, (_, i) => `d${i}.example.com`);
    const text = policyText('testing');
    /** Forgets moto's state and the proxy's rules and log, then publishes every domain at once. */
    const publishAll = async (inject: () => void) => {
      await world.reset();
      faults.clear();
      const zone = await world.zone('example.com');
      inject();
      const started = process.hrtime.bigint();
      const runs: Invocation[] = await world.runConcurrently(domains.map(domain => world.props(text, {
        HostedZoneId: zone, DomainName: domain, ObjectKey: `policies/${domain}/.well-known/mta-sts.txt`, RecordName: `_mta-sts.${domain}`,
      })), { endpoint: faults.endpoint, timeScale: PUBLICATION_TIME_SCALE });
      return { runs, wallMs: Number(process.hrtime.bigint() - started) / 1e6 };
    };
    // Times in the FUNCTION's time: the real duration times the time scale (the sandbox divides
    // every timer delay by it). moto answers at once, so these figures are the handler's own
    // waits: the backoff after each throttled request (the SDK's and the handler's) and the
    // 10-15 s GetChange polls while a change is PENDING. The real time spent outside those waits
    // (the sandbox's CPU, moto's answers) is scaled too: the baseline, every request at once and
    // no wait at all, bounds it. Hence a small scale: at 40 (publisher-world's TIME_SCALE) that
    // overhead is most of the figure, and moto, not the rate limit, paces the requests.
    const functionSeconds = (runs: Invocation[]) => runs.map(run => (run.durationMs * PUBLICATION_TIME_SCALE) / 1000);
    const isFailed = (run: Invocation) => Boolean(run.error) || run.response?.Status !== 'SUCCESS';

    const baseline = await publishAll(() => undefined);
    const baselineSeconds = functionSeconds(baseline.runs);

    const { runs, wallMs } = await publishAll(() => {
      faults.inject({ service: 'route53', operation: 'ChangeResourceRecordSets', fault: 'pending', times: Infinity });
      faults.rateLimit('route53', ROUTE53_PER_SECOND);
    });
    const failed = [...baseline.runs, ...runs]
      .map((run, i) => ({ run, what: `${domains[i % PUBLICATIONS]}${i < PUBLICATIONS ? ' (baseline)' : ''}` }))
      .filter(({ run }) => isFailed(run));
    const times = functionSeconds(runs);
    const route53Requests = faults.requests.filter(r => r.service === 'route53');
    const throttled = route53Requests.filter(r => r.fault === 'throttle');
    const byOperation = (list: typeof route53Requests) => {
      const counts: Record<string, number> = {};
      list.forEach(r => counts[r.operation] = (counts[r.operation] ?? 0) + 1);
      return Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)).map(([op, n]) => `${op}=${n}`).join(', ');
    };
    const figures = (seconds: number[]) => `median ${median(seconds).toFixed(1)} s, slowest ${Math.max(...seconds).toFixed(1)} s`;

    console.log(`  time scale: ${PUBLICATION_TIME_SCALE} (the functions' timers and the proxy's rate limit; BENCH_TIME_SCALE)`);
    console.log(`  succeeded: ${runs.filter(run => !isFailed(run)).length} of ${runs.length}`);
    console.log(`  publication time in the function's time (real x ${PUBLICATION_TIME_SCALE}): ${figures(times)}, `
      + `fastest ${Math.min(...times).toFixed(1)} s; real time for all ${(wallMs / 1000).toFixed(1)} s`);
    console.log(`  throttled requests: ${throttled.length} of ${route53Requests.length} Route 53 requests (${byOperation(throttled)})`);
    console.log(`  baseline, no throttling and every change INSYNC at once (${baseline.runs.filter(run => !isFailed(run)).length} of `
      + `${baseline.runs.length} succeeded): ${figures(baselineSeconds)}; real time for all ${(baseline.wallMs / 1000).toFixed(1)} s`);
    for (const { run, what } of failed.slice(0, 10)) {
      const why = run.error ? `${run.error.errorType}: ${run.error.errorMessage}`
        : `${run.response?.Status ?? 'no answer'}: ${String(run.response?.Reason ?? '').split('\n')[0]}`;
      console.log(`  FAILED ${what}: ${why}`);
    }
    if (failed.length > 10) {
      console.log(`  ... and ${failed.length - 10} more failed`);
    }
    return failed.length === 0;
  } finally {
    await proxy?.stop();
  }
}

/** Part 1: domain counts, interleaved round by round so drift hits every count alike. */
function domainCounts(): void {
  const runs = new Map<number, Run[]>(DOMAIN_COUNTS.map(n => [n, []]));
  for (let round = 0; round < WARMUP + REPS; round++) {
    for (const count of DOMAIN_COUNTS) {
      const run = synthOnce(multiDomain(count));
      if (round >= WARMUP) {
        runs.get(count)!.push(run);
      }
    }
  }
  const rows = DOMAIN_COUNTS.map((count) => {
    const list = runs.get(count)!;
    const m = list[0].metrics;
    const stable = list.every(r => sameMetrics(r.metrics, m));
    const times = list.map(r => r.ms);
    return [
      String(count),
      median(times).toFixed(1),
      `${Math.min(...times).toFixed(0)}-${Math.max(...times).toFixed(0)}`,
      String(m.resources) + (stable ? '' : '*'),
      String(m.lambdas),
      String(m.assetBytes),
      String(m.templateBytes),
    ];
  });
  console.log('MtaStsDomains, one stack (us-east-1), a distinct policy per domain, with TLS-RPT');
  console.log(table(['domains', 'synth ms (median)', 'min-max ms', 'resources', 'lambdas', 'asset bytes', 'template bytes'], rows));
  console.log('');
  console.log('resource types:');
  for (const count of DOMAIN_COUNTS) {
    console.log(`  ${String(count).padStart(3)} domains: ${formatTypes(runs.get(count)![0].metrics.types)}`);
  }
  console.log('');
  console.log(`most domains in one stack: ${maxDomainsPerStack(true)} with TLS-RPT, ${maxDomainsPerStack(false)} without `
    + '(each with its own policy; the construct refuses more, naming CloudFormation\'s 500-resource limit)');
  console.log('');
}

/** Part 2: one domain, construct vs hand-written, interleaved, alternating which goes first. */
function constructVsHandwritten(): void {
  const constructRuns: Run[] = [];
  const handRuns: Run[] = [];
  for (let pair = 0; pair < PAIR_WARMUP + PAIRS; pair++) {
    const constructFirst = pair % 2 === 0;
    const first = synthOnce(constructFirst ? singleConstruct : singleHandwritten);
    const second = synthOnce(constructFirst ? singleHandwritten : singleConstruct);
    if (pair >= PAIR_WARMUP) {
      constructRuns.push(constructFirst ? first : second);
      handRuns.push(constructFirst ? second : first);
    }
  }
  const constructMedian = median(constructRuns.map(r => r.ms));
  const handMedian = median(handRuns.map(r => r.ms));
  const c = constructRuns[0].metrics;
  const h = handRuns[0].metrics;
  const single = (name: string, list: Run[], m: Metrics) => {
    const times = list.map(r => r.ms);
    return [name, median(times).toFixed(1), `${Math.min(...times).toFixed(0)}-${Math.max(...times).toFixed(0)}`,
      String(m.resources), String(m.lambdas), String(m.assetBytes), String(m.templateBytes)];
  };
  console.log('One domain: MtaSts construct vs hand-written aws-cdk-lib stack (bench/handwritten.ts)');
  console.log(table(['stack', 'synth ms (median)', 'min-max ms', 'resources', 'lambdas', 'asset bytes', 'template bytes'], [
    single('MtaSts construct', constructRuns, c),
    single('hand-written', handRuns, h),
  ]));
  console.log(`  construct types:    ${formatTypes(c.types)}`);
  console.log(`  hand-written types: ${formatTypes(h.types)}`);
  const typesMatch = JSON.stringify(Object.entries(c.types).sort()) === JSON.stringify(Object.entries(h.types).sort());
  console.log(`  resource types and counts ${typesMatch ? 'match' : 'DIFFER'}`);
  const ratio = constructMedian / handMedian;
  console.log(`synth time ratio (construct / hand-written, medians of ${PAIRS} interleaved pairs): ${ratio.toFixed(3)} `
    + `(${((ratio - 1) * 100).toFixed(1)} % overhead; target <= 10 %)`);
  const pairRatios = constructRuns.map((r, i) => r.ms / handRuns[i].ms);
  console.log(`  cross-checks: median of per-pair ratios ${median(pairRatios).toFixed(3)}, `
    + `ratio of minima ${(Math.min(...constructRuns.map(r => r.ms)) / Math.min(...handRuns.map(r => r.ms))).toFixed(3)}`);
  console.log('');
}

async function main(): Promise<void> {
  const cpus = os.cpus();
  console.log('cdk-mta-sts benchmark: synthesis, and publication under Route 53 throttling');
  console.log(`machine: ${cpus[0]?.model ?? 'unknown cpu'}, ${cpus.length} cpus, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, `
    + `${os.type()} ${os.release()} ${os.arch()}, node ${process.version}`);
  console.log(`load average (1/5/15 min) at start: ${loadAverage()}`);
  console.log(`parts: ${PARTS.join(', ')} (BENCH_PARTS); runs: ${WARMUP} warm-up (discarded) + ${REPS} timed per domain count, rounds interleaved across counts; `
    + `${PAIR_WARMUP} + ${PAIRS} interleaved pairs for the single-domain comparison`);
  console.log('');
  const timed = async (part: number, title: string, run: () => unknown): Promise<void> => {
    if (!PARTS.includes(part)) {
      return;
    }
    console.log(`== Part ${part}: ${title}`);
    const started = Date.now();
    await run();
    console.log(`(part ${part}: ${((Date.now() - started) / 1000).toFixed(0)} s)`);
    console.log('');
  };

  await timed(1, 'MtaStsDomains in one stack', domainCounts);
  await timed(2, 'one domain, construct vs hand-written', constructVsHandwritten);
  let failed = false;
  await timed(3, 'MtaStsDomains at scale, sharded', async () => {
    // A synthesis that throws is reported, and the publication parts still run.
    await synthesisAtScale(SCALE_DOMAIN_COUNTS, SCALE_REPS).catch((error) => {
      console.log(`  FAILED: ${String(error?.message ?? error).split('\n')[0]}`);
      failed = true;
    });
  });

  // Parts 4 and 5: after the synthesis figures, so that moto and the sandboxes do not disturb them.
  if (PARTS.includes(4) || PARTS.includes(5)) {
    if (!motoAvailable()) {
      console.log(`parts 4 and 5 not run: ${MOTO_MISSING}`);
      failed = true;
    } else {
      const world = await publisherWorld();
      try {
        await timed(4, `${PUBLICATIONS} publications under throttling`, async () => {
          failed = !await publicationsUnderThrottling(world) || failed;
        });
        await timed(5, 'publications at scale, sharded stacks', async () => {
          failed = !await publicationsAtScale(world, {
            domains: SCALE_PUBLICATIONS,
            stacks: SCALE_STACKS,
            zones: SCALE_ZONES,
            concurrencies: SCALE_CONCURRENCIES,
            gating: GATING_CONCURRENCIES,
            route53PerSecond: ROUTE53_PER_SECOND,
            timeScale: SCALE_TIME_SCALE,
          }) || failed;
        });
      } finally {
        await world.stop();
      }
    }
  }
  console.log(`load average (1/5/15 min) at end: ${loadAverage()}`);
  if (failed) {
    console.error('bench: a synthesis failed, or not every publication succeeded (at the realistic concurrencies)');
    process.exitCode = 1;
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
}).finally(() => {
  fs.rmSync(TEMP_ROOT, { recursive: true, force: true });
});
