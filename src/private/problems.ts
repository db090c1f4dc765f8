import { IConstruct } from 'constructs';

/**
 * Throws one Error listing every problem, or returns when there are none. Every construct and
 * model of the library uses this one heading, `Invalid <Kind> props at <path> (<n> problems):`
 * (`at <path>` only for constructs), then one line per problem, each naming the prop, the rule
 * and the value given.
 *
 * @param kind the class whose props are checked (`MtaSts`, `MtaStsPolicy`, ...)
 * @param problems every problem found
 * @param scope the construct being created, when it is one
 */
export function throwIfProblems(kind: string, problems: readonly string[], scope?: IConstruct): void {
  if (problems.length === 0) {
    return;
  }
  const where = scope ? ` at ${scope.node.path}` : '';
  const heading = `Invalid ${kind} props${where} (${problems.length} problem${problems.length === 1 ? '' : 's'}):`;
  throw new Error([heading, ...problems.map(problem => `  - ${problem}`)].join('\n'));
}
