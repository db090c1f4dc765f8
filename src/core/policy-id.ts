import { createHash } from 'node:crypto';

/**
 * The policy id scheme of cdk-mta-sts (RFC 8461 §3.1: 1 to 32 letters and digits).
 *
 * An announced id is `<content id><publication stamp>`:
 * - the content id, 16 lowercase hex characters of the SHA-256 of the policy file's bytes, so a
 *   policy can be traced from its id and a synthesized template shows which text it publishes;
 * - the publication stamp, 16 characters made when the policy is published: the UTC time as
 *   `yyyyMMddHHmmss` and two base-36 characters, later than the stamp of every id the record
 *   announces when it is replaced (`nextPublicationId`), so the stamps of a record only grow and
 *   every publication, a rollback's included, announces an id that was never announced before,
 *   even two publications within one second.
 *
 * Pure: no aws-cdk-lib, used by the constructs, the publishing handler and the check command.
 */

/** Characters of the content part of an id. */
export const CONTENT_ID_LENGTH = 16;
/** Characters of the publication part of an id. */
export const PUBLICATION_STAMP_LENGTH = 16;
/** The longest id RFC 8461 §3.1 allows. */
export const MAX_POLICY_ID_LENGTH = 32;

const PUBLICATION_ID = /^([0-9a-f]{16})([0-9]{14}[0-9a-z]{2})$/;

/** The content id of a policy file: the first 16 hex characters of the SHA-256 of its UTF-8 bytes. */
export function contentIdOf(policyText: string): string {
  return createHash('sha256').update(policyText, 'utf8').digest('hex').slice(0, CONTENT_ID_LENGTH);
}

/**
 * The id announced for one publication of the policy whose content id is given.
 * `entropy` is a non-negative integer (e.g. from `crypto.randomInt(1296)`); its last two
 * base-36 digits end the id.
 */
export function publicationIdOf(contentId: string, when: Date, entropy: number): string {
  const stamp = when.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const tail = (entropy % 1296).toString(36).padStart(2, '0');
  return `${contentId}${stamp}${tail}`;
}

/**
 * The id of the next publication of a record whose current ids are `announced`: the id
 * `publicationIdOf` makes, unless an announced id of this scheme has a stamp as late or later
 * (two publications within one second, or a clock behind the last writer's); then the stamp right
 * after the latest announced one. Ids of other schemes are ignored.
 */
export function nextPublicationId(contentId: string, when: Date, entropy: number, announced: readonly string[]): string {
  const candidate = publicationIdOf(contentId, when, entropy);
  const stamps = announced.map(id => PUBLICATION_ID.exec(id)?.[2]).filter((stamp): stamp is string => stamp !== undefined);
  const latest = stamps.reduce((max, stamp) => (stamp > max ? stamp : max), '');
  const stamp = candidate.slice(CONTENT_ID_LENGTH);
  return stamp > latest ? candidate : `${contentId}${stampAfter(latest)}`;
}

/** The publication stamp right after `stamp`: its base-36 tail plus one, or the next second's first. */
function stampAfter(stamp: string): string {
  const time = stamp.slice(0, 14);
  const tail = parseInt(stamp.slice(14), 36);
  if (tail < 1295) {
    return `${time}${(tail + 1).toString(36).padStart(2, '0')}`;
  }
  const part = (from: number, to: number) => Number(time.slice(from, to));
  const nextSecond = new Date(Date.UTC(part(0, 4), part(4, 6) - 1, part(6, 8), part(8, 10), part(10, 12), part(12, 14) + 1));
  return publicationIdOf('', nextSecond, 0);
}

/**
 * The content id inside an id made by `publicationIdOf`, or undefined when the id does not
 * follow this library's scheme (then it was not published by cdk-mta-sts).
 */
export function contentIdPartOf(policyId: string): string | undefined {
  return PUBLICATION_ID.exec(policyId)?.[1];
}

/**
 * The lines of a policy in a form that does not depend on the order a reporter lists them in:
 * each line split at line breaks, trimmed, a `key: value` line written with one space after the
 * colon, empty lines dropped, then sorted by UTF-16 code unit (`max_age`, `mode`, `mx`...,
 * `version`). Keys and values keep their case.
 */
export function canonicalPolicyLines(lines: readonly string[]): string[] {
  return lines
    .flatMap(line => line.split(/\r?\n|\r/))
    .map(line => line.trim())
    .filter(line => line.length > 0)
    .map(line => {
      const colon = line.indexOf(':');
      return colon > 0 ? `${line.slice(0, colon).trim()}: ${line.slice(colon + 1).trim()}` : line;
    })
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The content id TLS-RPT reports are matched by: the content id (16 hex characters of SHA-256) of
 * the policy's {@link canonicalPolicyLines}, each ending in CRLF. The same for a policy file
 * (split into lines) and for every reporter's `policy-string` of it, whatever the line order; the
 * collector stores it with each report, and `MtaStsPolicy.reportedContentId` gives it for a policy.
 */
export function reportedContentIdOf(lines: readonly string[]): string {
  return contentIdOf(canonicalPolicyLines(lines).map(line => `${line}\r\n`).join(''));
}
