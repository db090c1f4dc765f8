import { Annotations, Token } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { IConstruct } from 'constructs';
import { MtaStsMode } from '../mode';
import { addInfoWithId, INFO_IDS, WARNING_IDS } from './annotations';
import { normaliseHostname, quote } from './hostname';
import { registeredPolicyDomains, RegisteredPolicyDomain } from './registry';

/** Publishers that already carry the check. */
const CHECKED = new WeakSet<IConstruct>();

/** An MX record of the app, read from its `AWS::Route53::RecordSet`. */
interface MxRecordInfo {
  /** The construct to name: the `route53.MxRecord`, or the `CfnRecordSet` itself. */
  readonly path: string;
  /** The record's name, normalised; undefined when it is an unresolved token. */
  readonly name?: string;
  /** The literal values (`<priority> <host>`). */
  readonly values: string[];
  /** How many values are unresolved tokens. */
  readonly tokenValues: number;
}

/**
 * Checks at synthesis that every MX host the app publishes for a policy domain of `publisher`
 * is matched by that domain's policy (RFC 8461 §4.1). An unmatched host fails synthesis in
 * `enforce` (senders would refuse to deliver to it) and is a warning (`cdk-mta-sts:mxNotInPolicy`)
 * in `testing`; `none` is not checked.
 *
 * MX records are `route53.MxRecord`s and `route53.CfnRecordSet`s of type MX anywhere in the
 * app (any stack, any stage). They are read at validation time, when every construct exists,
 * so records defined after the publisher count. Names and values that are unresolved tokens
 * are skipped with an info note.
 *
 * The check is a validation on the publisher and covers only the domains it publishes, so the
 * error names the construct whose `mx` to fix, warnings and notes sit on it (acknowledge on its
 * stack), and every policy domain of the app is checked once, by its own publisher, however many
 * publishers the app has. Calling this again for the same publisher adds nothing.
 */
export function addMxDriftCheck(publisher: IConstruct): void {
  if (CHECKED.has(publisher)) {
    return;
  }
  CHECKED.add(publisher);
  publisher.node.addValidation({ validate: () => checkMxDrift(publisher) });
}

/** Runs the check for the domains of `publisher`: adds warnings and notes, returns the errors. */
function checkMxDrift(publisher: IConstruct): string[] {
  const domains = new Map<string, RegisteredPolicyDomain>();
  for (const domain of registeredPolicyDomains(publisher)) {
    const own = domain.publisher === publisher || domain.publisher.node.scopes.includes(publisher);
    if (own && !Token.isUnresolved(domain.domainName) && domain.policy.mode !== MtaStsMode.NONE) {
      domains.set(domain.domainName, domain);
    }
  }
  if (domains.size === 0) {
    return [];
  }

  const annotations = Annotations.of(publisher);
  const errors: string[] = [];
  for (const record of findMxRecords(publisher.node.root)) {
    if (record.name === undefined) {
      addInfoWithId(publisher, INFO_IDS.MX_NOT_CHECKED, `The MX drift check skipped the MX record at ${record.path}: its name is an unresolved token, `
        + 'so make sure every host it lists is matched by `mx` of its policy domain.');
      continue;
    }
    const domain = domains.get(record.name);
    if (!domain) {
      continue;
    }
    if (record.tokenValues > 0) {
      addInfoWithId(publisher, INFO_IDS.MX_NOT_CHECKED, `${domain.domainName}: the MX drift check skipped ${record.tokenValues} value(s) of the MX record at `
        + `${record.path} that are unresolved tokens, so make sure every host they name is matched by \`mx\`.`);
    }
    for (const value of record.values) {
      const host = mxHostOf(value);
      if (host === undefined) {
        addInfoWithId(publisher, INFO_IDS.MX_NOT_CHECKED, `${domain.domainName}: the MX drift check skipped the value ${quote(value)} of the MX record at `
          + `${record.path}: it is not "<priority> <host>".`);
        continue;
      }
      if (host === '' || domain.policy.matchesMx(host)) {
        continue; // a null MX (RFC 7505: no mail accepted) needs no policy entry
      }
      const enforce = domain.policy.mode === MtaStsMode.ENFORCE;
      const message = `${domain.domainName}: \`mx\` ${enforce ? 'must' : 'should'} match every MX host of the domain (RFC 8461 §4.1), `
        + (enforce ? 'or senders in enforce mode refuse to deliver to it' : 'or senders in testing mode report every delivery to it as a failure')
        + `; add ${suggestionsFor(host)} to \`mx\`, got: ${quote(host)} in the MX record at ${record.path}`;
      if (enforce) {
        errors.push(message);
      } else {
        annotations.addWarningV2(WARNING_IDS.MX_NOT_IN_POLICY, message);
      }
    }
  }
  return errors;
}

/** Every MX record set of the app, in construct tree order. */
function findMxRecords(root: IConstruct): MxRecordInfo[] {
  const records: MxRecordInfo[] = [];
  for (const construct of root.node.findAll()) {
    if (!(construct instanceof route53.CfnRecordSet) || Token.isUnresolved(construct.type) || construct.type.toUpperCase() !== 'MX') {
      continue;
    }
    // Name the L2 record when the record set is its resource (route53.MxRecord, `.../Resource`).
    const parent = construct.node.scope;
    const named = parent instanceof route53.RecordSet && parent.node.defaultChild === construct ? parent : construct;
    const name = construct.name;
    const given = Token.isUnresolved(construct.resourceRecords) ? [] : construct.resourceRecords ?? [];
    const literal = given.filter(value => !Token.isUnresolved(value));
    records.push({
      path: named.node.path,
      name: Token.isUnresolved(name) ? undefined : normaliseName(name),
      values: literal,
      tokenValues: Token.isUnresolved(construct.resourceRecords) ? 1 : given.length - literal.length,
    });
  }
  return records;
}

/**
 * The host of an MX value: `10 mx1.example.com.` gives `mx1.example.com`; a value without a
 * priority is taken as the host. `''` for a null MX (`0 .`), undefined when the value is
 * neither form.
 */
function mxHostOf(value: string): string | undefined {
  const parts = value.trim().split(/\s+/);
  const host = parts.length === 2 && /^\d+$/.test(parts[0]) ? parts[1] : parts.length === 1 ? parts[0] : undefined;
  if (host === undefined || host === '') {
    return undefined;
  }
  return host === '.' ? '' : normaliseName(host);
}

/** A DNS name as policies hold it: lower case, A-labels, no trailing dot. */
function normaliseName(name: string): string {
  return normaliseHostname(name).value ?? name.toLowerCase().replace(/\.$/, '');
}

/** What to add to `mx` for a host: the host, or a wildcard for its parent when that is not a single label. */
function suggestionsFor(host: string): string {
  const parent = host.slice(host.indexOf('.') + 1);
  return host.includes('.') && parent.includes('.') ? `${quote(host)} or ${quote(`*.${parent}`)}` : quote(host);
}
