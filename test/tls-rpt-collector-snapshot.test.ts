import { Template } from 'aws-cdk-lib/assertions';
import { exampleStack } from './fixtures';
import { MtaStsMode, TlsRptCollector } from '../src';

// A whole-template snapshot of the collector (asset hashes masked). Minimum leg only: it pins
// aws-cdk-lib 2.197.0's output (.ci/test-latest leaves it out); test/tls-rpt-collector.test.ts
// holds the targeted assertions that run in both legs.

function collectorStack(region: string, props: Partial<ConstructorParameters<typeof TlsRptCollector>[2]>) {
  const { stack, hostedZone } = exampleStack(region);
  const collector = new TlsRptCollector(stack, 'Collector', { hostedZone, ...props });
  return { collector, template: () => Template.fromStack(stack) };
}

test('the template of a collector with two domains and HTTPS reception matches the snapshot', () => {
  const { collector, template } = collectorStack('eu-west-1', {
    policyDomains: [{ domainName: 'example.com', mode: MtaStsMode.ENFORCE }],
    httpsReception: true,
  });
  collector.addPolicyDomain('example.org', MtaStsMode.TESTING);
  expect(template().toJSON()).toMatchSnapshot();
});
