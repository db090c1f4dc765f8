import { JsonFile, awscdk, javascript } from 'projen';

const project = new awscdk.AwsCdkConstructLibrary({
  name: 'cdk-mta-sts',
  description: 'AWS CDK constructs that publish RFC 8461 MTA-STS policies and RFC 8460 TLS-RPT records on S3, CloudFront, ACM and Route 53.',
  author: 'cdk-mta-sts developers',
  authorAddress: 'maintainers@example.com',
  repositoryUrl: 'https://example.com/cdk-mta-sts.git',
  license: 'Apache-2.0',
  keywords: ['cdk', 'aws-cdk', 'mta-sts', 'tls-rpt', 'smtp', 'email', 'rfc8461', 'rfc8460'],
  defaultReleaseBranch: 'main',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  jsiiVersion: '~6.0.0',

  // Minimum aws-cdk-lib, also the version the tests run against (projen pins the dev dependency to it).
  // 2.156.0 added S3BucketOrigin.withOriginAccessControl, but only from 2.197.0 on does the
  // AwsCustomResource that uploads the policy synthesize a nodejs22.x Lambda: older versions emit
  // nodejs20.x, which AWS no longer lets you create (cfn-lint E2533).
  cdkVersion: '2.197.0',
  // The constructs peer range is the one aws-cdk-lib 2.197.0 itself declares (^10.0.0), so every app
  // that can use that aws-cdk-lib can use this library; the code uses nothing newer than constructs 10.0.
  constructsVersion: '10.0.0',
  // projen would pin each peer's dev dependency to the peer minimum; constructs 10.0.0 cannot be
  // tested (cdk-nag needs ^10.5.1), so the dev dependencies are pinned explicitly below.
  peerDependencyOptions: { pinnedDevDependency: false },

  // Nothing here can reach GitHub: no workflows, no release pipeline, no mergify.
  github: false,
  release: false,
  // The README is hand-written; do not generate sample code.
  sampleCode: false,

  // jest 30 and eslint-import-resolver-typescript 4 depend on unrs-resolver, whose non-Linux
  // optional binaries the registry here lacks, so `npm ci` fails on the lock file. These versions
  // resolve with plain JavaScript.
  jestOptions: {
    jestVersion: '^29',
    // Snapshots are assertions: a mismatch must fail, never be rewritten by the test run.
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
    passWithNoTests: false,
    jestConfig: {
      // Snapshot serializer that masks asset hashes so an aws-cdk-lib upgrade alone does not churn snapshots.
      snapshotSerializers: ['<rootDir>/test/asset-hash-serializer.ts'],
      testTimeout: 60_000,
    },
  },

  devDeps: [
    // Independent MTA-STS client used to parse what the construct publishes (4.x runs on Node 20).
    'mailauth@^4.9.5',
    // Property-based tests for render/validate round trips.
    'fast-check@^4',
    // AWS Solutions security rules; major 2 matches aws-cdk-lib v2.
    'cdk-nag@^2',
    // Types for the publisher handler; at run time the Lambda runtime provides the SDK.
    '@aws-sdk/client-route-53@^3',
    // TLS-RPT collector handler: S3 and SES clients, bundled as externals (the nodejs22.x runtime ships SDK v3).
    '@aws-sdk/client-s3@^3',
    '@aws-sdk/client-ses@^3',
    // A real S3-compatible server on loopback for the collector handler tests (no AWS account).
    's3rver@^3.7.1',
    '@types/s3rver@^3.7.4',
    // Test CA and certificates for the check command's loopback HTTPS and SMTP servers (pure JS, no openssl CLI).
    'node-forge@^1',
    '@types/node-forge@^1',
  ],

  // The live checker (issue 8): `npx cdk-mta-sts check example.com`. Node built-ins only, no runtime deps.
  bin: { 'cdk-mta-sts': 'lib/cli/main.js' },

  // Compile-time checks for every jsii language; packaging them needs toolchains and network we lack.
  publishToPypi: { distName: 'cdk-mta-sts', module: 'cdk_mta_sts' },
  publishToMaven: {
    javaPackage: 'io.github.cdkmtasts',
    mavenGroupId: 'io.github.cdkmtasts',
    mavenArtifactId: 'cdk-mta-sts',
  },
  publishToNuget: { dotNetNamespace: 'CdkMtaSts', packageId: 'CdkMtaSts' },
  publishToGo: { moduleName: 'github.com/cdk-mta-sts/cdk-mta-sts-go' },

  gitignore: ['cdk.out', '/example/cdk.out', '/example/cdk.out-many', '/bench/out'],
  // Lambda handlers are bundled by esbuild (see bundleHandler below), not compiled by jsii:
  // they import the AWS SDK, which is no dependency of the library.
  excludeTypescript: ['src/handlers/**'],
  // example/ and bench/ are type-checked and run with the test tsconfig.
  tsconfigDev: { include: ['example/**/*.ts', 'bench/**/*.ts'] },
});

// 0.x until the API is declared stable; with `release: false` projen would write 0.0.0, which
// looks unreleased and cannot be told apart from a local build.
project.package.addVersion('0.1.0');

// The test versions of the peers, pinned here rather than by projen (see peerDependencyOptions):
// aws-cdk-lib at the peer minimum; constructs at 10.5.1, the lowest that cdk-nag 2 and 3 accept.
project.addDevDeps('aws-cdk-lib@2.197.0', 'constructs@10.5.1');

