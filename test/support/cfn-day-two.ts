/**
 * Template checks for day-two deploys: what must not change between the templates of two
 * consecutive versions of an app when policy domains are added, removed or renamed, and what
 * every version must hold. They read synthesized templates only, and find resources by what
 * they are (a distribution with the alias `mta-sts.<d>`, the `Custom::MtaStsPolicyPublication`
 * of `<d>`), never by logical id.
 *
 * - `stableDomainProblems`: a domain present before and after keeps its distribution (same stack
 *   and logical id, same Aliases) and its certificate (same stack and logical id, same names, so
 *   not replaced).
 * - `orderingProblems`: a domain's publication depends, directly or transitively, on everything
 *   a sender's fetch goes through: its distribution, its A and AAAA alias records, and the bucket
 *   policy of the bucket the distribution reads (CloudFormation then runs it after them, and
 *   deletes it before them).
 * - `removalProblems`: when a domain goes, nothing that serves it (alias records, distribution,
 *   certificate) changes in the update phase or is deleted before its publication: each is left
 *   as it was, or deleted in cleanup after the publication (the publication depends on it).
 * - `crossStackProblems`: no stack of the app imports a value of another (`Fn::ImportValue`,
 *   aws-cdk-lib's cross-region export readers and writers, `/cdk/exports/` SSM references), so
 *   no add, remove or rename of a domain can be refused by CloudFormation because an export in
 *   use changed ("Some exports have changed!") and each version deploys in one
 *   `cdk deploy --all`.
 *
 * What happens when the templates are deployed is replayed by cfn-replay.ts.
 */
import { CfnResource, CfnTemplate, IMMUTABLE, PUBLICATION_TYPE, transitiveDependenciesOf } from './cfn-replay';

/** The templates of an app, by stack name. */
export type AppTemplates = Record<string, CfnTemplate>;

/** A resource of an app: its stack and logical id. */
export interface ResourceRef {
  readonly stack: string;
  readonly logicalId: string;
}

const label = (r: ResourceRef | undefined): string => (r ? `${r.stack}/${r.logicalId}` : 'none');
const same = (a: ResourceRef | undefined, b: ResourceRef | undefined): boolean => a?.stack === b?.stack && a?.logicalId === b?.logicalId;
const resourceOf = (app: AppTemplates, r: ResourceRef): CfnResource | undefined => app[r.stack]?.Resources?.[r.logicalId];
const dotted = (name: string): string => (name.endsWith('.') ? name : `${name}.`).toLowerCase();

function resources(app: AppTemplates): Array<ResourceRef & { resource: CfnResource }> {
  return Object.entries(app).flatMap(([stack, template]) =>
    Object.entries(template.Resources ?? {}).map(([logicalId, resource]) => ({ stack, logicalId, resource })));
}

/** What serves and announces one policy domain in an app's templates. */
export interface DomainResources {
  readonly domain: string;
  readonly distribution?: ResourceRef;
  readonly aliases: string[];
  readonly certificate?: ResourceRef;
  /** DomainName and SubjectAlternativeNames of the certificate. */
  readonly certificateNames: string[];
  /** The A and AAAA records of `mta-sts.<d>`. */
  readonly aliasRecords: ResourceRef[];
  /** The publication that writes the policy file and announces it. */
  readonly publication?: ResourceRef;
  /** Bucket policies of the bucket the distribution reads from. */
  readonly bucketPolicies: ResourceRef[];
}

/** The policy domains of an app: names with a publication or an `mta-sts.` A record. */
export function policyDomainsOf(app: AppTemplates): string[] {
  const names = new Set<string>();
  for (const { resource } of resources(app)) {
    const p = resource.Properties ?? {};
    if (resource.Type === PUBLICATION_TYPE && typeof p.DomainName === 'string') {
      names.add(p.DomainName.toLowerCase());
    }
    const m = resource.Type === 'AWS::Route53::RecordSet' && p.Type === 'A' && typeof p.Name === 'string' ? /^mta-sts\.(.+)\.$/.exec(dotted(p.Name)) : null;
    if (m) {
      names.add(m[1]);
    }
  }
  return [...names].sort();
}

