/**
 * The README's main job: synthesizes an example stack for example.com, with no AWS account or
 * credentials, and prints the policy file and every DNS record it would publish.
 *
 *   npm ci && npx projen example
 *   npm ci && npx projen example:collector   # also a TLS-RPT collector (SES reception) in the account
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { publishedPolicies, publishedRecords } from './inspect';
import { MtaSts, MtaStsMode, TlsRptCollector } from '../src';

const outdir = path.join(__dirname, 'cdk.out');
fs.rmSync(outdir, { recursive: true, force: true });
const app = new App({ outdir });
const stack = new Stack(app, 'MtaStsExample', {
  // A placeholder account: synthesis needs no credentials and contacts no AWS service.
  env: { account: '123456789012', region: 'us-east-1' },
});
const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', {
  hostedZoneId: 'Z0123456789EXAMPLE',
  zoneName: 'example.com',
});
const withCollector = process.argv.includes('--with-collector');
const mtaSts = new MtaSts(stack, 'MtaSts', {
  hostedZone,
  mode: MtaStsMode.TESTING,
  mx: ['mx1.example.com', 'mx2.example.com', '*.mail.example.com'],
  maxAge: Duration.days(7),
  tlsRpt: { rua: ['mailto:tls-reports@example.com'] },
  // Reports received by SES on tlsrpt.example.com, stored, counted and queryable in the account.
  tlsRptCollector: withCollector ? new TlsRptCollector(stack, 'Reports', { hostedZone }) : undefined,
});

const assembly = app.synth();
const artifact = assembly.getStackByName(stack.stackName);
const template = artifact.template;

const lines: string[] = [];
lines.push(`Synthesized stack ${stack.stackName} for example.com (no AWS account used).`);
lines.push(`Template: ${path.relative(process.cwd(), artifact.templateFullPath)}`);
lines.push('');
for (const policy of publishedPolicies(template)) {
  lines.push(`Policy file served at ${mtaSts.policyUrl} (S3 key ${policy.key}, CRLF line ends):`);
  lines.push(...policy.body.trimEnd().split('\r\n').map((line: string) => `  ${line}`));
  lines.push('');
}
lines.push('DNS records in zone example.com:');
const records = publishedRecords(template);
const width = Math.max(...records.map(r => r.name.length));
for (const record of records) {
  lines.push(`  ${record.name.padEnd(width)}  ${record.type.padEnd(4)}  ${record.value}`);
}
lines.push('  (plus the certificate validation CNAME for mta-sts.example.com, which CloudFormation writes while ACM validates the certificate)');
console.log(lines.join('\n'));
