import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The Lambda handlers this library ships, as projen's bundler writes them under assets/handlers/. */
export type HandlerBundle = 'publisher/index' | 'tlsrpt-collector/index' | 'tlsrpt-collector/rule-set-activation';

/**
 * The directory of a handler bundle (`assets/handlers/<bundle>/index.js` at the package root),
 * made by `npx projen bundle`, which every task that compiles, synthesizes or packs runs first.
 *
 * This file is two levels below the root both as src/private/bundles.ts (ts-jest) and as
 * lib/private/bundles.js (compiled), so one relative path serves both.
 *
 * @throws Error when the bundle is missing, saying how to get it
 */
export function handlerBundleDir(bundle: HandlerBundle): string {
  const dir = join(__dirname, '..', '..', 'assets', 'handlers', bundle);
  if (!existsSync(join(dir, 'index.js'))) {
    throw new Error(`cdk-mta-sts: the Lambda bundle ${bundle} is missing at ${dir}. An installed package must contain assets/: `
      + 'install one built by `npx projen compile && npx projen package:js`; in a clone of cdk-mta-sts, run `npx projen bundle`.');
  }
  return dir;
}
