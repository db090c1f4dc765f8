import { CustomResource, CustomResourceProvider, CustomResourceProviderRuntime, Duration, Stack, Token } from 'aws-cdk-lib';
import * as ses from 'aws-cdk-lib/aws-ses';
import { Construct, IConstruct } from 'constructs';
import { handlerBundleDir } from '../bundles';

/** The custom resource type, also the id of its stack-wide provider. */
export const RULE_SET_ACTIVATION_TYPE = 'Custom::TlsRptReceiptRuleSetActivation';

/** Per app: the collector that creates and activates the rule set of each account and region (or env-agnostic stack). */
const ACTIVATING = new WeakMap<IConstruct, Map<string, string>>();

/**
 * The collector of the app that creates and activates the receipt rule set of the same account
 * and region as `collector` (env-agnostic stacks: of the same stack), if any: two collectors that
 * each activate a rule set there stop each other's mail (only one can be active), and fail each
 * other's deployment when deployed at once.
 */
export function ruleSetActivator(collector: IConstruct): string | undefined {
  return ACTIVATING.get(collector.node.root)?.get(activationKey(collector));
}

/** Records that `collector` creates and activates the rule set of its account and region. */
export function claimRuleSetActivation(collector: IConstruct): void {
  const claims = ACTIVATING.get(collector.node.root) ?? new Map<string, string>();
  ACTIVATING.set(collector.node.root, claims);
  claims.set(activationKey(collector), collector.node.path);
}

function activationKey(collector: IConstruct): string {
  const stack = Stack.of(collector);
  return Token.isUnresolved(stack.account) || Token.isUnresolved(stack.region)
    ? `stack ${stack.node.path}` : `${stack.account} ${stack.region}`;
}

/**
 * Activates a receipt rule set (CloudFormation cannot): see
 * src/handlers/tlsrpt-collector/rule-set-activation.ts for the refusal logic. One provider per
 * stack; its role may only describe and set the active rule set (SES has no resource-level
 * permissions for these two actions, hence `*`).
 */
export class ReceiptRuleSetActivation extends Construct {
  constructor(scope: Construct, id: string, ruleSet: ses.IReceiptRuleSet, collectorPath: string) {
    super(scope, id);
    const serviceToken = CustomResourceProvider.getOrCreate(this, RULE_SET_ACTIVATION_TYPE, {
      codeDirectory: handlerBundleDir('tlsrpt-collector/rule-set-activation'),
      runtime: CustomResourceProviderRuntime.NODEJS_22_X,
      timeout: Duration.minutes(1),
      description: 'Activates the TLS-RPT collector receipt rule set unless another one is active',
      policyStatements: [{
        Effect: 'Allow',
        Action: ['ses:DescribeActiveReceiptRuleSet', 'ses:SetActiveReceiptRuleSet'],
        Resource: '*',
      }],
    });
    new CustomResource(this, 'Resource', {
      serviceToken,
      resourceType: RULE_SET_ACTIVATION_TYPE,
      properties: { RuleSetName: ruleSet.receiptRuleSetName, CollectorPath: collectorPath },
    });
  }
}
