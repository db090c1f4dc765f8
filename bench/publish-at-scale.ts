/**
 * Bench part 5: 1,000 publications of the packaged publisher, as `cdk deploy --all` runs them for
 * an MtaStsDomains split into sibling stacks ("shards"): CloudFormation runs every custom resource
 * of one stack at once (one Lambda function per stack, so one sandbox per stack here), and
 * `cdk deploy --all --concurrency N` deploys N stacks at a time, the next one starting when one
 * finishes. Every stack shares the account's Route 53 limit of 5 requests a second (the fault
 * proxy's token bucket, counted in the functions' time), and every change is PENDING at first.
 *
 * Modelled on top of the publisher as packaged (test/support/publisher-world.ts):
 * - a stack's publications start together: the worst case, since in a real deploy each one
 *   waits for its own distribution and certificate, which spreads them over minutes;
 * - Lambda's timeout (the template's 10 minutes) is enforced by the sandbox; an invocation that
 *   ends without answering CloudFormation is retried once by Lambda (after a minute), and
 *   CloudFormation fails a publication that has not answered within its ServiceTimeout (25 minutes);
 * - a stack's deploy (its publication phase) ends when its last publication answers; a failed
 *   publication fails its stack, but the other stacks go on here, so that every figure is measured.
 *
 * Not modelled: the rest of each stack's deploy (certificates, distributions: tens of minutes
 * in a real account), and cdk's stopping at the first failed stack.
 */
import * as os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { median, table } from './util';
import { PUBLICATION_RESOURCE_TYPE } from '../src/core/publication';
import { shardOf } from '../src/private/placement';
import { FaultProxy, ProxiedRequest, startFaultProxy } from '../test/support/aws-faults';
import { Invocation, PackagedFunction, cfnEvent, invokeConcurrently } from '../test/support/packaged';
import { BUCKET, PublisherWorld, policyText } from '../test/support/publisher-world';

export interface AtScaleOptions {
  /** Publications (domains). */
  readonly domains: number;
  /** Stacks (shards): each domain goes to the shard MtaStsDomains gives it (a hash of its name). */
  readonly stacks: number;
  /** Hosted zones the domains are spread over. */
  readonly zones: number;
  /** `cdk deploy --concurrency` values to measure. */
  readonly concurrencies: readonly number[];
  /** Concurrencies whose failures fail the bench. */
  readonly gating: readonly number[];
  readonly route53PerSecond: number;
  /** How much faster the functions' timers run, per concurrency (the host must keep up). */
  readonly timeScale: (concurrency: number) => number;
}

/** Lambda's retry of an asynchronous invocation that ended in an error comes after about a minute. */
const LAMBDA_RETRY_DELAY_S = 60;
/** The publication's ServiceTimeout (src/private/publisher.ts PUBLICATION_SERVICE_TIMEOUT). */
const SERVICE_TIMEOUT_S = 25 * 60;
/**
 * How long a publication may keep trying before it must give up: the Lambda's 10 minutes less
 * the 60 s the handler keeps for cleaning up (src/handlers/publisher/index.ts CLEANUP_RESERVE_MS).
 */
const TRYING_S = 600 - 60;
/** Route 53 requests a publication needs at least: read the record, change it, poll the change (PENDING at first). */
const REQUESTS_PER_PUBLICATION = 3;

interface Publication {
  readonly stack: number;
  readonly domain: string;
  readonly event: unknown;
}

interface Outcome {
  readonly publication: Publication;
  /** The runs: the first, then Lambda's retry if the first did not answer. */
  readonly runs: Invocation[];
  /** From the request to the answer, in the function's time (retry delay included). */
  readonly seconds: number;
  readonly ok: boolean;
  readonly why?: string;
}

interface Result {
  readonly concurrency: number;
  readonly timeScale: number;
  readonly outcomes: Outcome[];
  /** Per stack: its publication phase in the function's time. */
  readonly stackSeconds: number[];
  readonly wallMs: number;
  readonly requests: ProxiedRequest[];
  readonly host: HostLoad;
}

