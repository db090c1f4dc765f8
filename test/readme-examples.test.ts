import * as fs from 'fs';
import * as path from 'path';
import { App, Aspects, IAspect, Stack } from 'aws-cdk-lib';
import * as ts from 'typescript';
import { CDK_NAG_MAJOR, LEG } from './leg';

/**
 * Every ```ts nofixture example of README.md and docs/*.md, run as a user runs it: the whole
 * program, with `cdk-mta-sts` mapped to this project's src/, type-checked, then synthesized with
 * cdk-nag's AwsSolutionsChecks registered the way the installed cdk-nag says (cdk-nag 2 in the
 * minimum leg as an aspect, cdk-nag 3 in the latest leg as a validation plugin). An example must
 * synthesize with no error, no warning it does not acknowledge itself, no cdk-nag or
 * CloudFormation validation finding, and no deprecation warning.
 */

const root = path.join(__dirname, '..');
const SRC_INDEX = path.join(root, 'src', 'index');

// eslint-disable-next-line @typescript-eslint/no-require-imports
const cdkNag = require('cdk-nag');

interface Example {
  /** `README.md:123`: the file and the line of the opening fence. */
  readonly where: string;
  readonly code: string;
}

function documents(): string[] {
  const docs = path.join(root, 'docs');
  const inDocs = fs.existsSync(docs)
    ? fs.readdirSync(docs).filter(name => name.endsWith('.md')).sort().map(name => `docs/${name}`)
    : [];
  return ['README.md', ...inDocs];
}

function examplesOf(file: string): Example[] {
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  return [...text.matchAll(/^```ts nofixture\n([\s\S]*?)^```$/gm)].map(match => ({
    where: `${file}:${text.slice(0, match.index).split('\n').length}`,
    code: match[1],
  }));
}

const EXAMPLES = documents().flatMap(examplesOf);

/** The example as a module of this project: `cdk-mta-sts` is src/. */
function asProjectModule(code: string): string {
  return code.replace(/from 'cdk-mta-sts';/g, `from ${JSON.stringify(SRC_INDEX)};`);
}