// The npm tarball holds only what an installed package runs or documents (test/package.test.ts
// asserts it): compiled code (lib/, also the CLI the `bin` points at), the jsii manifest, the
// Lambda handler bundles (assets/), README, API.md, LICENSE and package.json (npm adds the last three).
project.package.addField('files', ['lib/**/*.js', 'lib/**/*.d.ts', '.jsii', 'assets/', 'API.md']);

// See jestOptions: the eslint component adds resolver 4.x (unrs-resolver); 3.6 uses enhanced-resolve.
project.deps.removeDependency('eslint-import-resolver-typescript');
project.addDevDeps('eslint-import-resolver-typescript@~3.6.3');

/**
 * Bundles a Lambda handler (src/handlers/<name>/index.ts and the pure core it imports) into
 * assets/handlers/<name>/index.js, which ships in the npm package. The AWS SDK v3 stays
 * external: the nodejs22.x runtime provides it.
 */
function bundleHandler(name: string): void {
  project.bundler.addBundle(`src/handlers/${name}/index.ts`, {
    platform: 'node',
    target: 'node22',
    externals: ['@aws-sdk/*'],
    watchTask: false,
  });
}
bundleHandler('publisher');
// TLS-RPT collector Lambda code, bundled at build time into assets/ (shipped in the npm package).
// The AWS SDK v3 is left out: the nodejs22.x runtime provides it.
project.bundler.addBundle('src/handlers/tlsrpt-collector/index.ts', { platform: 'node', target: 'node22', externals: ['@aws-sdk/*'] });
// The custom resource that activates the collector's receipt rule set: its own small bundle, its own role.
project.bundler.addBundle('src/handlers/tlsrpt-collector/rule-set-activation.ts', { platform: 'node', target: 'node22', externals: ['@aws-sdk/*'] });

// Handlers bundle their devDeps (and use the runtime's AWS SDK): the library itself keeps zero runtime deps.
project.eslint?.allowDevDeps('src/handlers/**');


// The handler code is outside the jsii tsconfig (excludeTypescript); this tsconfig lets eslint's project service
// and editors type-check it with the test settings.
new JsonFile(project, 'src/handlers/tsconfig.json', {
  obj: { extends: '../../test/tsconfig.json', include: ['**/*.ts'], exclude: [] },
  marker: false,
});

// The README's main job: synthesize the example stack and print what it would publish.
project.addTask('example', {
  description: 'Synthesize the example stack for example.com and print the policy file and DNS records',
  exec: 'ts-node --project test/tsconfig.json example/main.ts',
});
project.addTask('example:collector', {
  description: 'The example stack with a TLS-RPT collector (SES reception, storage, metrics) for example.com',
  exec: 'ts-node --project test/tsconfig.json example/main.ts --with-collector',
});
// The README's "Many domains": 1,000 domains from one MtaStsDomains, spread over shard stacks.
project.addTask('example:many', {
  description: 'Synthesize 1,000 policy domains from one MtaStsDomains (25 shards) and print the stacks, resource counts and template sizes',
  exec: 'ts-node --project test/tsconfig.json example/many.ts',
});

// Benchmark, not a test: synth time, resources, Lambdas, asset and template bytes for 1/10/50/82
// domains in one stack and 100/500/1,000 in shards, the construct's overhead over hand-written L2
// code, and 100 and 1,000 publications of the packaged publisher against moto with Route 53
// throttled to 5 requests/s.
project.addTask('bench', {
  description: 'Benchmark synthesis of MtaStsDomains (1 to 1,000 domains), MtaSts against hand-written L2 code, and throttled publications at scale',
  exec: 'ts-node --project test/tsconfig.json bench/bench.ts',
});

// The README's test command and CI: jsii compile (checks the API for every target language),
// API.md regeneration, then jest and eslint.
project.addTask('check', {
  description: 'Compile with jsii, regenerate API.md, run the test suite and lint',
  steps: [
    { spawn: 'compile' },
    { spawn: 'post-compile' },
    // API.md is committed: fail when the public API changed and it was not regenerated.
    // (Skipped outside a git checkout; `-e`, not `-d`: in a git worktree .git is a file.)
    { exec: 'git diff --exit-code -- API.md', condition: 'test -e .git' },
    { spawn: 'test' },
  ],
});

// Every TypeScript example, in the README and in doc comments, must compile: jsii-rosetta in strict
// mode fails on any that does not. It writes the translations (.jsii.tabl.json) that docgen and
// pacmak then use, so it runs right after compile, before API.md is generated.
const rosetta = project.addTask('rosetta', {
  description: 'Compile every TypeScript example (README and doc comments) with jsii-rosetta in strict mode',
  exec: 'jsii-rosetta extract --strict',
});
project.postCompileTask.prependSpawn(rosetta);
project.gitignore.exclude('.jsii.tabl.json');

// The second CI leg: the suite (minus the minimum's snapshots) against the latest aws-cdk-lib 2.x
// and cdk-nag 3 under Node.js 22, in a throw-away copy so the lock file keeps the minimum.
project.addTask('test:latest', {
  description: 'Run the tests and the example against the latest aws-cdk-lib 2.x and cdk-nag 3 under Node.js 22 (needs the npm registry)',
  exec: 'bash .ci/test-latest',
});

// Every task that synthesizes a stack or packs the package needs the Lambda bundles (assets/, which git
// ignores): each builds them first (esbuild, well under a second), so that any of them works on a fresh
// clone, in any order, and the tarball built by the README's Install commands holds them.
for (const name of ['compile', 'test', 'example', 'example:collector', 'example:many', 'bench', 'package', 'package:js', 'test:latest']) {
  project.tasks.tryFind(name)!.prependSpawn(project.bundler.bundleTask);
}

project.synth();