interface HostLoad {
  /** Share of the machine's CPU time that was busy during the run. */
  readonly cpuBusy: number;
  /** Round trips of a ListResourceRecordSets sent straight to moto every 250 ms, in real ms. */
  readonly motoMean: number;
  readonly motoP95: number;
  /** The event loop delay of this process (which runs the fault proxy), real ms. */
  readonly proxyLagMean: number;
  readonly proxyLagP99: number;
}

/**
 * Runs the stacks' publications once per concurrency and prints a table. Returns whether every
 * publication of the gating concurrencies succeeded.
 */
export async function publicationsAtScale(world: PublisherWorld, options: AtScaleOptions): Promise<boolean> {
  const sizes = shardSizes(options);
  console.log(`${options.domains.toLocaleString('en-US')} publications (a distinct domain and policy each), ${options.stacks} stacks (shards) of `
    + `${Math.min(...sizes)} to ${Math.max(...sizes)} domains as MtaStsDomains places them (a hash of the name), over ${options.zones} hosted zones, `
    + `packaged publisher against moto: Route 53 throttled to ${options.route53PerSecond} requests/s for the whole account, every change PENDING at first; `
    + 'each stack\'s publications at once, `cdk deploy --all --concurrency N` stacks at a time');
  console.log(`  time scale: ${options.concurrencies.map(n => `${options.timeScale(n)} at concurrency ${n}`).join(', ')} (BENCH_SCALE_TIME_SCALE); `
    + 'all times below in the function\'s time (real x time scale) unless marked real');
  const results: Result[] = [];
  for (const concurrency of options.concurrencies) {
    // The proxy counts its rate limit in the functions' time: it gets the time scale the sandboxes get.
    const proxy = await startFaultProxy(world.moto.endpoint, { timeScale: options.timeScale(concurrency) });
    try {
      results.push(await deployAll(world, proxy, options, concurrency));
    } finally {
      await proxy.stop();
    }
  }

  /** Route 53's floor: the N largest stacks at once need at least this long, however fast the host. */
  const floorS = (concurrency: number) => ([...sizes].sort((a, b) => b - a).slice(0, concurrency).reduce((sum, n) => sum + n, 0)
    * REQUESTS_PER_PUBLICATION) / options.route53PerSecond;
  const rows = results.map((r) => {
    const ok = r.outcomes.filter(o => o.ok);
    const seconds = ok.map(o => o.seconds);
    const throttled = r.requests.filter(q => q.fault === 'throttle').length;
    const admitted = r.requests.length - throttled;
    const wallFunctionS = (r.wallMs / 1000) * r.timeScale;
    const failedStacks = new Set(r.outcomes.filter(o => !o.ok).map(o => o.publication.stack)).size;
    return [
      `${r.concurrency}${options.gating.includes(r.concurrency) ? '' : ' (stress)'}`,
      `${floorS(r.concurrency).toFixed(0)}${floorS(r.concurrency) > TRYING_S ? ' (!)' : ''}`,
      `${ok.length} of ${r.outcomes.length}`,
      `${failedStacks}`,
      seconds.length ? median(seconds).toFixed(1) : '-',
      seconds.length ? Math.max(...seconds).toFixed(1) : '-',
      Math.max(...r.stackSeconds).toFixed(0),
      `${minutes(wallFunctionS)} (${(r.wallMs / 1000).toFixed(0)} s real)`,
      String(r.requests.length),
      `${throttled} (${((throttled / Math.max(1, r.requests.length)) * 100).toFixed(0)} %)`,
      (admitted / wallFunctionS).toFixed(2),
      String(r.outcomes.filter(o => o.runs.length > 1).length),
    ];
  });
  console.log(table([
    'concurrency', 'floor s', 'succeeded', 'failed stacks', 'median s', 'slowest s', 'slowest stack s', 'all stacks (wall)',
    'Route 53 requests', 'throttled', 'admitted/s', 'Lambda retries',
  ], rows));
  console.log(`  floor: the least time the largest N stacks' publications need at ${options.route53PerSecond} requests/s, `
    + `${REQUESTS_PER_PUBLICATION} requests each (read, change, poll), however fast the host; (!): over the ${TRYING_S} s a publication may try `
    + 'before it must give up (10-minute Lambda less 60 s kept for cleanup), so some must fail');
  console.log('  median / slowest: one publication, from its request to its answer; slowest stack: the longest publication phase of a stack; '
    + 'all stacks: from the first stack\'s start to the last one\'s end; admitted/s: Route 53 requests that got through, per second of the whole run');

  let hostBound = false;
  for (const r of results) {
    const kinds = (list: ProxiedRequest[]) => {
      const counts: Record<string, number> = {};
      list.forEach(q => counts[q.operation] = (counts[q.operation] ?? 0) + 1);
      return Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)).map(([op, n]) => `${op}=${n}`).join(', ');
    };
    const throttled = r.requests.filter(q => q.fault === 'throttle');
    console.log(`  concurrency ${r.concurrency}: admitted ${kinds(r.requests.filter(q => q.fault !== 'throttle'))}; throttled ${kinds(throttled)}`);
    const inFunctionTime = (ms: number) => `${((ms * r.timeScale) / 1000).toFixed(2)} s`;
    // Real Route 53 answers in about 0.1-0.3 s: when moto's answers, or the proxy's, take more
    // than 1 s on average in the function's time, every publication looks slower than it is
    // (never faster: the deadlines count in the function's time too, and the token bucket
    // refills on the clock whether or not the clients keep up).
    const bound = (r.host.motoMean * r.timeScale) / 1000 > 1 || (r.host.proxyLagMean * r.timeScale) / 1000 > 1;
    hostBound ||= bound;
    console.log(`    host: moto round trip mean ${r.host.motoMean.toFixed(0)} ms, p95 ${r.host.motoP95.toFixed(0)} ms real `
      + `(${inFunctionTime(r.host.motoMean)}, ${inFunctionTime(r.host.motoP95)} in the function's time); `
      + `proxy event loop delay mean ${r.host.proxyLagMean.toFixed(0)} ms, p99 ${r.host.proxyLagP99.toFixed(0)} ms real `
      + `(${inFunctionTime(r.host.proxyLagMean)}, ${inFunctionTime(r.host.proxyLagP99)}); machine CPU ${(r.host.cpuBusy * 100).toFixed(0)} % busy (every process)`
      + `${bound ? ' -- THE HOST IS A BOTTLENECK: the times above are pessimistic' : ''}`);
    const retried = r.outcomes.filter(o => o.runs.length > 1);
    if (retried.length > 0) {
      const firstErrors = new Map<string, number>();
      retried.forEach(o => firstErrors.set(o.runs[0].error?.errorType ?? 'none', (firstErrors.get(o.runs[0].error?.errorType ?? 'none') ?? 0) + 1));
      console.log(`    ${retried.length} runs ended without answering CloudFormation (${[...firstErrors.entries()].map(([e, n]) => `${e}: ${n}`).join(', ')}); `
        + `Lambda's retry then answered SUCCESS for ${retried.filter(o => o.ok).length}`);
    }
    const failures = r.outcomes.filter(o => !o.ok);
    const reasons = new Map<string, number>();
    failures.forEach(o => reasons.set(o.why ?? '?', (reasons.get(o.why ?? '?') ?? 0) + 1));
    for (const [why, n] of [...reasons.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5)) {
      console.log(`    FAILED ${n}: ${why}`);
    }
  }
  // Whether the handler's deadline held: every run answered before the Lambda timeout, and
  // every publication before CloudFormation's ServiceTimeout, whatever the answer.
  const all = results.flatMap(r => r.outcomes);
  const unanswered = all.filter(o => o.runs.some(run => run.responses.length === 0)).length;
  const late = all.filter(o => o.seconds > SERVICE_TIMEOUT_S).length;
  const slowestRun = Math.max(...results.flatMap(r => r.outcomes.flatMap(o => o.runs.map(run => (run.durationMs * r.timeScale) / 1000))));
  console.log(`  deadline: ${unanswered === 0 ? 'every run answered CloudFormation before the 10-minute Lambda timeout' : `${unanswered} runs did not answer`} `
    + `(longest run ${slowestRun.toFixed(0)} s of 600); ${late} publications past the ${SERVICE_TIMEOUT_S / 60}-minute ServiceTimeout; `
    + 'a publication that could not finish answered FAILED, which fails (and rolls back) its stack');
  if (!hostBound) {
    console.log('  the host kept up: moto and the proxy answered within 1 s of the function\'s time on average');
  }

  return results.filter(r => options.gating.includes(r.concurrency)).every(r => r.outcomes.every(o => o.ok));
}

