import * as fc from 'fast-check';
import { groupDomains } from '../src/private/grouping';

// A fixed seed keeps CI reproducible; set FC_SEED to explore other inputs locally.
fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20261123) });

const domainName = fc.stringMatching(/^[a-z][a-z0-9]{0,10}\.(example|test|org)$/);
const domainSet = fc.uniqueArray(domainName, { minLength: 1, maxLength: 120 });
const groupSize = fc.integer({ min: 1, max: 12 });

function groupOf(groups: Map<string, string[]>, name: string): string {
  return [...groups.entries()].find(([, members]) => members.includes(name))![0];
}

describe('groupDomains', () => {
  test('puts every domain in exactly one group of at most the group size', () => {
    fc.assert(fc.property(domainSet, groupSize, (names, size) => {
      const groups = groupDomains(names, size);
      const members = [...groups.values()].flat();
      expect(members.sort()).toEqual([...names].sort());
      for (const group of groups.values()) {
        expect(group.length).toBeGreaterThan(0);
        expect(group.length).toBeLessThanOrEqual(size);
      }
    }), { numRuns: 200 });
  });

  test('does not depend on the order of the names', () => {
    fc.assert(fc.property(domainSet, groupSize, (names, size) => {
      expect([...groupDomains([...names].reverse(), size)]).toEqual([...groupDomains(names, size)]);
    }), { numRuns: 200 });
  });

  test('keeps a single group, keyed "", while the domains fit in it', () => {
    expect([...groupDomains(['b.example', 'a.example'], 10)]).toEqual([['', ['a.example', 'b.example']]]);
  });

  test('adding a domain changes no group but the one it falls in, and that one only by splitting', () => {
    fc.assert(fc.property(domainSet, domainName, groupSize, (names, added, size) => {
      fc.pre(!names.includes(added));
      const before = groupDomains(names, size);
      const after = groupDomains([...names, added], size);
      const home = groupOf(after, added);
      for (const [key, members] of after) {
        if (members.includes(added)) {
          continue;
        }
        // Untouched, or a piece of the group the new domain split.
        const unchanged = JSON.stringify(before.get(key)) === JSON.stringify(members);
        const splitFromHome = [...before.keys()].some(old => key.startsWith(old) && home.startsWith(old));
        expect(unchanged || splitFromHome).toBe(true);
      }
      for (const [key, members] of before) {
        if (!after.has(key)) {
          // Only the group the new domain joined may disappear, by splitting.
          expect(home.startsWith(key)).toBe(true);
          expect(members.length).toBe(size);
        }
      }
    }), { numRuns: 300 });
  });
});
