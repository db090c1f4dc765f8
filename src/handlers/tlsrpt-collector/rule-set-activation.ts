import { DescribeActiveReceiptRuleSetCommand, SESClient, SetActiveReceiptRuleSetCommand } from '@aws-sdk/client-ses';

/**
 * Custom resource that activates the collector's SES receipt rule set (CloudFormation cannot).
 *
 * SES has one active receipt rule set per account and region; activating another silently stops
 * the first, and with it whatever mail the account receives. So this resource:
 * - activates its rule set when none is active, or when the active one is its own (old) rule set;
 * - REFUSES (the deployment fails) when a different rule set is active, and says what to pass;
 * - on delete, deactivates the rule set only if it is still the active one.
 *
 * Runs in the CustomResourceProvider entrypoint, which sends the response to CloudFormation.
 */

/** The part of the custom resource event this handler reads. */
export interface ActivationEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: { readonly RuleSetName: string; readonly CollectorPath?: string };
  readonly OldResourceProperties?: { readonly RuleSetName?: string };
}

/** What CloudFormation gets back. */
export interface ActivationResponse {
  readonly PhysicalResourceId: string;
  readonly Data: { readonly ActiveRuleSetName: string };
}

/** The SES calls the handler makes. */
interface SesRuleSetApi {
  send(command: DescribeActiveReceiptRuleSetCommand | SetActiveReceiptRuleSetCommand): Promise<{ Metadata?: { Name?: string } } | object>;
}

/** Decides and performs the activation. */
async function onEvent(event: ActivationEvent, ses: SesRuleSetApi): Promise<ActivationResponse> {
  const own = event.ResourceProperties.RuleSetName;
  const active = await activeRuleSetName(ses);

  if (event.RequestType === 'Delete') {
    // Only our own rule set is ever deactivated; a rule set activated by someone since is left alone.
    if (active === own) {
      await ses.send(new SetActiveReceiptRuleSetCommand({}));
    }
    return { PhysicalResourceId: event.PhysicalResourceId ?? own, Data: { ActiveRuleSetName: active === own ? '' : active ?? '' } };
  }

  const previous = event.RequestType === 'Update' ? event.OldResourceProperties?.RuleSetName : undefined;
  if (active !== undefined && active !== own && active !== previous) {
    throw new Error(
      `SES receipt rule set "${active}" is already active in this account and region, and only one can be active: `
      + `activating "${own}" would stop all mail that "${active}" receives. Pass the active rule set to the collector `
      + `instead, so that it adds its rule there: receiptRuleSet: ses.ReceiptRuleSet.fromReceiptRuleSetName(this, 'RuleSet', '${active}')`
      + (event.ResourceProperties.CollectorPath ? ` (TlsRptCollector at ${event.ResourceProperties.CollectorPath})` : '') + '.',
    );
  }
  if (active !== own) {
    await ses.send(new SetActiveReceiptRuleSetCommand({ RuleSetName: own }));
  }
  return { PhysicalResourceId: own, Data: { ActiveRuleSetName: own } };
}

async function activeRuleSetName(ses: SesRuleSetApi): Promise<string | undefined> {
  const response = await ses.send(new DescribeActiveReceiptRuleSetCommand({})) as { Metadata?: { Name?: string } };
  return response.Metadata?.Name || undefined;
}

let client: SESClient | undefined;

/** The Lambda entry point. */
export async function handler(event: ActivationEvent): Promise<ActivationResponse> {
  client ??= new SESClient({});
  return onEvent(event, client);
}
