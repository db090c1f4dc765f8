import { createHash } from 'node:crypto';
import { Names, Stack, Token } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { Construct } from 'constructs';
import { MtaStsPolicy } from '../policy';

/**
 * A CloudFront Function (viewer request) that serves each `mta-sts.<domain>` host of a
 * distribution its own policy object: it rewrites `/.well-known/mta-sts.txt` to the object key
 * of that host's policy and answers 404 for any other host or path.
 *
 * The function's name carries a hash of its code, so any change to the routes replaces the
 * function and so updates the distribution that uses it; CloudFormation waits for a
 * distribution update to be deployed to every edge before it moves on to the resources that
 * depend on it, the `_mta-sts` records. (An in-place function update would propagate with no
 * such wait, and a sender could fetch the old policy under the new id.)
 */
export function createRoutingFunction(scope: Construct, id: string, routes: Record<string, string>): cloudfront.Function {
  const code = renderRoutingCode(routes);
  const codeHash = createHash('sha256').update(code, 'utf8').digest('hex').slice(0, 16);
  const region = Stack.of(scope).region;
  // Function names are global to the account: include the region so that the same stack
  // deployed to two regions does not collide. At most 64 characters.
  const regionPart = Token.isUnresolved(region) ? '' : `${region}-`;
  const base = Names.uniqueResourceName(scope, { maxLength: 64 - 1 - regionPart.length - codeHash.length, separator: '-' });
  return new cloudfront.Function(scope, id, {
    functionName: `${base}-${regionPart}${codeHash}`,
    comment: `Routes ${Object.keys(routes).length} MTA-STS hosts to their policy files`,
    runtime: cloudfront.FunctionRuntime.JS_2_0,
    code: cloudfront.FunctionCode.fromInline(code),
  });
}

/** The function's source: a fixed handler and the host-to-key table, sorted for determinism. */
export function renderRoutingCode(routes: Record<string, string>): string {
  const sorted = Object.fromEntries(Object.entries(routes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return [
    `var ROUTES = ${JSON.stringify(sorted)};`,
    'function handler(event) {',
    '  var request = event.request;',
    "  var host = request.headers.host ? request.headers.host.value.toLowerCase().replace(/\\.$/, '') : '';",
    '  var key = ROUTES[host];',
    `  if (!key || request.uri !== '${MtaStsPolicy.WELL_KNOWN_PATH}') {`,
    "    return { statusCode: 404, statusDescription: 'Not Found' };",
    '  }',
    "  request.uri = '/' + key;",
    '  return request;',
    '}',
    '',
  ].join('\n');
}
