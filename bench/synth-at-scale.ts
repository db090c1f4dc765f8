/**
 * Bench part 3: MtaStsDomains with hundreds of domains split over shard stacks (`shards`), each
 * domain count synthesized in a fresh child process so that its peak memory is its own.
 *
 * Each domain has its own imported hosted zone and its own policy (a distinct MX host, modes
 * cycling testing / enforce / none), all with TLS-RPT; `shards` is ceil(domains / 40). The child
 * runs one cold synthesis (what `cdk synth` does) then `reps` more, and reports the times, its
 * peak resident memory (process.resourceUsage().maxRSS) before and after the cold run, and what
 * the cloud assembly holds: stacks, resources, template bytes.
 */
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { median, table } from './util';
import { MtaStsDomains, MtaStsMode } from '../src';

/** Domains per shard stack. */
export const DOMAINS_PER_SHARD = 40;
/** CloudFormation's limits: a template read from S3, and resources per stack. */
const TEMPLATE_LIMIT_BYTES = 1_000_000;
const RESOURCE_LIMIT = 500;

const ENV = { account: '111111111111', region: 'us-east-1' };
const MODES = [MtaStsMode.TESTING, MtaStsMode.ENFORCE, MtaStsMode.NONE];

interface Measured {
  readonly domains: number;
  readonly shards: number;
  readonly coldMs: number;
  readonly warmMs: number[];
  /** maxRSS (bytes) once the modules are loaded, before the first synthesis. */
  readonly rssBefore: number;
  /** maxRSS (bytes) after the cold synthesis, and after every run. */
  readonly rssCold: number;
  readonly rssPeak: number;
  readonly stacks: number;
  readonly resources: number;
  readonly largestTemplateBytes: number;
  readonly largestTemplateStack: string;
  readonly mostResources: number;
  readonly mostResourcesStack: string;
  readonly totalTemplateBytes: number;
  readonly lambdas: number;
}

/** Builds one app with `count` domains; returns the app. */
function build(count: number, outdir: string): App {
  const app = new App({ outdir });
  const stack = new Stack(app, 'MtaStsScale', { env: ENV });
  const domains = Array.from({ length: count }, (_, i) => ({
    hostedZone: route53.HostedZone.fromHostedZoneAttributes(stack, `Zone${i}`, {
      hostedZoneId: `ZSCALE${String(i).padStart(8, '0')}`,
      zoneName: `brand${i}.example`,
    }),
    mode: MODES[i % MODES.length],
    mx: [`mx.brand${i}.example`],
  }));
  new MtaStsDomains(stack, 'MtaSts', {
    mx: ['*.mail.example.net'],
    tlsRpt: { rua: ['mailto:tls@example.net'] },
    shards: Math.ceil(count / DOMAINS_PER_SHARD),
    domains,
  });
  return app;
}

function stacksOf(assembly: cxapi.CloudAssembly): cxapi.CloudFormationStackArtifact[] {
  const all: cxapi.CloudFormationStackArtifact[] = [];
  const visit = (a: cxapi.CloudAssembly) => {
    all.push(...a.stacks);
    a.nestedAssemblies.forEach(n => visit(n.nestedAssembly));
  };
  visit(assembly);
  return all;
}