async function deployAll(world: PublisherWorld, proxy: FaultProxy, options: AtScaleOptions, concurrency: number): Promise<Result> {
  const timeScale = options.timeScale(concurrency);
  await world.reset();
  proxy.clear();
  const zones: string[] = [];
  for (let z = 0; z < options.zones; z++) {
    zones.push(await world.zone(`zone${z}.example`));
  }
  const stacks: Publication[][] = Array.from({ length: options.stacks }, () => []);
  for (let i = 0; i < options.domains; i++) {
    const domain = domainOf(i, options);
    const s = shardOf(domain, options.stacks);
    const fn = shardFunction(world.fn, stackNameOf(s));
    // A distinct policy per domain: its own MX host, modes alternating.
    const text = policyText(i % 2 === 0 ? 'testing' : 'enforce', `mx.brand${i}.example.net`);
    const properties = world.props(text, {
      DomainName: domain,
      // Every shard has its own bucket in the account; here they share the world's (S3 is not throttled).
      BucketName: BUCKET,
      HostedZoneId: zones[i % options.zones],
      ObjectKey: `policies/${domain}/.well-known/mta-sts.txt`,
      RecordName: `_mta-sts.${domain}`,
    });
    stacks[s].push({
      stack: s,
      domain,
      event: cfnEvent('Create', {
        logicalId: `Publication${stacks[s].length}`,
        resourceType: PUBLICATION_RESOURCE_TYPE,
        serviceToken: fn.functionArn,
        properties: properties as unknown as Record<string, unknown>,
        stackName: stackNameOf(s),
      }),
    });
  }
  proxy.inject({ service: 'route53', operation: 'ChangeResourceRecordSets', fault: 'pending', times: Infinity });
  proxy.rateLimit('route53', options.route53PerSecond);

  const probe = startHostProbe(world, zones[0]);
  const started = Date.now();
  const outcomes: Outcome[] = [];
  const stackSeconds: number[] = new Array(options.stacks).fill(0);
  let next = 0;
  const worker = async () => {
    for (let s = next++; s < stacks.length; s = next++) {
      const stackStarted = Date.now();
      const fn = shardFunction(world.fn, stackNameOf(s));
      const stackOutcomes = await runStack(fn, stacks[s], proxy.endpoint, timeScale);
      stackSeconds[s] = ((Date.now() - stackStarted) / 1000) * timeScale;
      outcomes.push(...stackOutcomes);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, stacks.length) }, worker));
  const wallMs = Date.now() - started;
  const host = await probe.stop();
  return { concurrency, timeScale, outcomes, stackSeconds, wallMs, requests: proxy.requests.filter(q => q.service === 'route53'), host };
}

