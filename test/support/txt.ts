/**
 * TXT record values as Route 53 holds them (quoted character-strings, `\` escapes) read the way a
 * resolver returns them. Written here rather than imported from the publisher, so that the tests
 * do not read records with the code they test.
 */

/** The character-strings of one quoted TXT value, unescaped. */
export function txtStrings(quoted: string): string[] {
  return [...quoted.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map(m => m[1].replace(/\\(.)/g, '$1'));
}

/** The value of a TXT record as resolvers join it: each quoted string unquoted, concatenated. */
export function txtValue(quoted: string): string {
  const strings = txtStrings(quoted);
  return strings.length > 0 ? strings.join('') : quoted;
}
