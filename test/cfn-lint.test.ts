import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Stack } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { MtaSts, MtaStsDomains, MtaStsMode } from '../src';
import { CERTIFICATE_ARN, exampleStack } from './fixtures';

/**
 * Lints the synthesized templates of the main configurations with cfn-lint (the CloudFormation
 * linter, a Python tool), offline: it checks against the resource schemas it ships with.
 * Errors (E...) fail the test; warnings are printed. Skipped when cfn-lint is not on the PATH.
 */


const probe = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
const cfnLintMissing = (probe.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
if (cfnLintMissing) {
  console.warn('cfn-lint is not on the PATH (spawn cfn-lint: ENOENT), so the cfn-lint tests are skipped; install it with `pip install cfn-lint`.');
}
const lintTest = cfnLintMissing
  ? (name: string, fn: () => void) => test.skip(`${name} [skipped: cfn-lint is not installed]`, fn)
  : test;

interface Configuration {
  readonly region: string;
  readonly suppliedCertificate?: boolean;
  readonly tlsRpt: boolean;
  /** Publish this many domains with MtaStsDomains instead of one with MtaSts. */
  readonly domains?: number;
  /** MtaStsDomains's `shards`. */
  readonly shards?: number;
  /** Stack outputs of MtaSts (default: on). */
  readonly outputs?: boolean;
  /** The stacks (templates) the app must contain. */
  readonly stacks: string[];
}

const CONFIGURATIONS: Record<string, Configuration> = {
  'a us-east-1 stack creating its certificate, with TLS-RPT': { region: 'us-east-1', tlsRpt: true, stacks: ['Stack'] },
  'a us-east-1 stack creating its certificate, without TLS-RPT': { region: 'us-east-1', tlsRpt: false, stacks: ['Stack'] },
  'a us-east-1 stack with outputs turned off': { region: 'us-east-1', tlsRpt: true, outputs: false, stacks: ['Stack'] },
  'a eu-west-1 stack with its resources in a us-east-1 companion stack': { region: 'eu-west-1', tlsRpt: true, stacks: ['Stack', 'Stack-MtaSts'] },
  'a eu-west-1 stack with a supplied us-east-1 certificate': { region: 'eu-west-1', suppliedCertificate: true, tlsRpt: false, stacks: ['Stack', 'Stack-MtaSts'] },
  'MtaStsDomains with 25 domains in a us-east-1 stack': { region: 'us-east-1', tlsRpt: true, domains: 25, stacks: ['Stack'] },
  'MtaStsDomains with 12 domains in eu-west-1 and a us-east-1 companion stack': {
    region: 'eu-west-1', tlsRpt: true, domains: 12, stacks: ['Stack', 'Stack-MtaSts'],
  },
  'MtaStsDomains with 12 domains in eu-west-1, in 3 us-east-1 shard stacks': {
    region: 'eu-west-1', tlsRpt: true, domains: 12, shards: 3, stacks: ['Stack', 'Stack-MtaSts-Shard0', 'Stack-MtaSts-Shard1', 'Stack-MtaSts-Shard2'],
  },
};

/** One finding of `cfn-lint --format json`. */
interface CfnLintFinding {
  readonly Level: string;
  readonly Message: string;
  readonly Rule: { readonly Id: string };
  readonly Location: { readonly Path?: Array<string | number>; readonly Start: { readonly LineNumber: number } };
}

let outdirs: string[] = [];
afterAll(() => {
  outdirs.forEach(dir => fs.rmSync(dir, { recursive: true, force: true }));
  outdirs = [];
});

function synthesize(config: Configuration): Array<{ stack: Stack; templatePath: string }> {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-mta-sts-cfn-lint-'));
  outdirs.push(outdir);
  const { app, stack, hostedZone } = exampleStack(config.region, { outdir });
  if (config.domains !== undefined) {
    const modes = [MtaStsMode.TESTING, MtaStsMode.ENFORCE, MtaStsMode.NONE];
    new MtaStsDomains(stack, 'MtaSts', {
      shards: config.shards,
      mx: ['*.mail.example.net'],
      tlsRpt: { rua: ['mailto:tls-reports@example.net'] },
      domains: Array.from({ length: config.domains }, (_, i) => ({
        hostedZone: route53.HostedZone.fromHostedZoneAttributes(stack, `Zone${i}`, { hostedZoneId: `Z0123456789ABCDEFG${i}`, zoneName: `brand${i}.example` }),
        mode: modes[i % 3],
      })),
    });
  } else {
    new MtaSts(stack, 'MtaSts', {
      hostedZone,
      mx: ['mx1.example.com', '*.mail.example.com'],
      certificate: config.suppliedCertificate ? acm.Certificate.fromCertificateArn(stack, 'Certificate', CERTIFICATE_ARN) : undefined,
      tlsRpt: config.tlsRpt ? { rua: ['mailto:tls-reports@example.com'] } : undefined,
      outputs: config.outputs,
    });
  }
  const assembly = app.synth();
  return app.node.children.filter(Stack.isStack).map(s => ({
    stack: s,
    templatePath: path.join(assembly.directory, s.templateFile),
  }));
}

function cfnLint(templatePath: string, region: string): CfnLintFinding[] {
  const result = spawnSync('cfn-lint', ['--format', 'json', '--regions', region, '--', templatePath], {
    encoding: 'utf8',
    timeout: 50_000,
  });
  if (result.error) {
    throw result.error;
  }
  try {
    return JSON.parse(result.stdout || '[]');
  } catch {
    throw new Error(`cfn-lint exited with ${result.status} and no JSON report; stderr:\n${result.stderr}`);
  }
}

const describeFinding = (finding: CfnLintFinding) =>
  `${finding.Rule.Id} at ${(finding.Location.Path ?? []).join('/')} (line ${finding.Location.Start.LineNumber}): ${finding.Message}`;

describe.each(Object.entries(CONFIGURATIONS))('cfn-lint on %s', (name, config) => {
  lintTest('finds no error in any template of the app', () => {
    // GIVEN
    const templates = synthesize(config);

    // WHEN
    const reports: Array<{ stack: string; findings: CfnLintFinding[] }> = templates.map(({ stack, templatePath }) => ({
      stack: stack.stackName,
      findings: cfnLint(templatePath, stack.region),
    }));

    // THEN
    expect(reports.map(report => report.stack)).toEqual(config.stacks);
    // Outside us-east-1 every MTA-STS resource lives in the companion stack, so a stack holding
    // only MtaSts has no Resources section; the CDK CLI skips deploying such a stack, so cfn-lint's
    // E1001 ("'Resources' is a required property") is expected for it and for nothing else.
    for (const { stack, templatePath } of templates) {
      const empty = Object.keys(JSON.parse(fs.readFileSync(templatePath, 'utf8')).Resources ?? {}).length === 0;
      expect({ stack: stack.stackName, empty }).toEqual({ stack: stack.stackName, empty: stack.region !== 'us-east-1' });
    }
    for (const report of reports) {
      const templateIsEmpty = templates.find(t => t.stack.stackName === report.stack)!.stack.region !== 'us-east-1';
      report.findings = report.findings.filter(finding => !(templateIsEmpty && finding.Rule.Id === 'E1001' && finding.Message === "'Resources' is a required property"));
      const warnings = report.findings.filter(finding => !finding.Rule.Id.startsWith('E'));
      if (warnings.length > 0) {
        console.log(`cfn-lint warnings for ${report.stack} (${name}):\n${warnings.map(describeFinding).map(line => `  ${line}`).join('\n')}`);
      }
      expect({ stack: report.stack, errors: report.findings.filter(finding => finding.Rule.Id.startsWith('E')).map(describeFinding) })
        .toEqual({ stack: report.stack, errors: [] });
    }
  });
});