/** The stack's publications at once in one sandbox; Lambda retries, once, a run that did not answer. */
async function runStack(fn: PackagedFunction, publications: Publication[], endpoint: string, timeScale: number): Promise<Outcome[]> {
  const first = await invokeConcurrently(fn, publications.map(p => p.event), { endpoint, timeScale });
  const unanswered = publications.map((_, i) => i).filter(i => first[i].responses.length === 0);
  const retries = new Map<number, Invocation>();
  if (unanswered.length > 0) {
    await new Promise(resolve => setTimeout(resolve, (LAMBDA_RETRY_DELAY_S * 1000) / timeScale));
    const again = await invokeConcurrently(fn, unanswered.map(i => publications[i].event), { endpoint, timeScale });
    unanswered.forEach((i, k) => retries.set(i, again[k]));
  }
  return publications.map((publication, i) => {
    const runs = retries.has(i) ? [first[i], retries.get(i)!] : [first[i]];
    const last = runs[runs.length - 1];
    const seconds = (runs.reduce((sum, run) => sum + run.durationMs, 0) * timeScale) / 1000 + (runs.length - 1) * LAMBDA_RETRY_DELAY_S;
    const status = last.response?.Status;
    let why: string | undefined;
    if (last.responses.length === 0) {
      why = `no answer to CloudFormation (${last.error?.errorType ?? 'none'}${runs.length > 1 ? ', after Lambda\'s retry' : ''})`;
    } else if (seconds > SERVICE_TIMEOUT_S) {
      why = `answered after CloudFormation's ServiceTimeout (${SERVICE_TIMEOUT_S / 60} min)`;
    } else if (status !== 'SUCCESS') {
      // The reason without the ids and names of this publication, so that alike failures group.
      why = `${status}: ${String(last.response?.Reason ?? '').split('\n')[0]}`
        .replace(/_mta-sts\.[a-z0-9.-]+/g, '<record>').replace(/\/change\/\S+|change \S+/g, 'change <id>').replace(/after \d+ attempts/, 'after n attempts');
    }
    return { publication, runs, seconds, ok: why === undefined, why };
  });
}

