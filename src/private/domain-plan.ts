import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { IConstruct } from 'constructs';
import { validateCertificate, validateCertificateName } from './certificate';
import { resolveDomain } from './domain';
import { policyHostOf } from './names';
import { analysePolicy } from './policy-rules';
import { validateTlsRpt } from './tls-rpt-rules';
import { MtaStsPolicy } from '../policy';
import type { PolicyDomainOptions } from '../policy-domain';
import type { TlsRptRecord } from '../tls-rpt';

/** A policy domain's own settings that may instead come from a parent construct's defaults. */
export type DomainField = 'mode' | 'mx' | 'maxAge' | 'tlsRpt' | 'certificate';

/** A valid policy domain: its normalised name, where its records go and its policy. */
export interface DomainPlan {
  readonly domainName: string;
  /** True when the zone is `mta-sts.<domain>` itself, delegated from DNS outside Route 53. */
  readonly delegated: boolean;
  readonly policy: MtaStsPolicy;
}

/**
 * Checks one policy domain's settings, one validator per prop. Each problem names the prop as the
 * user wrote it: `<own>field` (`domains[2].mx`), or the bare field (`mx`) for one in `inherited`,
 * which came from a parent's defaults.
 */
export function planPolicyDomain(options: PolicyDomainOptions, own: string, inherited: ReadonlySet<DomainField> = new Set()):
{ readonly problems: string[]; readonly plan?: DomainPlan; readonly domainName?: string } {
  const name = (field: DomainField) => (inherited.has(field) ? field : `${own}${field}`);
  const domain = resolveDomain(options.hostedZone, options.domainName, own);
  const policy = analysePolicy(options, name);
  const problems = [...domain.problems, ...policy.problems];
  if (options.tlsRpt) {
    problems.push(...validateTlsRpt(options.tlsRpt, `${name('tlsRpt')}.`));
  }
  if (options.certificate) {
    problems.push(...validateCertificate(options.certificate, name('certificate')));
  } else if (domain.problems.length === 0) {
    problems.push(...validateCertificateName(policyHostOf(domain.domainName), `${own}domainName`, domain.domainName));
  }
  // The domain's name, when it is valid, even if other props are not.
  const domainName = domain.problems.length === 0 ? domain.domainName : undefined;
  if (problems.length > 0) {
    return { problems, domainName };
  }
  return {
    problems,
    domainName,
    plan: {
      domainName: domain.domainName,
      delegated: domain.delegated,
      policy: new MtaStsPolicy({ mode: policy.mode, mx: policy.mx, maxAge: options.maxAge }),
    },
  };
}

/**
 * What a parent construct (MtaStsDomains) has already checked and decided for a PolicyDomain it
 * creates: the domain is then validated, registered and annotated once, by the parent, and its
 * resources go beneath the PolicyDomain itself.
 */
export interface PlannedDomain {
  readonly plan: DomainPlan;
  readonly tlsRpt?: TlsRptRecord;
  /** The origin access control the parent shares among its domains; else the stack's shared one. */
  readonly originAccessControl?: cloudfront.IOriginAccessControl;
  /** Where the domain's warnings and notes go (the parent, in the user's stack); else the PolicyDomain. */
  readonly annotate?: IConstruct;
}

/** Plans handed from a parent to the PolicyDomain it creates, keyed by the props object passed. */
const HANDED_OVER = new WeakMap<object, PlannedDomain>();

/** Hands `planned` to the PolicyDomain that will be created with `props`. */
export function handOver<T extends object>(props: T, planned: PlannedDomain): T {
  HANDED_OVER.set(props, planned);
  return props;
}

/** The plan handed over with `props`, if a parent created them. */
export function takeHandedOver(props: object): PlannedDomain | undefined {
  const planned = HANDED_OVER.get(props);
  HANDED_OVER.delete(props);
  return planned;
}
