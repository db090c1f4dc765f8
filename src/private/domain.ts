import { Token } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { normaliseHostname, quote } from './hostname';

/** A policy domain after checks: its normalised name, or the problems found. */
export interface DomainResolution {
  /** The normalised domain (or an unresolved token, passed through unchecked). */
  readonly domainName: string;
  readonly problems: string[];
}

/**
 * Resolves the policy domain: `domainName` when given, else the hosted zone's name;
 * normalised like an MX host (lower case, no trailing dot, A-labels) and required to be the
 * zone's name or a name below it, since its records are written to that zone.
 * Unresolved tokens are passed through without checks.
 */
export function resolveDomain(zone: route53.IHostedZone, domainName: string | undefined, prefix: string): DomainResolution {
  const prop = `\`${prefix}domainName\``;
  let zoneName: string | undefined;
  try {
    zoneName = zone.zoneName;
  } catch {
    zoneName = undefined;
  }
  const given = domainName ?? zoneName;
  if (given === undefined) {
    return { domainName: '', problems: [`${prop} is required when \`${prefix}hostedZone\` has no known zone name, got: undefined`] };
  }
  if (Token.isUnresolved(given)) {
    return { domainName: given, problems: [] };
  }
  const result = normaliseHostname(given);
  if (result.problem) {
    return { domainName: given, problems: [`${prop} must be a domain name and ${result.problem}, got: ${quote(given)}`] };
  }
  const name = result.value!;
  if (zoneName !== undefined && !Token.isUnresolved(zoneName)) {
    const apex = normaliseHostname(zoneName).value ?? zoneName.toLowerCase().replace(/\.$/, '');
    if (name !== apex && !name.endsWith(`.${apex}`)) {
      return { domainName: name, problems: [`${prop} must be the hosted zone's name (${apex}) or a name below it, got: ${quote(given)}`] };
    }
  }
  return { domainName: name, problems: [] };
}
