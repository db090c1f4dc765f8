/**
 * Regions where Amazon SES receives email (receipt rules, `inbound-smtp.<region>.amazonaws.com`).
 *
 * Maintained by hand from the SES endpoints page; a region SES adds later can be used with
 * `skipRegionCheck: true` until this list catches up.
 *
 * @see https://docs.aws.amazon.com/general/latest/gr/ses.html
 */
export const SES_RECEIVING_REGIONS: readonly string[] = [
  'us-east-1', 'us-east-2', 'us-west-2',
  'ca-central-1',
  'eu-west-1', 'eu-west-2', 'eu-central-1',
  'ap-southeast-1', 'ap-southeast-2', 'ap-southeast-3', 'ap-northeast-1',
];

/** The SMTP endpoint that receives mail for SES in a region: the MX target. */
export function inboundSmtpHost(region: string): string {
  return `inbound-smtp.${region}.amazonaws.com`;
}
