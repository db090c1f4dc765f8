/**
 * A thousand domains from one construct: synthesizes, with no AWS account or credentials, an
 * MtaStsDomains of 1,000 policy domains spread over 25 shard stacks, and prints each stack's
 * size against CloudFormation's limits, and where two sample domains live and what they publish.
 *
 *   npm ci && npx projen example:many
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { publishedPolicies, publishedRecords } from './inspect';
import { MtaStsDomainOptions, MtaStsDomains, MtaStsMode } from '../src';

const DOMAINS = 1000;
const SHARDS = 25;
/** CloudFormation's limits: a template read from S3, and resources per stack. */
const TEMPLATE_LIMIT_BYTES = 1_000_000;
const RESOURCE_LIMIT = 500;
const SAMPLES = ['brand0042.example', 'brand0777.example'];

const started = process.hrtime.bigint();
const outdir = path.join(__dirname, 'cdk.out-many');
fs.rmSync(outdir, { recursive: true, force: true });
const app = new App({ outdir });
const stack = new Stack(app, 'MtaStsMany', {
  // A placeholder account: synthesis needs no credentials and contacts no AWS service.
  env: { account: '123456789012', region: 'us-east-1' },
});

// brand0001.example ... brand1000.example, each in its own hosted zone, imported by id and name.
const domains: MtaStsDomainOptions[] = Array.from({ length: DOMAINS }, (_, i) => {
  const n = String(i + 1).padStart(4, '0');
  const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, `Zone${n}`, {
    hostedZoneId: `Z${n}EXAMPLE000`,
    zoneName: `brand${n}.example`,
  });
  // A few domains override the shared defaults: the first ten already enforce, brand0042 runs
  // its own mail servers, brand0999 is being retired.
  if (i < 10) {
    return { hostedZone, mode: MtaStsMode.ENFORCE };
  }
  if (n === '0042') {
    return { hostedZone, mode: MtaStsMode.ENFORCE, mx: ['mx1.brand0042.example', 'mx2.brand0042.example'] };
  }
  if (n === '0999') {
    return { hostedZone, mode: MtaStsMode.NONE };
  }
  return { hostedZone };
});

const mtaSts = new MtaStsDomains(stack, 'MtaSts', {
  // Shared by every domain that sets none of its own.
  mode: MtaStsMode.TESTING,
  mx: ['*.mail.protection.outlook.com'],
  tlsRpt: { rua: ['mailto:tls-reports@example.com'] },
  shards: SHARDS,
  domains,
});

const assembly = app.synth();
const seconds = Number(process.hrtime.bigint() - started) / 1e9;

const stacks = assembly.stacks.map(artifact => {
  const resources = Object.values<{ Type: string }>(artifact.template.Resources ?? {});
  return {
    name: artifact.stackName,
    region: artifact.environment.region,
    domains: resources.filter(r => r.Type === 'Custom::MtaStsPolicyPublication').length,
    resources: resources.length,
    bytes: fs.statSync(artifact.templateFullPath).size,
    template: artifact.template,
  };
}).sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
const total = {
  domains: stacks.reduce((sum, s) => sum + s.domains, 0),
  resources: stacks.reduce((sum, s) => sum + s.resources, 0),
  bytes: stacks.reduce((sum, s) => sum + s.bytes, 0),
};
const largest = stacks.reduce((a, b) => (b.bytes > a.bytes ? b : a));
const fullest = stacks.reduce((a, b) => (b.resources > a.resources ? b : a));

const lines: string[] = [];
lines.push(`Synthesized ${DOMAINS.toLocaleString('en-US')} policy domains into ${stacks.length} stacks (${SHARDS} shards, and the construct's `
  + 'own stack, left empty) '
  + `in ${seconds.toFixed(1)} s, no AWS account used.`);
lines.push(`Cloud assembly: ${path.relative(process.cwd(), outdir)}; deploy with \`cdk deploy --all\`.`);
lines.push('');
const nameWidth = Math.max(5, ...stacks.map(s => s.name.length));
const row = (name: string, region: string, count: string, resources: string, bytes: string) =>
  `  ${name.padEnd(nameWidth)}  ${region.padEnd(9)}  ${count.padStart(7)}  ${resources.padStart(9)}  ${bytes.padStart(14)}`;
lines.push(row('stack', 'region', 'domains', 'resources', 'template bytes'));
for (const s of stacks) {
  lines.push(row(s.name, s.region, String(s.domains), String(s.resources), s.bytes.toLocaleString('en-US')));
}
lines.push(row('total', '', String(total.domains), String(total.resources), total.bytes.toLocaleString('en-US')));
lines.push('');
lines.push(`Largest template: ${largest.name}, ${largest.bytes.toLocaleString('en-US')} bytes, `
  + `${((largest.bytes / TEMPLATE_LIMIT_BYTES) * 100).toFixed(0)} % of CloudFormation's 1 MB for a template read from S3.`);
lines.push(`Most resources: ${fullest.name}, ${fullest.resources} of CloudFormation's ${RESOURCE_LIMIT} per stack.`);

for (const name of SAMPLES) {
  const domain = mtaSts.domain(name);
  const holder = Stack.of(domain).stackName;
  const template = stacks.find(s => s.name === holder)!.template;
  lines.push('');
  lines.push(`${name}: in stack ${holder}; policy served at ${domain.policyUrl}:`);
  for (const policy of publishedPolicies(template).filter(p => p.key === `policies/${name}/.well-known/mta-sts.txt`)) {
    lines.push(...policy.body.trimEnd().split('\r\n').map(line => `    ${line}`));
  }
  const own = new Set([`mta-sts.${name}.`, `_mta-sts.${name}.`, `_smtp._tls.${name}.`]);
  const records = publishedRecords(template).filter(r => own.has(r.name));
  const width = Math.max(...records.map(r => r.name.length));
  lines.push('  records:');
  for (const record of records) {
    lines.push(`    ${record.name.padEnd(width)}  ${record.type.padEnd(4)}  ${record.value}`);
  }
}
console.log(lines.join('\n'));
