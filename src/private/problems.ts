/**
 * Throws one Error listing every problem, or returns when there are none.
 */
export function throwIfProblems(subject: string, problems: readonly string[]): void {
  if (problems.length === 0) {
    return;
  }
  const heading = `Invalid ${subject} (${problems.length} problem${problems.length === 1 ? '' : 's'}):`;
  throw new Error([heading, ...problems.map(problem => `  - ${problem}`)].join('\n'));
}
