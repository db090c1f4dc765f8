// A new CDK app that uses the installed cdk-mta-sts tarball as the README says, with cdk-nag 3's
// AwsSolutionsChecks registered as its README says. Run by .ci/test-latest under Node.js 22.
// Synthesis throws when cdk-nag 3 reports an unacknowledged error; warnings are checked below.
const fs = require('fs');
const path = require('path');
const os = require('os');
const { App, Stack, Validations } = require('aws-cdk-lib');
const route53 = require('aws-cdk-lib/aws-route53');
const { AwsSolutionsChecks } = require('cdk-nag');
const { MtaSts, MtaStsDomains, TlsRptCollector } = require('cdk-mta-sts');

const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-mta-sts-app-'));
const app = new App({ outdir });
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

const zone = (stack, zoneName, hostedZoneId) =>
  route53.HostedZone.fromHostedZoneAttributes(stack, zoneName, { zoneName, hostedZoneId });

const east = new Stack(app, 'MailPolicy', { env: { account: '123456789012', region: 'us-east-1' } });
const eastZone = zone(east, 'example.com', 'Z0123456789EXAMPLE');
new MtaSts(east, 'MtaSts', {
  hostedZone: eastZone,
  mx: ['mx1.example.com', '*.mail.example.com'],
  tlsRpt: { rua: ['mailto:tls-reports@example.com'] },
  tlsRptCollector: new TlsRptCollector(east, 'Reports', { hostedZone: eastZone, httpsReception: true }),
});

const west = new Stack(app, 'MailPolicies', { env: { account: '123456789012', region: 'eu-west-1' } });
new MtaStsDomains(west, 'MtaSts', {
  mx: ['*.mail.example.net'],
  tlsRpt: { rua: ['mailto:tls-reports@example.net'] },
  domains: ['brand-a.example', 'brand-b.example', 'brand-c.example'].map((name, i) => ({ hostedZone: zone(west, name, `Z000000000000000000${i}`) })),
});

const assembly = app.synth();
const reports = fs.readdirSync(assembly.directory).filter(file => /validation-report\.json$/.test(file))
  .map(file => fs.readFileSync(path.join(assembly.directory, file), 'utf8'));
const findings = reports.join('\n').match(/AwsSolutions-[A-Za-z0-9]+(\[[^\]"]*\])?/g) ?? [];
if (findings.length > 0) {
  console.error(`installed package: cdk-nag 3 reported ${[...new Set(findings)].join(', ')}`);
  process.exit(1);
}
console.log(`installed package: ${assembly.stacks.map(stack => stack.stackName).join(', ')} synthesized under Node.js ${process.version} `
  + `with aws-cdk-lib ${require('aws-cdk-lib/package.json').version} and cdk-nag ${require('cdk-nag/package.json').version}; no AwsSolutions finding`);
