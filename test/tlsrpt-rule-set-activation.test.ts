import { DescribeActiveReceiptRuleSetCommand, SetActiveReceiptRuleSetCommand } from '@aws-sdk/client-ses';
import { ActivationEvent, SesRuleSetApi, onEvent } from '../src/handlers/tlsrpt-collector/rule-set-activation';

/**
 * A MOCK of the SES API: SES receipt rule sets cannot run here (no AWS account, no local SES).
 * It keeps one "active rule set" like SES does and records every SetActiveReceiptRuleSet call.
 */
class MockSes implements SesRuleSetApi {
  public readonly activations: Array<string | undefined> = [];
  constructor(public active: string | undefined) {}
  async send(command: DescribeActiveReceiptRuleSetCommand | SetActiveReceiptRuleSetCommand): Promise<object> {
    if (command instanceof DescribeActiveReceiptRuleSetCommand) {
      return this.active ? { Metadata: { Name: this.active }, Rules: [] } : {};
    }
    this.activations.push(command.input.RuleSetName);
    this.active = command.input.RuleSetName;
    return {};
  }
}

const OWN = 'Stack-TlsRptCollectorRuleSet-ABC';
const event = (type: ActivationEvent['RequestType'], extra: Partial<ActivationEvent> = {}): ActivationEvent => ({
  RequestType: type,
  ResourceProperties: { RuleSetName: OWN, CollectorPath: 'Stack/Collector' },
  ...extra,
});

test('activates its rule set when none is active', async () => {
  const ses = new MockSes(undefined);
  await expect(onEvent(event('Create'), ses)).resolves.toEqual({ PhysicalResourceId: OWN, Data: { ActiveRuleSetName: OWN } });
  expect(ses.activations).toEqual([OWN]);
});

test('does nothing when its rule set is already active', async () => {
  const ses = new MockSes(OWN);
  await onEvent(event('Create'), ses);
  expect(ses.activations).toEqual([]);
});

test('fails when another rule set is active, and says what to pass instead', async () => {
  // GIVEN the account already receives mail with its own rule set
  const ses = new MockSes('company-inbound');
  // WHEN / THEN
  await expect(onEvent(event('Create'), ses)).rejects.toThrow(
    'SES receipt rule set "company-inbound" is already active in this account and region, and only one can be active: '
    + `activating "${OWN}" would stop all mail that "company-inbound" receives. Pass the active rule set to the collector `
    + 'instead, so that it adds its rule there: receiptRuleSet: ses.ReceiptRuleSet.fromReceiptRuleSetName(this, \'RuleSet\', \'company-inbound\') '
    + '(TlsRptCollector at Stack/Collector).',
  );
  expect(ses.activations).toEqual([]);
  expect(ses.active).toBe('company-inbound');
});

test('fails on update too when another rule set became active meanwhile', async () => {
  const ses = new MockSes('company-inbound');
  await expect(onEvent(event('Update', { PhysicalResourceId: OWN, OldResourceProperties: { RuleSetName: OWN } }), ses)).rejects.toThrow(/already active/);
  expect(ses.activations).toEqual([]);
});

test('moves activation from its old rule set to its new one on update', async () => {
  const ses = new MockSes('old-own');
  await onEvent(event('Update', { PhysicalResourceId: 'old-own', OldResourceProperties: { RuleSetName: 'old-own' } }), ses);
  expect(ses.activations).toEqual([OWN]);
});

test('deactivates its own rule set on delete', async () => {
  const ses = new MockSes(OWN);
  await onEvent(event('Delete', { PhysicalResourceId: OWN }), ses);
  expect(ses.activations).toEqual([undefined]);
  expect(ses.active).toBeUndefined();
});

test('leaves another active rule set alone on delete', async () => {
  const ses = new MockSes('company-inbound');
  await expect(onEvent(event('Delete', { PhysicalResourceId: OWN }), ses)).resolves.toMatchObject({ PhysicalResourceId: OWN });
  expect(ses.activations).toEqual([]);
  expect(ses.active).toBe('company-inbound');
});
