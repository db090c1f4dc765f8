import { IConstruct } from 'constructs';
import type { MtaStsPolicy } from '../policy';

/** One policy domain published by an MtaSts or MtaStsDomains construct of the app. */
export interface RegisteredPolicyDomain {
  /** The policy domain, normalised. */
  readonly domainName: string;
  /** The policy published for it. */
  readonly policy: MtaStsPolicy;
  /** The construct (MtaSts or MtaStsDomains) that publishes it. */
  readonly publisher: IConstruct;
}

/** Per app (construct tree root): the policy domains published in it, by name. */
const REGISTRY = new WeakMap<IConstruct, Map<string, RegisteredPolicyDomain>>();

/**
 * Records that `publisher` publishes `domainName`. Returns a problem naming both construct
 * paths when another construct of the same app already publishes it (two publishers would
 * write the same alias and TXT records and fail only at deploy).
 */
export function registerPolicyDomain(publisher: IConstruct, domainName: string, policy: MtaStsPolicy): string | undefined {
  const root = publisher.node.root;
  let domains = REGISTRY.get(root);
  if (!domains) {
    domains = new Map();
    REGISTRY.set(root, domains);
  }
  const existing = domains.get(domainName);
  if (existing && existing.publisher !== publisher) {
    return `\`domainName\` ${JSON.stringify(domainName)} is already published by ${existing.publisher.node.path}; `
      + `one app may publish a policy domain only once, got: ${JSON.stringify(domainName)} again at ${publisher.node.path}`;
  }
  domains.set(domainName, { domainName, policy, publisher });
  return undefined;
}

/** Every policy domain published in the app that `scope` belongs to, in registration order. */
export function registeredPolicyDomains(scope: IConstruct): RegisteredPolicyDomain[] {
  return [...(REGISTRY.get(scope.node.root)?.values() ?? [])];
}
