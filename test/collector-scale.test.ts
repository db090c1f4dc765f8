import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Template } from 'aws-cdk-lib/assertions';
import { exampleStack } from './fixtures';
import { MtaStsMode, TlsRptCollector } from '../src';
import { ADDRESS, CollectorWorld, collectorWorld, metrics } from './support/collector-world';
import { PackagedStack, functionUrlEvent, invoke, sesReceiptEvent } from './support/packaged';
import { googleReport, gzipReportMessage } from './support/tlsrpt-messages';
import { COLLECTOR_ENVIRONMENT, parsePolicyDomainsFile } from '../src/core/collector-contract';
import { parseTlsRptReport, reportObjectName, reportPartition } from '../src/core/tlsrpt-report';
import { httpsObjectName } from '../src/handlers/tlsrpt-collector/https';

// One collector holds every domain of an account and region (SES allows one active receipt rule
// set): 2,000 policy domains here, every other one in enforce mode. The domain list reaches both
// functions in their code asset; the stack's resources and the dashboard do not grow with it.

const DOMAINS = 2000;
const BUCKET = 'tlsrpt-scale-bucket';

/** The n-th configured domain (1-based); even ones are in enforce mode. */
function domain(n: number): string {
  return `d${String(n).padStart(4, '0')}.example.com`;
}

function policyDomains(count: number): Array<{ domainName: string; mode: MtaStsMode }> {
  return Array.from({ length: count }, (_, i) => ({ domainName: domain(i + 1), mode: (i + 1) % 2 === 0 ? MtaStsMode.ENFORCE : MtaStsMode.TESTING }));
}

/** Google's report for `domainName` instead of example.com. */
function reportFor(domainName: string): Record<string, unknown> {
  const report = googleReport() as { policies: Array<{ policy: Record<string, unknown> }> };
  return {
    ...report,
    'report-id': `2024-09-03T00:00:00Z_${domainName}`,
    'policies': report.policies.map(p => ({ ...p, policy: { ...p.policy, 'policy-domain': domainName } })),
  };
}

describe('synthesis of a collector with 2,000 domains, half in enforce mode', () => {
  function synthesized(count: number, addOneByOne: boolean) {
    const { stack, hostedZone } = exampleStack('us-east-1');
    const started = process.hrtime.bigint();
    const collector = new TlsRptCollector(stack, 'Collector', {
      hostedZone, httpsReception: true, countHttpsReports: true, policyDomains: addOneByOne ? [] : policyDomains(count),
    });
    if (addOneByOne) {
      // As MtaStsDomains does: one addPolicyDomain per domain, after construction.
      policyDomains(count).forEach(({ domainName, mode }) => collector.addPolicyDomain(domainName, mode));
    }
    const template = Template.fromStack(stack);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { collector, template, json: template.toJSON(), seconds };
  }

  let large: ReturnType<typeof synthesized>;
  beforeAll(() => {
    large = synthesized(DOMAINS, true);
  });

  test('takes a few seconds, not minutes: adding a domain costs the same whatever the number already added', () => {
    const small = synthesized(200, true);
    // Measured: about 1 s for 2,000 domains on a CI machine; a quadratic step would take ten times longer than linear growth allows.
    expect(large.seconds).toBeLessThan(20);
    expect(large.seconds).toBeLessThan(Math.max(small.seconds, 0.5) * 20);
  });

  test('has as many resources as a collector with two domains (well below 500), and one enforce alarm', () => {
    const two = synthesized(2, false);
    const count = Object.keys(large.json.Resources).length;
    expect(count).toBe(Object.keys(two.json.Resources).length);
    expect(count).toBeLessThan(50);
    large.template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { Namespace: 'TlsRpt' }, 1);
    large.template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { Dimensions: [{ Name: 'Mode', Value: 'enforce' }] }, 1);
    expect(large.collector.enforceAlarm(domain(DOMAINS))).toBe(large.collector.enforceAlarm(domain(2)));
    expect(large.collector.enforceAlarm(domain(DOMAINS - 1))).toBeUndefined();
  });

  test('the dashboard stays small: the widgets that cover every domain and a note, no per-domain widgets', () => {
    const [dashboard] = Object.values(large.template.findResources('AWS::CloudWatch::Dashboard'));
    const body = (dashboard.Properties.DashboardBody['Fn::Join'][1] as unknown[])
      .map(part => typeof part === 'string' ? part : JSON.stringify(part)).join('');
    // CloudWatch allows 500 widgets and 2,500 metrics per dashboard.
    const widgets = JSON.parse(body.replace(/\{"Ref":"[^"]+"\}/g, 'X')).widgets;
    expect(widgets).toHaveLength(7);
    expect(Buffer.byteLength(body)).toBeLessThan(8 * 1024);
    expect(body).not.toContain(domain(1));
  });

  test('the template stays far below CloudFormation\'s 1 MB: the domains appear once, in the query table\'s projection', () => {
    const text = JSON.stringify(large.json);
    expect(Buffer.byteLength(text)).toBeLessThan(100 * 1024);
    expect(text.split(domain(DOMAINS)).length - 1).toBe(1);
    large.template.hasResourceProperties('AWS::Glue::Table', {
      TableInput: { Parameters: { 'projection.policy_domain.values': policyDomains(DOMAINS).map(d => d.domainName).join(',') } },
    });
    for (const fn of Object.values(large.template.findResources('AWS::Lambda::Function', { Properties: { Handler: 'index.handler' } }))) {
      expect(Object.keys(fn.Properties.Environment.Variables).sort()).toEqual(Object.values(COLLECTOR_ENVIRONMENT).sort());
    }
  });
});