/** Type errors of every example, by `where`: one program over all of them, as strict as the library's. */
function typeCheck(examples: Example[]): Map<string, string[]> {
  // Inside the project (git ignores .cache), so that aws-cdk-lib and constructs resolve as for src/.
  const cache = path.join(root, '.cache');
  fs.mkdirSync(cache, { recursive: true });
  const dir = fs.mkdtempSync(path.join(cache, 'readme-examples-'));
  try {
    const files = examples.map((example, i) => {
      const file = path.join(dir, `example${i}.ts`);
      fs.writeFileSync(file, asProjectModule(example.code));
      return file;
    });
    const program = ts.createProgram(files, {
      strict: true,
      noImplicitReturns: true,
      noFallthroughCasesInSwitch: true,
      module: ts.ModuleKind.Node16,
      moduleResolution: ts.ModuleResolutionKind.Node16,
      target: ts.ScriptTarget.ES2022,
      lib: ['lib.es2022.d.ts'],
      types: ['node'],
      esModuleInterop: true,
      skipLibCheck: true,
      noEmit: true,
    });
    const errors = new Map<string, string[]>();
    examples.forEach((example, i) => {
      const source = program.getSourceFile(files[i])!;
      const diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
      errors.set(example.where, diagnostics.map(diagnostic => {
        const line = diagnostic.start === undefined ? '?' : source.getLineAndCharacterOfPosition(diagnostic.start).line + 1;
        return `line ${line} of the example: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
      }));
    });
    return errors;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    if (fs.readdirSync(cache).length === 0) {
      fs.rmdirSync(cache);
    }
  }
}

/** Runs the example's program in this process and returns its `app`. */
function runExample(example: Example): App {
  const js = ts.transpileModule(`${asProjectModule(example.code)}\n__example.app = app;\n`, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: `${example.where.replace(/[^A-Za-z0-9]/g, '_')}.ts`,
  }).outputText;
  const holder: { app?: App } = {};
  const module = { exports: {} };
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  new Function('require', 'module', 'exports', '__example', js)(require, module, module.exports, holder);
  if (!(holder.app instanceof App)) {
    throw new Error(`${example.where}: the example has no \`const app = new App()\``);
  }
  return holder.app;
}

/** Registers AwsSolutionsChecks as the installed cdk-nag's README says. */
function registerNag(app: App): void {
  if (CDK_NAG_MAJOR === 2) {
    Aspects.of(app).add(new cdkNag.AwsSolutionsChecks() as IAspect);
  } else {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Validations } = require('aws-cdk-lib');
    Validations.of(app).addPlugins(new cdkNag.AwsSolutionsChecks(app));
  }
}

interface Synthesis {
  /** Error and warning annotations left in the assembly: `<level> at <path>: <message>`. */
  readonly annotations: string[];
  /** Findings of validation plugins (cdk-nag 3, CloudFormation validation), from the validation report. */
  readonly findings: string[];
  /** What the program and synthesis wrote with console.warn or console.error. */
  readonly console: string[];
  /** The stacks and their resource counts. */
  readonly stacks: Record<string, number>;
}

interface ValidationReport {
  readonly pluginReports: Array<{
    readonly pluginName: string;
    readonly violations: Array<{
      readonly ruleName: string;
      readonly severity: string;
      readonly description: string;
      readonly violatingConstructs?: Array<{ readonly constructPath: string }>;
      readonly violatingResources?: Array<{ readonly constructPath?: string; readonly resourceLogicalId?: string }>;
    }>;
  }>;
}

function synthesize(example: Example): Synthesis {
  const printed: string[] = [];
  const capture = (...args: unknown[]) => { printed.push(args.map(String).join(' ')); };
  const warn = jest.spyOn(console, 'warn').mockImplementation(capture);
  const error = jest.spyOn(console, 'error').mockImplementation(capture);
  try {
    const app = runExample(example);
    registerNag(app);
    const assembly = app.synth();
    const annotations = assembly.stacks.flatMap(stack => stack.messages
      .filter(message => message.level !== 'info')
      .map(message => `${message.level} at ${message.id}: ${String(message.entry.data)}`));
    const reportFile = path.join(assembly.directory, 'validation-report.json');
    const report: ValidationReport = fs.existsSync(reportFile) ? JSON.parse(fs.readFileSync(reportFile, 'utf8')) : { pluginReports: [] };
    const findings = report.pluginReports.flatMap(plugin => plugin.violations.map(violation => {
      const at = [...violation.violatingConstructs ?? [], ...violation.violatingResources ?? []]
        .map(construct => construct.constructPath).join(', ');
      return `${plugin.pluginName} ${violation.ruleName} (${violation.severity}) at ${at}: ${violation.description}`;
    }));
    const stacks = Object.fromEntries(app.node.children.filter(Stack.isStack).map(stack => [
      stack.stackName,
      Object.keys(assembly.getStackArtifact(stack.artifactId).template.Resources ?? {}).length,
    ]));
    return { annotations, findings, console: printed, stacks };
  } finally {
    warn.mockRestore();
    error.mockRestore();
  }
}

describe(`the TypeScript examples of README.md and docs/*.md, synthesized with cdk-nag ${CDK_NAG_MAJOR} (${LEG} leg)`, () => {
  let typeErrors: Map<string, string[]>;
  beforeAll(() => {
    typeErrors = typeCheck(EXAMPLES);
  });

  test('are found: the README has its examples, and every example is a complete program', () => {
    // THEN
    expect(EXAMPLES.filter(example => example.where.startsWith('README.md:')).length).toBeGreaterThanOrEqual(5);
    for (const example of EXAMPLES) {
      expect([example.where, (example.code.match(/^const app = new App\(\);$/gm) ?? []).length]).toEqual([example.where, 1]);
    }
  });

  test.each(EXAMPLES.map(example => [example.where, example] as const))('%s type-checks and synthesizes clean', (_where, example) => {
    // GIVEN
    expect(typeErrors.get(example.where)).toEqual([]);

    // WHEN
    const synthesis = synthesize(example);

    // THEN
    expect(synthesis.annotations).toEqual([]);
    expect(synthesis.findings).toEqual([]);
    expect(synthesis.console.filter(line => /deprecat/i.test(line))).toEqual([]);
    expect(Object.keys(synthesis.stacks).length).toBeGreaterThan(0);
    for (const [stackName, resources] of Object.entries(synthesis.stacks)) {
      expect([stackName, resources > 0]).toEqual([stackName, true]);
    }
  });
});