export function domainResources(app: AppTemplates, domain: string): DomainResources {
  const host = `mta-sts.${domain}`;
  const all = resources(app);
  const dist = all.find(r => r.resource.Type === 'AWS::CloudFront::Distribution'
    && (r.resource.Properties?.DistributionConfig?.Aliases ?? []).map((a: string) => a.toLowerCase()).includes(host));
  const config = dist?.resource.Properties?.DistributionConfig ?? {};
  const certificateRef = config.ViewerCertificate?.AcmCertificateArn?.Ref;
  const certificate = dist && typeof certificateRef === 'string' ? { stack: dist.stack, logicalId: certificateRef } : undefined;
  const certProps = certificate ? resourceOf(app, certificate)?.Properties ?? {} : {};
  const publication = all.find(r => r.resource.Type === PUBLICATION_TYPE && String(r.resource.Properties?.DomainName).toLowerCase() === domain);
  const originBucket = (config.Origins ?? []).map((o: any) => o.DomainName?.['Fn::GetAtt']?.[0]).find(Boolean);
  return {
    domain,
    distribution: dist && { stack: dist.stack, logicalId: dist.logicalId },
    aliases: [...(config.Aliases ?? [])].sort(),
    certificate,
    certificateNames: [certProps.DomainName, ...(certProps.SubjectAlternativeNames ?? [])].filter(Boolean).sort(),
    aliasRecords: all.filter(r => r.resource.Type === 'AWS::Route53::RecordSet' && ['A', 'AAAA'].includes(r.resource.Properties?.Type)
      && dotted(r.resource.Properties?.Name ?? '') === `${host}.`).map(({ stack, logicalId }) => ({ stack, logicalId })),
    publication: publication && { stack: publication.stack, logicalId: publication.logicalId },
    bucketPolicies: dist && originBucket
      ? all.filter(r => r.stack === dist.stack && r.resource.Type === 'AWS::S3::BucketPolicy' && r.resource.Properties?.Bucket?.Ref === originBucket)
        .map(({ stack, logicalId }) => ({ stack, logicalId }))
      : [],
  };
}

/** A domain present before and after keeps its distribution and certificate. */
export function stableDomainProblems(before: AppTemplates, after: AppTemplates): string[] {
  const problems: string[] = [];
  const afterDomains = new Set(policyDomainsOf(after));
  for (const domain of policyDomainsOf(before).filter(d => afterDomains.has(d))) {
    const b = domainResources(before, domain);
    const a = domainResources(after, domain);
    if (!same(b.distribution, a.distribution)) {
      problems.push(`${domain} moves from distribution ${label(b.distribution)} to ${label(a.distribution)}`);
    } else if (JSON.stringify(b.aliases) !== JSON.stringify(a.aliases)) {
      problems.push(`${domain}: the Aliases of its distribution ${label(a.distribution)} change from [${b.aliases}] to [${a.aliases}]`);
    }
    if (!same(b.certificate, a.certificate)) {
      problems.push(`${domain} moves from certificate ${label(b.certificate)} to ${label(a.certificate)}`);
    } else if (JSON.stringify(b.certificateNames) !== JSON.stringify(a.certificateNames)) {
      problems.push(`${domain}: its certificate ${label(a.certificate)} is replaced, its names change from [${b.certificateNames}] to [${a.certificateNames}]`);
    }
  }
  return problems;
}

