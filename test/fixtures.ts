import { App, Stack } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';

/** The account of every test stack (synthesis never contacts it). */
export const ACCOUNT = '111111111111';
/** A us-east-1 certificate ARN for tests that supply a certificate. */
export const CERTIFICATE_ARN = 'arn:aws:acm:us-east-1:111111111111:certificate/11111111-2222-3333-4444-555555555555';

export interface ExampleStack {
  readonly app: App;
  readonly stack: Stack;
  /** `example.com`, imported with a literal zone id. */
  readonly hostedZone: route53.IHostedZone;
}

/** A stack `Stack` with an explicit env and the imported `example.com` zone. */
export function exampleStack(region: string, options: { crossRegionReferences?: boolean; outdir?: string } = {}): ExampleStack {
  const app = new App({ outdir: options.outdir });
  const stack = new Stack(app, 'Stack', {
    env: { account: ACCOUNT, region },
    crossRegionReferences: options.crossRegionReferences,
  });
  const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', {
    hostedZoneId: 'Z0123456789ABCDEFGHIJ',
    zoneName: 'example.com',
  });
  return { app, stack, hostedZone };
}
