/**
 * Which CI leg the tests run in, told explicitly by the environment:
 *
 * - `minimum` (the default; `npm ci && npx projen check`): the locked aws-cdk-lib, the minimum
 *   peer version, with cdk-nag 2, under Node.js 20;
 * - `latest` (`CDK_MTA_STS_LEG=latest`, set by `.ci/test-latest`): the newest aws-cdk-lib 2.x
 *   with cdk-nag 3, under Node.js 22.
 *
 * Tests that pin a statement about one aws-cdk-lib version choose their expectation by leg, so a
 * newer aws-cdk-lib that changes the behaviour fails them; test/nag.test.ts checks that the
 * installed versions are the ones the leg names.
 */
export type Leg = 'minimum' | 'latest';

export const LEG: Leg = (() => {
  const value = process.env.CDK_MTA_STS_LEG ?? 'minimum';
  if (value !== 'minimum' && value !== 'latest') {
    throw new Error(`CDK_MTA_STS_LEG must be "minimum" or "latest", got: "${value}"`);
  }
  return value;
})();

/** The installed aws-cdk-lib version, e.g. `2.197.0`. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const AWS_CDK_LIB_VERSION: string = require('aws-cdk-lib/package.json').version;

/** The installed cdk-nag's major version (2 reads `cdk_nag` metadata, 3 reads aws-cdk-lib's acknowledgements). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const CDK_NAG_MAJOR: number = Number(require('cdk-nag/package.json').version.split('.')[0]);

/** `expected[LEG]`: an expectation that differs between the two legs. */
export function byLeg<T>(expected: Record<Leg, T>): T {
  return expected[LEG];
}
