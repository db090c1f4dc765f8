import { CustomResource, CustomResourceProvider, CustomResourceProviderRuntime, Duration } from 'aws-cdk-lib';
import * as ses from 'aws-cdk-lib/aws-ses';
import { Construct } from 'constructs';
import { handlerBundleDir } from '../bundles';

/** The custom resource type, also the id of its stack-wide provider. */
export const RULE_SET_ACTIVATION_TYPE = 'Custom::TlsRptReceiptRuleSetActivation';

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