describe('the packaged functions of a collector with 2,000 domains', () => {
  let world: CollectorWorld;
  let stack: PackagedStack;

  beforeAll(async () => {
    world = await collectorWorld(BUCKET);
    // GIVEN the collector with 2,000 domains, synthesized as a user's app is (the asset from cdk.out, the template's Handler)
    stack = world.collectorStack({ httpsReception: true, countHttpsReports: true, policyDomains: policyDomains(DOMAINS) });
  });
  beforeEach(() => world.reset());
  afterAll(() => world?.stop());

  test('both functions run one code asset that holds the 2,000 domains and their modes, and no environment variable lists them', () => {
    const processor = stack.findFunction('CollectorProcessor');
    const https = stack.findFunction('CollectorHttpsProcessor');
    expect(https.assetDir).toBe(processor.assetDir);
    const domains = parsePolicyDomainsFile(readFileSync(join(processor.assetDir, 'policy-domains.json'), 'utf8'));
    expect(domains.size).toBe(DOMAINS);
    expect(domains.get(domain(DOMAINS))).toBe('enforce');
    expect(domains.get(domain(1))).toBe('testing');
    expect(Object.keys(processor.environment).sort()).toEqual(Object.values(COLLECTOR_ENVIRONMENT).sort());
  });

  async function deliver(raw: Buffer, messageId: string) {
    await world.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `raw/${messageId}`, Body: raw }));
    const fn = stack.findFunction('CollectorProcessor');
    return invoke(fn, sesReceiptEvent({ raw, messageId, recipients: [ADDRESS], functionArn: fn.functionArn }), { endpoint: world.moto.endpoint });
  }

  test('a mail report for the 2,000th domain is stored and counted, by domain and as enforce; one for an unconfigured domain is not', async () => {
    // GIVEN
    const configured = reportFor(domain(DOMAINS));
    const unconfigured = reportFor(domain(DOMAINS + 1));
    // WHEN
    const counted = await deliver(gzipReportMessage(configured, { domain: domain(DOMAINS) }), 'a0scale0000000000000001mta0ses0message0id');
    const apart = await deliver(gzipReportMessage(unconfigured, { domain: domain(DOMAINS + 1) }), 'a0scale0000000000000002mta0ses0message0id');
    // THEN
    expect(counted.error).toBeUndefined();
    expect(apart.error).toBeUndefined();
    const [stored] = parseTlsRptReport(JSON.stringify(configured)).report!.policies;
    const [setAside] = parseTlsRptReport(JSON.stringify(unconfigured)).report!.policies;
    expect(await world.keys()).toEqual([
      `reports/${reportPartition(stored)}${reportObjectName(stored)}`,
      `unconfigured/${reportPartition(setAside)}${reportObjectName(setAside)}`,
    ]);
    expect(metrics(counted)).toEqual({
      'SuccessfulSessions{PolicyDomain=d2000.example.com}': 42,
      'FailedSessions{PolicyDomain=d2000.example.com}': 0,
      'Reports{PolicyDomain=d2000.example.com}': 1,
      'SuccessfulSessions{Mode=enforce}': 42,
      'FailedSessions{Mode=enforce}': 0,
      'Reports{Mode=enforce}': 1,
      'Reports{Outcome=stored}': 1,
      'Messages{Outcome=accepted}': 1,
    });
    expect(metrics(apart)).toEqual({ 'Reports{Outcome=unconfigured}': 1, 'Messages{Outcome=accepted}': 1 });
  });

  test('a POSTed report for the 1,999th domain is counted (countHttpsReports), as testing; one for an unconfigured domain is not', async () => {
    // GIVEN
    const fn = stack.findFunction('CollectorHttpsProcessor');
    const post = (report: Record<string, unknown>) => invoke(fn, functionUrlEvent(fn, {
      headers: { 'Content-Type': 'application/tlsrpt+gzip' }, body: gzipSync(JSON.stringify(report)),
    }), { endpoint: world.moto.endpoint });
    const configured = reportFor(domain(DOMAINS - 1));
    const unconfigured = reportFor(domain(DOMAINS + 1));
    // WHEN
    const counted = await post(configured);
    const apart = await post(unconfigured);
    // THEN
    expect([counted.result?.statusCode, apart.result?.statusCode]).toEqual([201, 201]);
    const [stored] = parseTlsRptReport(JSON.stringify(configured)).report!.policies;
    const [setAside] = parseTlsRptReport(JSON.stringify(unconfigured)).report!.policies;
    expect(await world.keys()).toEqual([
      `reports/${reportPartition(stored)}${httpsObjectName(stored)}`,
      `unconfigured/${reportPartition(setAside)}${httpsObjectName(setAside)}`,
    ]);
    expect(metrics(counted)).toEqual({
      'SuccessfulSessions{PolicyDomain=d1999.example.com}': 42,
      'FailedSessions{PolicyDomain=d1999.example.com}': 0,
      'Reports{PolicyDomain=d1999.example.com}': 1,
      'SuccessfulSessions{Mode=testing}': 42,
      'FailedSessions{Mode=testing}': 0,
      'Reports{Mode=testing}': 1,
      'Reports{Outcome=stored}': 1,
      'Messages{Outcome=accepted}': 1,
    });
    expect(metrics(apart)).toEqual({ 'Reports{Outcome=unconfigured}': 1, 'Messages{Outcome=accepted}': 1 });
  });
});
