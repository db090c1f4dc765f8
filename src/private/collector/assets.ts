import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The directory of a handler bundle made by projen's bundler (`npx projen bundle`, run by
 * pre-compile): `assets/handlers/tlsrpt-collector/<entry>/index.js` at the package root.
 *
 * This file is three levels below the root both as src/private/collector/assets.ts (ts-jest)
 * and as lib/private/collector/assets.js (compiled), so one relative path serves both.
 *
 * @throws Error when the bundle is missing, saying how to build it
 */
export function collectorBundleDir(entry: 'index' | 'rule-set-activation'): string {
  const dir = join(__dirname, '..', '..', '..', 'assets', 'handlers', 'tlsrpt-collector', entry);
  if (!existsSync(join(dir, 'index.js'))) {
    throw new Error(`The TLS-RPT collector's Lambda bundle is missing at ${dir}: run \`npx projen bundle\` (the build does it before compiling).`);
  }
  return dir;
}