/** Each publication waits for its distribution, its alias records and the bucket policy that lets the distribution read. */
export function orderingProblems(app: AppTemplates): string[] {
  const problems: string[] = [];
  for (const domain of policyDomainsOf(app)) {
    const d = domainResources(app, domain);
    if (!d.publication) {
      problems.push(`${domain}: no ${PUBLICATION_TYPE} found`);
      continue;
    }
    if (d.bucketPolicies.length === 0) {
      problems.push(`${domain}: no bucket policy found for the bucket its distribution ${label(d.distribution)} reads from`);
    }
    if (d.aliasRecords.length < 2) {
      problems.push(`${domain}: expected an A and an AAAA record for mta-sts.${domain}, found ${d.aliasRecords.map(label).join(', ') || 'none'}`);
    }
    const deps = transitiveDependenciesOf(app[d.publication.stack], d.publication.logicalId);
    const needed: Array<[string, ResourceRef | undefined]> = [
      ['distribution', d.distribution],
      ...d.aliasRecords.map((r): [string, ResourceRef] => ['alias record', r]),
      ...d.bucketPolicies.map((r): [string, ResourceRef] => ['bucket policy', r]),
    ];
    for (const [what, ref] of needed) {
      if (ref && (ref.stack !== d.publication.stack || !deps.has(ref.logicalId))) {
        problems.push(`${domain}: its publication ${label(d.publication)} does not depend on the ${what} ${label(ref)}`);
      }
    }
  }
  return problems;
}

/** What serves a removed domain stays as it was until its publication is gone. */
export function removalProblems(before: AppTemplates, after: AppTemplates): string[] {
  const problems: string[] = [];
  const afterDomains = new Set(policyDomainsOf(after));
  for (const domain of policyDomainsOf(before).filter(d => !afterDomains.has(d))) {
    const d = domainResources(before, domain);
    if (!d.publication) {
      continue;
    }
    const publicationDeps = transitiveDependenciesOf(before[d.publication.stack], d.publication.logicalId);
    const endpoint: Array<[string, ResourceRef | undefined]> = [
      ...d.aliasRecords.map((r): [string, ResourceRef] => ['alias record', r]),
      ['distribution', d.distribution],
      ['certificate', d.certificate],
    ];
    for (const [what, ref] of endpoint) {
      if (!ref) {
        continue;
      }
      const was = resourceOf(before, ref)!;
      const now = resourceOf(after, ref);
      // A replaced resource (an immutable property changed) keeps its old physical resource
      // until cleanup, like a removed one.
      const replaced = now !== undefined && (now.Type !== was.Type
        || (IMMUTABLE[now.Type] ?? []).some(p => JSON.stringify(now.Properties?.[p]) !== JSON.stringify(was.Properties?.[p])));
      if (now === undefined || replaced) {
        if (ref.stack !== d.publication.stack || !publicationDeps.has(ref.logicalId)) {
          problems.push(`${domain}: its ${what} ${label(ref)} may be ${replaced ? 'replaced and its old physical resource ' : ''}deleted before its publication ${label(d.publication)} (the publication does not depend on it)`);
        }
      } else if (JSON.stringify(now) !== JSON.stringify(was)) {
        problems.push(`${domain}: its ${what} ${label(ref)} changes in the update phase, while its publication ${label(d.publication)} `
          + 'is deleted only in cleanup, so the id stays announced for an endpoint that no longer serves it');
      }
    }
  }
  return problems;
}

/** Every way a stack of the app takes a value from another stack. */
export function crossStackProblems(app: AppTemplates): string[] {
  const problems: string[] = [];
  for (const [stack, template] of Object.entries(app)) {
    for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
      if (resource.Type === 'Custom::CrossRegionExportWriter' || resource.Type === 'Custom::CrossRegionExportReader') {
        problems.push(`${stack}/${logicalId} is a cross-region ${resource.Type.endsWith('Writer') ? 'export writer' : 'export reader'}`);
      }
    }
    const text = JSON.stringify(template);
    for (const m of text.matchAll(/\{\{resolve:ssm:(\/cdk\/exports\/[^}]+)\}\}/g)) {
      problems.push(`${stack} reads the cross-region export ${m[1]}`);
    }
    if (text.includes('"Fn::ImportValue"')) {
      problems.push(`${stack} imports a value of another stack (Fn::ImportValue)`);
    }
    for (const [name, output] of Object.entries<any>(template.Outputs ?? {})) {
      if (output?.Export) {
        problems.push(`${stack} exports its output ${name}`);
      }
    }
  }
  return problems;
}
