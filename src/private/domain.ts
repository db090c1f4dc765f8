import { Token } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { normaliseHostname, quote } from './hostname';
import { policyHostOf } from './names';

/** A policy domain after checks: its normalised name, or the problems found. */
export interface DomainResolution {
  /** The normalised domain (or the input, when it has problems). */
  readonly domainName: string;
  /**
   * True when the zone is `mta-sts.<domain>` itself, delegated from DNS outside Route 53: every
   * record is then written inside that zone (see the README's "DNS outside Route 53").
   */
  readonly delegated: boolean;
  readonly problems: string[];
}

/**
 * Resolves the policy domain: `domainName` when given, else the hosted zone's name; normalised
 * like an MX host (lower case, no trailing dot, A-labels) and required to be known at synthesis
 * (it names the domain's resources), and to be the zone's name, a name below it, or the domain
 * whose `mta-sts.` name the zone is (a delegated zone).
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
    return { domainName: '', delegated: false, problems: [`${prop} is required when \`${prefix}hostedZone\` has no known zone name, got: undefined`] };
  }
  if (Token.isUnresolved(given)) {
    return {
      domainName: given,
      delegated: false,
      problems: [`${prop} must be known at synthesis time, since it names the domain's resources and records, got: an unresolved token`],
    };
  }
  const result = normaliseHostname(given);
  if (result.problem) {
    return { domainName: given, delegated: false, problems: [`${prop} must be a domain name and ${result.problem}, got: ${quote(given)}`] };
  }
  const name = result.value!;
  if (zoneName === undefined || Token.isUnresolved(zoneName)) {
    return { domainName: name, delegated: false, problems: [] };
  }
  const apex = normaliseHostname(zoneName).value ?? zoneName.toLowerCase().replace(/\.$/, '');
  if (apex === policyHostOf(name)) {
    return { domainName: name, delegated: true, problems: [] };
  }
  if (name !== apex && !name.endsWith(`.${apex}`)) {
    return {
      domainName: name,
      delegated: false,
      problems: [`${prop} must be the hosted zone's name (${apex}), a name below it, or the domain whose mta-sts name the zone is (delegated), got: ${quote(given)}`],
    };
  }
  return { domainName: name, delegated: false, problems: [] };
}
