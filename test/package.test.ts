import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/**
 * The npm tarball holds what an installed package runs or documents, and nothing else: the
 * compiled library (lib/, including the CLI the `bin` points at), the jsii manifest, the Lambda
 * handler bundles (assets/), README, API.md, LICENSE and package.json. No sources, tests, CI
 * scripts, benchmarks or examples (they import ../src, which is not shipped).
 *
 * Lists the tarball with `npm pack --dry-run --json` (no network), so it needs the compiled
 * library: `npx projen compile` first (`npx projen check` does).
 */

const root = path.join(__dirname, '..');

/** What may be in the tarball: new files under lib/ and assets/ pass, anything else fails. */
const ALLOWED: RegExp[] = [
  /^lib\/.+\.js$/,
  /^lib\/.+\.d\.ts$/,
  /^assets\/.+/,
  /^\.jsii$/,
  /^API\.md$/,
  /^README\.md$/,
  /^LICENSE$/,
  /^package\.json$/,
];

/** Files the repository has that must never be published. */
const NEVER = ['.ci/run', '.projenrc.ts', 'src/index.ts', 'test/package.test.ts', 'example/main.ts', 'bench/bench.ts', 'tsconfig.json', 'package-lock.json'];

const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

function packedFiles(): string[] {
  if (!fs.existsSync(path.join(root, 'lib', 'index.js'))) {
    throw new Error('lib/index.js is missing: run `npx projen compile` before this test');
  }
  const result = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`npm pack --dry-run failed (${result.status}): ${result.stderr}`);
  }
  const [pack] = JSON.parse(result.stdout);
  expect(pack.filename).toEqual(`${manifest.name}-${manifest.version}.tgz`);
  return pack.files.map((file: { path: string }) => file.path).sort();
}

describe('the npm tarball', () => {
  const files = packedFiles();

  test('holds only allowed files', () => {
    // THEN
    expect(files.filter(file => !ALLOWED.some(pattern => pattern.test(file)))).toEqual([]);
  });

  test('holds the manifest, docs, licence and the compiled entry points', () => {
    // THEN
    for (const required of ['.jsii', 'API.md', 'README.md', 'LICENSE', 'package.json', manifest.main, manifest.types]) {
      expect(files).toContain(required);
    }
  });

  test('holds every file the bin entries point at', () => {
    // GIVEN
    const bin: Record<string, string> = typeof manifest.bin === 'string' ? { [manifest.name]: manifest.bin } : manifest.bin ?? {};

    // THEN
    for (const target of Object.values(bin)) {
      expect(files).toContain(path.posix.normalize(target));
    }
  });

  test('holds every compiled file of lib/ and every handler bundle of assets/', () => {
    // GIVEN
    const onDisk = (dir: string, keep: (file: string) => boolean): string[] => !fs.existsSync(path.join(root, dir)) ? [] :
      (fs.readdirSync(path.join(root, dir), { recursive: true }) as string[])
        .map(file => path.posix.join(dir, file.split(path.sep).join('/')))
        .filter(file => fs.statSync(path.join(root, file)).isFile() && keep(file));

    // WHEN
    const expected = [
      ...onDisk('lib', file => /\.(js|d\.ts)$/.test(file)),
      ...onDisk('assets', () => true),
    ];

    // THEN
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.filter(file => !files.includes(file))).toEqual([]);
  });

  test('fails to hold sources, tests, CI scripts, examples or benchmarks', () => {
    // GIVEN the repository has these files
    const present = NEVER.filter(file => fs.existsSync(path.join(root, file)));
    expect(present.length).toBeGreaterThanOrEqual(6);

    // THEN
    expect(files.filter(file => NEVER.includes(file) || /^(src|test|example|bench|\.ci|projenrc|rosetta)\//.test(file))).toEqual([]);
  });
});

describe('the tasks that synthesize or pack', () => {
  // `npm ci && npx projen example` on a fresh clone, and the tarball the README's Install commands
  // build (`npx projen compile && npx projen package:js`), need the Lambda bundles, which git ignores.
  const tasks = JSON.parse(fs.readFileSync(path.join(root, '.projen', 'tasks.json'), 'utf8')).tasks;
  const HANDLER_BUNDLES = ['publisher/index', 'tlsrpt-collector/index', 'tlsrpt-collector/rule-set-activation'];

  test.each(['compile', 'test', 'example', 'example:collector', 'example:many', 'bench', 'package', 'package:js', 'test:latest'])(
    '%s builds the Lambda bundles first', (name) => {
      expect(tasks[name].steps[0]).toEqual({ spawn: 'bundle' });
    });

  test('the bundle task builds every handler the constructs package', () => {
    expect(tasks.bundle.steps).toEqual(HANDLER_BUNDLES.map(bundle => ({ spawn: `bundle:handlers/${bundle}` })));
  });

  test('the tarball holds every handler bundle', () => {
    const files = packedFiles();
    expect(HANDLER_BUNDLES.map(bundle => `assets/handlers/${bundle}/index.js`).filter(file => !files.includes(file))).toEqual([]);
  });
});
