import { Token } from 'aws-cdk-lib';
import { quote } from './hostname';
import { ruaUriProblem } from '../core/tls-rpt-record';
import type { TlsRptRecordProps } from '../tls-rpt';

/**
 * Checks `tlsRpt` (a TlsRptRecord's props); `prefix` is put before each prop name.
 */
export function validateTlsRpt(props: TlsRptRecordProps, prefix: string): string[] {
  const rua = props.rua ?? [];
  if (Token.isUnresolved(rua)) {
    return [];
  }
  if (rua.length === 0) {
    return [`\`${prefix}rua\` must list at least one mailto: or https: URI, got: []`];
  }
  const problems: string[] = [];
  const seen = new Map<string, number>();
  rua.forEach((uri, index) => {
    const prop = `\`${prefix}rua[${index}]\``;
    if (typeof uri !== 'string') {
      problems.push(`${prop} must be a string, got: ${quote(uri)}`);
      return;
    }
    if (Token.isUnresolved(uri)) {
      return;
    }
    const problem = ruaUriProblem(uri);
    if (problem) {
      problems.push(`${prop} ${problem}, got: ${quote(uri)}`);
    } else if (seen.has(uri)) {
      problems.push(`${prop} must not repeat \`${prefix}rua[${seen.get(uri)}]\`, got: ${quote(uri)}`);
    } else {
      seen.set(uri, index);
    }
  });
  return problems;
}
