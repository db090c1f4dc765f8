import { MtaStsPolicy } from '../policy';

/** The host that serves a policy domain's policy file (RFC 8461 §3.3): `mta-sts.<domain>`. */
export function policyHostOf(domainName: string): string {
  return `mta-sts.${domainName}`;
}

/** Where senders fetch a policy domain's policy file. */
export function policyUrlOf(domainName: string): string {
  return `https://${policyHostOf(domainName)}${MtaStsPolicy.WELL_KNOWN_PATH}`;
}
