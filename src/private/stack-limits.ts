import { CfnOutput, CfnResource, Stack } from 'aws-cdk-lib';
import { quote } from './hostname';

/**
 * CloudFormation's quota of resources per stack.
 *
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
 */
export const MAX_STACK_RESOURCES = 500;

/**
 * CloudFormation's quota of outputs per stack.
 *
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
 */
export const MAX_STACK_OUTPUTS = 200;

/** The stacks already checked, so each gets one validation however many constructs it holds. */
const CHECKED = new WeakSet<Stack>();

/**
 * Makes synthesis fail, with this library's message, when `stack` (one that holds MTA-STS
 * resources: the user's stack or its companion) has more resources or outputs than
 * CloudFormation accepts. Several constructs in one stack add up, so only the whole stack can
 * be counted, once every construct is in it. Safe to call for every construct.
 */
export function addStackLimitChecks(stack: Stack): void {
  if (CHECKED.has(stack)) {
    return;
  }
  CHECKED.add(stack);
  stack.node.addValidation({ validate: () => stackLimitProblems(stack) });
}

/** The quotas `stack` exceeds, counting its own resources and outputs (not those of nested stacks). */
export function stackLimitProblems(stack: Stack): string[] {
  const own = stack.node.findAll().filter(node => Stack.of(node) === stack);
  const resources = own.filter(node => CfnResource.isCfnResource(node)).length;
  const outputs = own.filter(node => node instanceof CfnOutput).length;
  const problems: string[] = [];
  if (resources > MAX_STACK_RESOURCES) {
    problems.push(`stack ${quote(stack.stackName)} must hold at most ${MAX_STACK_RESOURCES} resources (CloudFormation's quota per stack); `
      + `spread the MtaSts and MtaStsDomains constructs over several stacks, got: ${resources} resources`);
  }
  if (outputs > MAX_STACK_OUTPUTS) {
    problems.push(`stack ${quote(stack.stackName)} must have at most ${MAX_STACK_OUTPUTS} outputs (CloudFormation's quota per stack); `
      + 'set `outputs: false` on some MtaSts constructs (each adds 3, or 4 with TLS-RPT) or spread them over several stacks, '
      + `got: ${outputs} outputs`);
  }
  return problems;
}
