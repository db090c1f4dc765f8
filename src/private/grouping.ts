import { createHash } from 'node:crypto';

/**
 * Splits policy domains into groups of at most `size`, each served by one distribution and
 * one certificate, so that a domain's group depends on its own name, not on list positions.
 *
 * Each domain is placed by the bits of the SHA-256 of its name, like a trie: while a group
 * holds more than `size` domains it is split in two by the next bit. Adding or removing a
 * domain therefore changes only the group it falls in (which may split or merge with its
 * sibling); every other group keeps its members, its construct id and so its resources.
 *
 * Returns a map from the group key (the bit prefix, '' for a single group) to the sorted
 * domain names of the group, in key order.
 */
export function groupDomains(domainNames: readonly string[], size: number): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  const members = [...new Set(domainNames)].sort().map(name => ({ name, bits: bitsOf(name) }));
  const split = (key: string, group: typeof members): void => {
    if (group.length === 0) {
      return;
    }
    if (group.length <= size) {
      groups.set(key, group.map(m => m.name));
      return;
    }
    split(`${key}0`, group.filter(m => m.bits[key.length] === '0'));
    split(`${key}1`, group.filter(m => m.bits[key.length] === '1'));
  };
  split('', members);
  return new Map([...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function bitsOf(name: string): string {
  return [...createHash('sha256').update(name, 'utf8').digest()]
    .map(byte => byte.toString(2).padStart(8, '0'))
    .join('');
}
