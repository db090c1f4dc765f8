import { Duration } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { quote } from './hostname';

/** TTL of the TXT records: short, so a new policy id reaches senders soon after deployment. */
export const DEFAULT_RECORD_TTL = Duration.minutes(5);
/** Edge locations serving the policy: the cheapest class; senders everywhere still reach it. */
export const DEFAULT_PRICE_CLASS = cloudfront.PriceClass.PRICE_CLASS_100;

/** The largest TTL Route 53 accepts, in seconds (2^31 - 1). */
const MAX_TTL_SECONDS = 2_147_483_647;

/** Checks `recordTtl`: whole seconds, within Route 53's range. Tokens are not checked. */
export function validateRecordTtl(ttl: Duration | undefined): string[] {
  if (ttl === undefined || ttl.isUnresolved()) {
    return [];
  }
  const seconds = ttl.toSeconds({ integral: false });
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_TTL_SECONDS) {
    return [`\`recordTtl\` must be a whole number of seconds from 0 to ${MAX_TTL_SECONDS}, got: ${quote(seconds)} s`];
  }
  return [];
}
