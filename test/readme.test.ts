import * as fs from 'fs';
import * as path from 'path';
import { LEG } from './leg';
import { POLICY_HOSTING_SUPPRESSIONS } from '../src/private/nag';

/**
 * The README's statements that other files decide: install commands, peer ranges, the Node.js
 * versions CI runs, the acknowledged cdk-nag rules. (Its TypeScript examples are compiled by
 * the `rosetta` step; its statements about resources are pinned by the construct and nag tests.)
 */

const root = path.join(__dirname, '..');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const ci = fs.readFileSync(path.join(root, '.ci', 'run'), 'utf8');
const latestLeg = fs.readFileSync(path.join(root, '.ci', 'test-latest'), 'utf8');

function section(heading: string): string {
  const start = readme.indexOf(`\n## ${heading}\n`);
  expect(start).toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

describe('the README', () => {
  test('installs the tarball that package:js builds for this version', () => {
    // GIVEN
    const install = section('Install');
    const tarball = `dist/js/${manifest.name}@${manifest.version}.jsii.tgz`;

    // THEN
    expect(install).toContain(`npm install ${manifest.name}`);
    expect(install).toContain('npx projen compile && npx projen package:js');
    expect(install).toContain(`npm install /path/to/cdk-mta-sts/${tarball}`);
    expect(manifest.version).toMatch(/^0\.[0-9]+\.[0-9]+$/);
    expect(ci).toContain('npx projen package:js');
  });

  test('states the peer ranges package.json declares', () => {
    // GIVEN
    const peers: Record<string, string> = manifest.peerDependencies;

    // THEN
    expect(Object.keys(peers).sort()).toEqual(['aws-cdk-lib', 'constructs']);
    for (const [name, range] of Object.entries(peers)) {
      expect(section('Install')).toContain(`\`${name}\` \`${range}\``);
      expect(section('Compatibility')).toContain(`\`${name}\` \`${range}\``);
    }
    if (LEG === 'minimum') {
      // The minimum leg tests the lowest version the README promises (the latest leg's copy moves it).
      expect(manifest.devDependencies['aws-cdk-lib']).toEqual(peers['aws-cdk-lib'].replace(/^\^/, ''));
    }
  });

  test('states the Node.js versions CI runs: 20 for the minimum leg, 22 for the latest', () => {
    // THEN
    expect(readme).not.toMatch(/Node\.js 20 or later/);
    expect(section('Compatibility')).toMatch(/\| minimum \|[^\n]*\| 20 \(the machine's\) \|/);
    expect(section('Compatibility')).toMatch(/\| latest \|[^\n]*\| 22 \(the npm registry's `node@22` package\) \|/);
    expect(latestLeg).toContain("'node@^22'");
    expect(latestLeg).toContain("startsWith('v22.')");
    expect(ci).toContain('npx projen test:latest');
  });

  test('lists every cdk-nag rule the policy hosting resources acknowledge, each once', () => {
    // GIVEN
    const table = section('Security notes').split('\n').filter(line => /^\s*\| AwsSolutions-/.test(line));
    const listed = table.map(line => /AwsSolutions-[A-Z]+[0-9]+/.exec(line)![0]).sort();

    // THEN
    const own = Object.values(POLICY_HOSTING_SUPPRESSIONS).flat().map(suppression => suppression.id);
    expect(listed).toEqual([...own].sort());
    expect(new Set(listed).size).toEqual(listed.length);
  });

  test('writes every TypeScript example as a complete program that rosetta compiles without a fixture', () => {
    // GIVEN
    const blocks = [...readme.matchAll(/```(ts|typescript)([^\n]*)\n([\s\S]*?)```/g)];

    // THEN
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    for (const [, , info, code] of blocks) {
      expect(info.trim()).toEqual('nofixture');
      expect(code).toMatch(/^import /);
      expect(code).toMatch(/new App\(\)/);
      expect(code).toMatch(/env: \{ account: '[0-9]{12}', region: '[a-z0-9-]+' \}/);
    }
    // The Regions section shows a complete stack outside us-east-1, which needs no crossRegionReferences.
    expect(section('Regions and the certificate')).toMatch(/```ts nofixture[\s\S]*region: 'eu-west-1'[\s\S]*```/);
    const regionsExample = /```ts nofixture\n([\s\S]*?)```/.exec(section('Regions and the certificate'))![1];
    expect(regionsExample).not.toMatch(/crossRegionReferences/);
  });
});