function domainOf(i: number, options: AtScaleOptions): string {
  return `brand${i}.zone${i % options.zones}.example`;
}

function stackNameOf(shard: number): string {
  return `MtaSts-Shard${shard}`;
}

/** How many domains each shard holds. */
function shardSizes(options: AtScaleOptions): number[] {
  const sizes: number[] = new Array(options.stacks).fill(0);
  for (let i = 0; i < options.domains; i++) {
    sizes[shardOf(domainOf(i, options), options.stacks)]++;
  }
  return sizes;
}

/** The publisher function of a shard stack: the same code, its own name. */
function shardFunction(fn: PackagedFunction, stackName: string): PackagedFunction {
  const functionName = `${stackName}-${fn.logicalId}`.slice(0, 64);
  return { ...fn, stackName, functionName, functionArn: `arn:aws:lambda:${fn.region}:${fn.account}:function:${functionName}` };
}

/**
 * Samples the host while a run goes on: CPU, moto's answers (a ListResourceRecordSets straight to
 * moto, as the publisher reads a record), this process's event loop (which runs the proxy).
 */
function startHostProbe(world: PublisherWorld, zoneId: string): { stop(): Promise<HostLoad> } {
  const cpuBefore = cpuTimes();
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const roundTrips: number[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const start = process.hrtime.bigint();
      await world.txt(zoneId, '_mta-sts.brand0.zone0.example').catch(() => undefined);
      roundTrips.push(Number(process.hrtime.bigint() - start) / 1e6);
      await new Promise(resolve => setTimeout(resolve, 250));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      lag.disable();
      const cpuAfter = cpuTimes();
      const busy = cpuAfter.busy - cpuBefore.busy;
      const all = cpuAfter.total - cpuBefore.total;
      return {
        cpuBusy: all > 0 ? busy / all : 0,
        motoMean: roundTrips.reduce((sum, ms) => sum + ms, 0) / Math.max(1, roundTrips.length),
        motoP95: percentile(roundTrips, 0.95),
        proxyLagMean: lag.mean / 1e6,
        proxyLagP99: lag.percentile(99) / 1e6,
      };
    },
  };
}

function cpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const cpu of os.cpus()) {
    const t = cpu.times;
    const sum = t.user + t.nice + t.sys + t.idle + t.irq;
    total += sum;
    busy += sum - t.idle;
  }
  return { busy, total };
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) {
    return NaN;
  }
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

function minutes(seconds: number): string {
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, '0')} s`;
}