/** In the child: synthesizes `count` domains 1 + reps times and sends what it measured. */
function child(count: number, reps: number): void {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-mta-sts-scale-'));
  try {
    const rssBefore = process.resourceUsage().maxRSS * 1024;
    const times: number[] = [];
    let measured: Omit<Measured, 'coldMs' | 'warmMs' | 'rssBefore' | 'rssCold' | 'rssPeak'> | undefined;
    let rssCold = 0;
    for (let run = 0; run <= reps; run++) {
      const outdir = path.join(root, `run${run}`);
      const start = process.hrtime.bigint();
      const assembly = build(count, outdir).synth();
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
      if (run === 0) {
        rssCold = process.resourceUsage().maxRSS * 1024;
        const stacks = stacksOf(assembly).map((artifact) => {
          const resources = Object.values<{ Type: string }>(artifact.template.Resources ?? {});
          return {
            name: artifact.stackName,
            resources: resources.length,
            lambdas: resources.filter(r => r.Type === 'AWS::Lambda::Function').length,
            bytes: fs.statSync(artifact.templateFullPath).size,
          };
        });
        const largest = stacks.reduce((a, b) => (b.bytes > a.bytes ? b : a));
        const most = stacks.reduce((a, b) => (b.resources > a.resources ? b : a));
        measured = {
          domains: count,
          shards: Math.ceil(count / DOMAINS_PER_SHARD),
          stacks: stacks.length,
          resources: stacks.reduce((sum, s) => sum + s.resources, 0),
          largestTemplateBytes: largest.bytes,
          largestTemplateStack: largest.name,
          mostResources: most.resources,
          mostResourcesStack: most.name,
          totalTemplateBytes: stacks.reduce((sum, s) => sum + s.bytes, 0),
          lambdas: stacks.reduce((sum, s) => sum + s.lambdas, 0),
        };
      }
      fs.rmSync(outdir, { recursive: true, force: true });
    }
    const result: Measured = {
      ...measured!,
      coldMs: times[0],
      warmMs: times.slice(1),
      rssBefore,
      rssCold,
      rssPeak: process.resourceUsage().maxRSS * 1024,
    };
    process.send?.(result, () => process.disconnect?.());
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** Runs one domain count in a fresh process (ts-node, transpile only: this process type-checked the code). */
function measureInChild(count: number, reps: number): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const proc = fork(__filename, ['--child', String(count), String(reps)], {
      execArgv: ['-r', 'ts-node/register/transpile-only'],
      env: { ...process.env, TS_NODE_PROJECT: path.join(__dirname, '..', 'test', 'tsconfig.json') },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: Measured | undefined;
    proc.on('message', (message: Measured) => result = message);
    proc.once('error', reject);
    proc.once('exit', code => (result && code === 0 ? resolve(result)
      : reject(new Error(`the ${count}-domain synthesis exited with ${code} (its error is printed above)`))));
  });
}

/** Part 3: prints the table. Each count in its own process, one after another. */
export async function synthesisAtScale(counts: readonly number[], reps: number): Promise<void> {
  const results: Measured[] = [];
  for (const count of counts) {
    results.push(await measureInChild(count, reps));
  }
  const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
  const kb = (bytes: number) => `${(bytes / 1000).toFixed(0)} kB`;
  console.log(`MtaStsDomains at scale, \`shards\` = ceil(domains / ${DOMAINS_PER_SHARD}): each domain in its own imported zone with its own policy, `
    + `with TLS-RPT; each count in a fresh process: one cold synthesis (as \`cdk synth\`) then ${reps} more`);
  console.log(table([
    'domains', 'shards', 'cold synth s', `synth s (median of ${reps})`, 'ms per domain', 'peak RSS MB', 'stacks', 'resources',
    'per domain', 'largest template', '% of 1 MB', 'most resources', 'lambdas',
  ], results.map(r => [
    String(r.domains),
    String(r.shards),
    (r.coldMs / 1000).toFixed(1),
    (median(r.warmMs) / 1000).toFixed(1),
    (median(r.warmMs) / r.domains).toFixed(1),
    `${mb(r.rssCold)} (${mb(r.rssBefore)} idle)`,
    String(r.stacks),
    String(r.resources),
    (r.resources / r.domains).toFixed(2),
    kb(r.largestTemplateBytes),
    `${((r.largestTemplateBytes / TEMPLATE_LIMIT_BYTES) * 100).toFixed(0)} %`,
    `${r.mostResources} of ${RESOURCE_LIMIT}`,
    String(r.lambdas),
  ])));
  const last = results[results.length - 1];
  if (results.length > 1) {
    // Time per domain from each count to the next: about 1 when synthesis grows linearly.
    const perDomain = (r: Measured) => median(r.warmMs) / r.domains;
    const steps = results.slice(1).map((r, i) => `${results[i].domains} -> ${r.domains}: x ${(perDomain(r) / perDomain(results[i])).toFixed(2)}`);
    const worst = Math.max(...results.slice(1).map((r, i) => perDomain(r) / perDomain(results[i])));
    console.log(`  time per domain, from each count to the next (1.00 = linear): ${steps.join(', ')} `
      + `(${worst <= 1.25 ? 'linear or better: a fixed cost per synthesis is spread over more domains' : 'WORSE THAN LINEAR'})`);
  }
  console.log(`  ${last.domains} domains: cold synthesis ${(last.coldMs / 1000).toFixed(1)} s (goal: under 60 s); `
    + `peak RSS ${mb(last.rssCold)} MB after it, ${mb(last.rssPeak)} MB after all ${reps + 1} runs; `
    + `largest template ${last.largestTemplateStack} (${kb(last.largestTemplateBytes)}); `
    + `most resources ${last.mostResourcesStack} (${last.mostResources}); all templates ${kb(last.totalTemplateBytes)}`);
}

if (process.argv[2] === '--child') {
  child(Number(process.argv[3]), Number(process.argv[4]));
}
