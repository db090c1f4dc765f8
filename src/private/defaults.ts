import { Duration } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';

/** TTL of the TXT records: short, so a new policy id reaches senders soon after deployment. */
export const DEFAULT_RECORD_TTL = Duration.minutes(5);
/** Edge locations serving the policy: the cheapest class; senders everywhere still reach it. */
export const DEFAULT_PRICE_CLASS = cloudfront.PriceClass.PRICE_CLASS_100;
