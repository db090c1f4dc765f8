import { DescribeActiveReceiptRuleSetCommand, SESClient, SetActiveReceiptRuleSetCommand } from '@aws-sdk/client-ses';

/**
 * Custom resource that activates the collector's SES receipt rule set (CloudFormation cannot).
 *
 * SES has one active receipt rule set per account and region; activating another silently stops
 * the first, and with it whatever mail the account receives. SES has no compare-and-set for the
 * active rule set, so this resource reads, acts, and reads again:
 * - it activates its rule set when none is active, or when the active one is its own (old) rule set;
 * - it REFUSES (the deployment fails) when a different rule set is active, and says what to pass;
 * - after activating, it waits `SETTLE_MS` and reads again: when another rule set is active by
 *   then, a concurrent deployment activated its own in between (two collectors deployed at once),
 *   and this one fails rather than report an activation that did not last;
 * - on delete, it deactivates the rule set only while it is still the active one, and reads again
 *   after each attempt.
 *
 * `SetActiveReceiptRuleSet` is never retried blindly (its client makes one attempt): a retry of a
 * call whose answer was lost could undo an activation someone else made in the meantime. After a
 * failed call the handler reads the active rule set and decides again.
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

/** The two SES operations, as the handler uses them. */
export interface ActiveRuleSetApi {
  /** The active rule set's name, or undefined when none is active. */
  active(): Promise<string | undefined>;
  /** Activates a rule set, or deactivates the active one when `name` is undefined. One attempt. */
  setActive(name: string | undefined): Promise<void>;
}

/**
 * How long an activation waits before it reads the active rule set again: longer than the time
 * between another activation's read and its write (two SES calls), so that of two activations
 * that overlap, the one overwritten sees it.
 */
export const SETTLE_MS = 5_000;
/** Attempts at one `SetActiveReceiptRuleSet` decision, each after reading the active rule set. */
export const MAX_SET_ATTEMPTS = 3;
/** The pause before reading again after a failed set, times the attempt number. */
const RETRY_PAUSE_MS = 1_000;

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms));

/** Decides and performs the activation. */
export async function onEvent(event: ActivationEvent, ses: ActiveRuleSetApi): Promise<ActivationResponse> {
  const own = event.ResourceProperties.RuleSetName;
  if (event.RequestType === 'Delete') {
    const active = await deactivateOwn(own, ses);
    return { PhysicalResourceId: event.PhysicalResourceId ?? own, Data: { ActiveRuleSetName: active ?? '' } };
  }

  const previous = event.RequestType === 'Update' ? event.OldResourceProperties?.RuleSetName : undefined;
  const where = event.ResourceProperties.CollectorPath ? ` (TlsRptCollector at ${event.ResourceProperties.CollectorPath})` : '';
  let active = await ses.active();
  if (active === own) {
    return { PhysicalResourceId: own, Data: { ActiveRuleSetName: own } };
  }
  for (let attempt = 1; active !== own; attempt++) {
    if (active !== undefined && active !== previous) {
      throw new Error(attempt === 1 ? refusal(own, active, where) : lostRace(own, active, where));
    }
    try {
      await ses.setActive(own);
      break;
    } catch (error) {
      if (attempt >= MAX_SET_ATTEMPTS) {
        throw error;
      }
      // The call may have been applied with its answer lost: read, then decide again.
      await sleep(RETRY_PAUSE_MS * attempt);
      active = await ses.active();
    }
  }
  // Another activation that read before this one wrote writes within moments: wait, then check.
  await sleep(SETTLE_MS);
  const settled = await ses.active();
  if (settled !== own) {
    throw new Error(lostRace(own, settled, where));
  }
  return { PhysicalResourceId: own, Data: { ActiveRuleSetName: own } };
}

/**
 * Deactivates `own` while it is the active rule set, reading again after each attempt: a rule set
 * someone else activated meanwhile is left alone. Returns the rule set active at the end.
 */
async function deactivateOwn(own: string, ses: ActiveRuleSetApi): Promise<string | undefined> {
  let active = await ses.active();
  for (let attempt = 1; active === own; attempt++) {
    if (attempt > MAX_SET_ATTEMPTS) {
      throw new Error(`SES receipt rule set "${own}" is still active after ${MAX_SET_ATTEMPTS} attempts to deactivate it: `
        + 'something activates it again (another deployment of this collector?), and an active rule set cannot be deleted.');
    }
    try {
      await ses.setActive(undefined);
    } catch (error) {
      if (attempt >= MAX_SET_ATTEMPTS) {
        throw error;
      }
      await sleep(RETRY_PAUSE_MS * attempt);
    }
    active = await ses.active();
  }
  return active;
}

function refusal(own: string, active: string, where: string): string {
  return `SES receipt rule set "${active}" is already active in this account and region, and only one can be active: `
    + `activating "${own}" would stop all mail that "${active}" receives. Pass the active rule set to the collector `
    + `instead, so that it adds its rule there: receiptRuleSet: ses.ReceiptRuleSet.fromReceiptRuleSetName(this, 'RuleSet', '${active}')`
    + `${where}.`;
}

function lostRace(own: string, active: string | undefined, where: string): string {
  return `SES receipt rule set "${own}" did not stay active: ${active === undefined ? 'no rule set is' : `"${active}" is`} active `
    + 'now, set by another deployment or person while this one activated its own. Only one rule set can be active per account '
    + `and region: deploy one collector at a time, and give the others the active rule set (receiptRuleSet)${where}.`;
}

let api: ActiveRuleSetApi | undefined;

/** The SES client pair: reads retry as the SDK does; sets make one attempt (see above). */
function sesApi(): ActiveRuleSetApi {
  const reader = new SESClient({});
  const writer = new SESClient({ maxAttempts: 1 });
  return {
    async active() {
      const response = await reader.send(new DescribeActiveReceiptRuleSetCommand({}));
      return response.Metadata?.Name || undefined;
    },
    async setActive(name) {
      await writer.send(new SetActiveReceiptRuleSetCommand(name === undefined ? {} : { RuleSetName: name }));
    },
  };
}

/** The Lambda entry point. */
export async function handler(event: ActivationEvent): Promise<ActivationResponse> {
  api ??= sesApi();
  return onEvent(event, api);
}
