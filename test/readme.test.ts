import * as fs from 'fs';
import * as path from 'path';
import { LEG } from './leg';
import { EXIT } from '../src/cli/main';
import { POLICY_HOSTING_SUPPRESSIONS } from '../src/private/nag';

/**
 * The statements of the README, CONTRIBUTING.md and docs/*.md that other files decide: install
 * commands, peer ranges, the Node.js versions CI runs, the acknowledged cdk-nag rules, the
 * warning ids and the exit codes; and the documents' own structure: the README's table of
 * contents and length, and every relative link. (The TypeScript examples are compiled by the
 * `rosetta` step and synthesized by readme-examples.test.ts; statements about resources are
 * pinned by the construct and nag tests.)
 */

const root = path.join(__dirname, '..');
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');
const readme = read('README.md');
const manifest = JSON.parse(read('package.json'));
const ci = read(path.join('.ci', 'run'));
const latestLeg = read(path.join('.ci', 'test-latest'));

/** The README, CONTRIBUTING.md and every docs/*.md, by path from the project root. */
const DOCUMENTS = ['README.md', 'CONTRIBUTING.md', ...fs.readdirSync(path.join(root, 'docs'))
  .filter(name => name.endsWith('.md')).sort().map(name => `docs/${name}`)];

/** The `## heading` section of `file`, up to the next `## ` heading. */
function section(file: string, heading: string): string {
  const text = read(file);
  const start = text.indexOf(`\n## ${heading}\n`);
  expect([file, heading, start > 0]).toEqual([file, heading, true]);
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

/** The text outside fenced code blocks, each fenced line replaced by an empty one (line numbers kept). */
function prose(text: string): string {
  let fenced = false;
  return text.split('\n').map(line => {
    if (/^```/.test(line)) {
      fenced = !fenced;
      return '';
    }
    return fenced ? '' : line;
  }).join('\n');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function anchorOf(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

/** The anchors of every heading of `file`, numbered as GitHub numbers repeated ones. */
function anchorsOf(file: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, heading] of prose(read(file)).matchAll(/^#{1,6} (.+)$/gm)) {
    const anchor = anchorOf(heading);
    const count = seen.get(anchor) ?? 0;
    anchors.add(count === 0 ? anchor : `${anchor}-${count}`);
    seen.set(anchor, count + 1);
  }
  return anchors;
}

/** The rows of the first table in `text` whose header starts with `| <first> |`: the cells of each row. */
function tableRows(text: string, first: string): string[][] {
  const lines = text.split('\n');
  const header = lines.findIndex(line => line.startsWith(`| ${first} |`));
  expect(header).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) {
      break;
    }
    rows.push(line.split('|').slice(1, -1).map(cell => cell.trim()));
  }
  return rows;
}

describe('the README', () => {
  test('installs the tarball that package:js builds for this version', () => {
    // GIVEN
    const install = section('README.md', 'Install');
    const tarball = `dist/js/${manifest.name}@${manifest.version}.jsii.tgz`;

    // THEN
    expect(install).toContain(`npm install ${manifest.name}`);
    expect(install).toContain('npx projen compile && npx projen package:js');
    expect(install).toContain(`npm install /path/to/cdk-mta-sts/${tarball}`);
    expect(manifest.version).toMatch(/^0\.[0-9]+\.[0-9]+$/);
    expect(ci).toContain('npx projen package:js');
    // The other languages' build commands are the projen tasks that exist.
    for (const [, task] of install.matchAll(/`npx projen (package:[a-z]+)`/g)) {
      expect(Object.keys(JSON.parse(read('.projen/tasks.json')).tasks)).toContain(task);
    }
    expect(install).toContain(`dist/python/cdk_mta_sts-${manifest.version}-py3-none-any.whl`);
  });

  test('states the peer ranges package.json declares', () => {
    // GIVEN
    const peers: Record<string, string> = manifest.peerDependencies;

    // THEN
    expect(Object.keys(peers).sort()).toEqual(['aws-cdk-lib', 'constructs']);
    for (const [name, range] of Object.entries(peers)) {
      expect(section('README.md', 'Install')).toContain(`\`${name}\` \`${range}\``);
      expect(section('CONTRIBUTING.md', 'Compatibility')).toContain(`\`${name}\` \`${range}\``);
    }
    if (LEG === 'minimum') {
      // The minimum leg tests the lowest version the README promises (the latest leg's copy moves it).
      expect(manifest.devDependencies['aws-cdk-lib']).toEqual(peers['aws-cdk-lib'].replace(/^\^/, ''));
    }
  });

  test('states the Node.js versions CI runs: 20 for the minimum leg, 22 for the latest', () => {
    // GIVEN
    const compatibility = section('CONTRIBUTING.md', 'Compatibility');

    // THEN
    for (const file of DOCUMENTS) {
      expect([file, /Node\.js 20 or later/.test(read(file))]).toEqual([file, false]);
    }
    expect(compatibility).toMatch(/\| minimum \|[^\n]*\| 20 \(the machine's\) \|/);
    expect(compatibility).toMatch(/\| latest \|[^\n]*\| 22 \(the npm registry's `node@22` package\) \|/);
    expect(latestLeg).toContain("'node@^22'");
    expect(latestLeg).toContain("startsWith('v22.')");
    expect(ci).toContain('npx projen test:latest');
  });

  test('lists every cdk-nag rule the policy hosting resources acknowledge, each once', () => {
    // GIVEN
    const table = section('docs/design.md', 'Security notes').split('\n').filter(line => /^\s*\| AwsSolutions-/.test(line));
    const listed = table.map(line => /AwsSolutions-[A-Z]+[0-9]+/.exec(line)![0]).sort();

    // THEN
    const own = Object.values(POLICY_HOSTING_SUPPRESSIONS).flat().map(suppression => suppression.id);
    expect(listed).toEqual([...own].sort());
    expect(new Set(listed).size).toEqual(listed.length);
  });

  test('writes every TypeScript example as a complete program that rosetta compiles without a fixture', () => {
    // GIVEN the README's examples (compiled by rosetta) and those of docs/ (type-checked by readme-examples)
    const blocksOf = (file: string) => [...read(file).matchAll(/^```(ts|typescript)([^\n]*)\n([\s\S]*?)^```$/gm)];
    const blocks = blocksOf('README.md');

    // THEN
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    for (const [, , info, code] of DOCUMENTS.filter(file => file.startsWith('docs/')).flatMap(blocksOf).concat(blocks)) {
      expect(info.trim()).toEqual('nofixture');
      expect(code).toMatch(/^import /);
      expect(code).toMatch(/new App\(\)/);
      expect(code).toMatch(/env: \{ account: '[0-9]{12}', region: '[a-z0-9-]+' \}/);
    }
    // The Regions section shows a complete stack outside us-east-1, which needs no crossRegionReferences.
    const regions = section('docs/design.md', 'Regions and the certificate');
    expect(regions).toMatch(/```ts nofixture[\s\S]*region: 'eu-west-1'[\s\S]*```/);
    const regionsExample = /```ts nofixture\n([\s\S]*?)```/.exec(regions)![1];
    expect(regionsExample).not.toMatch(/crossRegionReferences/);
  });

  test('has a table of contents that lists exactly its ## headings, in order, with working anchors', () => {
    // GIVEN
    const headings = [...prose(readme).matchAll(/^## (.+)$/gm)].map(match => match[1]).filter(heading => heading !== 'Contents');
    const contents = [...section('README.md', 'Contents').matchAll(/\[([^\]]+)\]\(#([^)]+)\)/g)];

    // THEN
    expect(contents.map(([, text]) => text)).toEqual(headings);
    expect(contents.map(([, , anchor]) => anchor)).toEqual(headings.map(anchorOf));
    for (const [, , anchor] of contents) {
      expect(anchorsOf('README.md')).toContain(anchor);
    }
  });

  test('stays a guide read top to bottom: under 470 lines, ending with the full API', () => {
    // THEN
    expect(readme.split('\n').length).toBeLessThan(470);
    expect(readme.trimEnd()).toMatch(/Full API: \[API\.md\]\(\.\/API\.md\)\.$/);
  });

  test('shows how to acknowledge every warning and note id the constructs add, each once', () => {
    // GIVEN every id the source adds (a quoted `cdk-mta-sts:<name>`), and the troubleshooting table
    const sources = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap(entry =>
      entry.isDirectory() ? sources(path.join(dir, entry.name)) : entry.name.endsWith('.ts') ? [path.join(dir, entry.name)] : []);
    const ids = new Set(sources(path.join(root, 'src')).flatMap(file =>
      [...fs.readFileSync(file, 'utf8').matchAll(/'(cdk-mta-sts:[A-Za-z]+)'/g)].map(match => match[1])));
    const rows = tableRows(section('README.md', 'Troubleshooting'), 'id');

    // THEN
    expect(rows.map(([id]) => id.replace(/`/g, '')).sort()).toEqual([...ids].sort());
    for (const [id, level, , , acknowledge] of rows) {
      const bare = id.replace(/`/g, '');
      expect(acknowledge).toContain(level === 'info' ? `acknowledgeInfo('${bare}'` : `acknowledgeWarning('${bare}'`);
    }
  });
});

describe('the check command exit codes', () => {
  test.each([
    ['README.md', 'Troubleshooting'],
    ['docs/check.md', 'Exit status'],
  ])('are all in the table of %s, section %s', (file, heading) => {
    // GIVEN
    const statuses = tableRows(section(file, heading), 'status').map(([status]) => Number(status));

    // THEN
    expect(statuses).toEqual(Object.values(EXIT).sort((a, b) => a - b));
  });
});

describe('the documentation', () => {
  test.each(DOCUMENTS)('%s links only to files and headings that exist', (file) => {
    // GIVEN every relative link outside code: [text](target), target without a scheme
    const links = [...prose(read(file)).matchAll(/\]\(([^)\s]+)\)/g)].map(match => match[1])
      .filter(target => !/^[a-z][a-z0-9+.-]*:/i.test(target));

    // THEN
    expect(links.length).toBeGreaterThan(0);
    const broken = links.filter(target => {
      const [pathPart, anchor] = target.split('#');
      const linked = pathPart === '' ? file : path.normalize(path.join(path.dirname(file), pathPart));
      if (!fs.existsSync(path.join(root, linked))) {
        return true;
      }
      return anchor !== undefined && !(linked.endsWith('.md') && anchorsOf(linked).has(anchor));
    });
    expect(broken).toEqual([]);
  });

  test('links the README to every document of docs/ and to CONTRIBUTING.md', () => {
    // THEN
    for (const file of DOCUMENTS.filter(name => name !== 'README.md')) {
      expect(readme).toContain(`](${file}`);
    }
  });
});
