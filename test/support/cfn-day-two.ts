/**
 * Template checks for day-two deploys (issue 12): what must not change between the templates
 * of two consecutive versions of an app when policy domains are added, removed or renamed.
 *
 * Everything here reads synthesized templates only, and finds resources by what they are
 * (an alias `mta-sts.<d>` on a distribution, a `_mta-sts.<d>` TXT record set, a
 * `Custom::MtaStsPolicyPublication` for `<d>`), never by logical id, so the checks apply to
 * the current design and to the rewrite alike.
 *
 * - `stableDomainProblems`: a domain present before and after keeps its distribution (same
 *   stack and logical id, same Aliases) and its certificate (same stack and logical id, same
 *   names, so not replaced).
 * - `exportProblems`: a cross-region export (aws-cdk-lib's `Custom::CrossRegionExportWriter`,
 *   or an SSM parameter under `/cdk/exports/`) that a before-template still imports keeps its
 *   value and is not removed: `cdk deploy --all` deploys the producer first, while the
 *   consumer still imports it, and the export writer refuses the change.
 * - `orderingProblems` (finding 6): a domain's announcer (the `_mta-sts` TXT record, or the
 *   publication) depends, directly or transitively, on the bucket policy of the bucket it is
 *   served from; a routing CloudFront Function depends on every object it routes to.
 * - `removalProblems` (finding 7): when a domain goes, nothing that serves it (alias records,
 *   distribution, certificate, routing function) changes in the update phase or is deleted
 *   before its announcer: each is either left as it was, or deleted in cleanup after the
 *   announcer (the announcer depends on it).
 */
import * as vm from 'node:vm';
import { CfnResource, CfnTemplate, IMMUTABLE, transitiveDependenciesOf } from './cfn-replay';

/** The templates of an app, by stack (artifact id). */
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
  readonly aliasRecords: ResourceRef[];
  /** The `_mta-sts` TXT record set, or the publication resource. */
  readonly announcer?: ResourceRef;
  /** The viewer-request function of the distribution, if any. */
  readonly routing?: ResourceRef;
  /** Bucket policies of the bucket the distribution reads from. */
  readonly bucketPolicies: ResourceRef[];
}

/** The policy domains of an app: names with an `mta-sts.` alias record or an announcer. */
export function policyDomainsOf(app: AppTemplates): string[] {
  const names = new Set<string>();
  for (const { resource } of resources(app)) {
    const p = resource.Properties ?? {};
    if (resource.Type === 'Custom::MtaStsPolicyPublication' && typeof p.DomainName === 'string') {
      names.add(p.DomainName.toLowerCase());
    }
    const m = resource.Type === 'AWS::Route53::RecordSet' && typeof p.Name === 'string' ? /^(_?)mta-sts\.(.+)\.$/.exec(dotted(p.Name)) : null;
    if (m && ((m[1] === '' && p.Type === 'A') || (m[1] === '_' && p.Type === 'TXT'))) {
      names.add(m[2]);
    }
  }
  return [...names].sort();
}

/** Follows a certificate ARN expression to the certificate resource, across a cross-region reference. */
function certificateOf(app: AppTemplates, stack: string, arn: any): ResourceRef | undefined {
  if (arn?.Ref) {
    return { stack, logicalId: arn.Ref };
  }
  const getAtt = arn?.['Fn::GetAtt'];
  if (Array.isArray(getAtt)) {
    // aws-cdk-lib's cross-region reference: a reader attribute named after the export.
    const exportName = getAtt[1];
    for (const { stack: s, resource } of resources(app)) {
      const value = resource.Type === 'Custom::CrossRegionExportWriter' ? resource.Properties?.WriterProps?.exports?.[exportName] : undefined;
      if (value?.Ref) {
        return { stack: s, logicalId: value.Ref };
      }
    }
  }
  return undefined;
}

export function domainResources(app: AppTemplates, domain: string): DomainResources {
  const host = `mta-sts.${domain}`;
  const all = resources(app);
  const dist = all.find(r => r.resource.Type === 'AWS::CloudFront::Distribution'
    && (r.resource.Properties?.DistributionConfig?.Aliases ?? []).map((a: string) => a.toLowerCase()).includes(host));
  const config = dist?.resource.Properties?.DistributionConfig ?? {};
  const certificate = dist && certificateOf(app, dist.stack, config.ViewerCertificate?.AcmCertificateArn);
  const certProps = certificate ? resourceOf(app, certificate)?.Properties ?? {} : {};
  const announcer = all.find(r => (r.resource.Type === 'Custom::MtaStsPolicyPublication' && r.resource.Properties?.DomainName?.toLowerCase() === domain)
    || (r.resource.Type === 'AWS::Route53::RecordSet' && r.resource.Properties?.Type === 'TXT' && dotted(r.resource.Properties?.Name ?? '') === `_mta-sts.${domain}.`));
  const association = (config.DefaultCacheBehavior?.FunctionAssociations ?? []).find((a: any) => a.EventType === 'viewer-request');
  const routingId = association?.FunctionARN?.['Fn::GetAtt']?.[0];
  const originBucket = (config.Origins ?? []).map((o: any) => o.DomainName?.['Fn::GetAtt']?.[0]).find(Boolean);
  return {
    domain,
    distribution: dist && { stack: dist.stack, logicalId: dist.logicalId },
    aliases: [...(config.Aliases ?? [])].sort(),
    certificate,
    certificateNames: [certProps.DomainName, ...(certProps.SubjectAlternativeNames ?? [])].filter(Boolean).sort(),
    aliasRecords: all.filter(r => r.resource.Type === 'AWS::Route53::RecordSet' && ['A', 'AAAA'].includes(r.resource.Properties?.Type)
      && dotted(r.resource.Properties?.Name ?? '') === `${host}.`).map(({ stack, logicalId }) => ({ stack, logicalId })),
    announcer: announcer && { stack: announcer.stack, logicalId: announcer.logicalId },
    routing: dist && routingId ? { stack: dist.stack, logicalId: routingId } : undefined,
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

/** Export name to value expression, per stack, from export writers and /cdk/exports/ parameters. */
function exportsOf(app: AppTemplates): Map<string, { stack: string; value: any }> {
  const exports = new Map<string, { stack: string; value: any }>();
  for (const { stack, resource } of resources(app)) {
    if (resource.Type === 'Custom::CrossRegionExportWriter') {
      for (const [name, value] of Object.entries(resource.Properties?.WriterProps?.exports ?? {})) {
        exports.set(name, { stack, value });
      }
    }
    if (resource.Type === 'AWS::SSM::Parameter' && String(resource.Properties?.Name).startsWith('/cdk/exports/')) {
      exports.set(resource.Properties.Name, { stack, value: resource.Properties.Value });
    }
  }
  return exports;
}

/** Export names a stack imports, from export readers and `{{resolve:ssm:/cdk/exports/...}}` references. */
function importsOf(app: AppTemplates): Map<string, string[]> {
  const imports = new Map<string, string[]>();
  for (const [stack, template] of Object.entries(app)) {
    for (const m of JSON.stringify(template).matchAll(/\{\{resolve:ssm:(\/cdk\/exports\/[^}]+)\}\}/g)) {
      imports.set(m[1], [...new Set([...(imports.get(m[1]) ?? []), stack])]);
    }
  }
  return imports;
}

/**
 * The value an export expression has once deployed, as far as templates tell: a Ref to a
 * resource stands for that resource's identity, its logical id and immutable names, so a
 * replaced certificate under an unchanged Ref is a changed value.
 */
function exportValueOf(app: AppTemplates, stack: string, value: any): string {
  return JSON.stringify(value, (_key, node) => {
    if (node && typeof node === 'object' && typeof node.Ref === 'string') {
      const resource = app[stack]?.Resources?.[node.Ref];
      const p = resource?.Properties ?? {};
      return { Ref: node.Ref, type: resource?.Type, names: [p.DomainName, p.SubjectAlternativeNames, p.Name, p.BucketName] };
    }
    return node;
  });
}

/** No export still imported by a before-template changes value or disappears. */
export function exportProblems(before: AppTemplates, after: AppTemplates): string[] {
  const problems: string[] = [];
  const beforeExports = exportsOf(before);
  const afterExports = exportsOf(after);
  for (const [name, consumers] of importsOf(before)) {
    const was = beforeExports.get(name);
    if (!was) {
      continue;
    }
    const now = afterExports.get(name);
    if (!now) {
      problems.push(`export ${name} of ${was.stack} disappears while ${consumers.join(', ')} still import it`);
    } else if (exportValueOf(before, was.stack, was.value) !== exportValueOf(after, now.stack, now.value)) {
      problems.push(`export ${name} of ${was.stack} changes value (${exportValueOf(before, was.stack, was.value)} to ${exportValueOf(after, now.stack, now.value)}) `
        + `while ${consumers.join(', ')} still import it: "Some exports have changed!"`);
    }
  }
  return problems;
}

/** Object keys a routing function serves, from its ROUTES table. */
function routedKeys(code: string): string[] {
  const sandbox: any = {};
  vm.runInNewContext(`${code}\n;routes = ROUTES;`, sandbox);
  return Object.values(sandbox.routes ?? {}).map(String);
}

/** Finding 6: announcers wait for the bucket policy; routing waits for the objects it routes to. */
export function orderingProblems(app: AppTemplates): string[] {
  const problems: string[] = [];
  const functionsChecked = new Set<string>();
  for (const domain of policyDomainsOf(app)) {
    const d = domainResources(app, domain);
    if (!d.announcer) {
      problems.push(`${domain}: no announcer found (no _mta-sts.${domain} TXT record set, no Custom::MtaStsPolicyPublication)`);
    } else {
      const deps = transitiveDependenciesOf(app[d.announcer.stack], d.announcer.logicalId);
      if (d.bucketPolicies.length === 0) {
        problems.push(`${domain}: no bucket policy found for the bucket its distribution ${label(d.distribution)} reads from`);
      }
      for (const policy of d.bucketPolicies.filter(p => p.stack !== d.announcer!.stack || !deps.has(p.logicalId))) {
        problems.push(`${domain}: its announcer ${label(d.announcer)} does not depend on the bucket policy ${label(policy)} that lets its distribution read`);
      }
    }
    if (d.routing && !functionsChecked.has(label(d.routing))) {
      functionsChecked.add(label(d.routing));
      const template = app[d.routing.stack];
      const deps = transitiveDependenciesOf(template, d.routing.logicalId);
      for (const key of new Set(routedKeys(resourceOf(app, d.routing)!.Properties.FunctionCode))) {
        const writers = Object.entries(template.Resources ?? {})
          .filter(([, r]) => r.Type.startsWith('Custom::') && JSON.stringify(r.Properties ?? {}).includes(key)).map(([id]) => id);
        if (!writers.some(w => deps.has(w))) {
          problems.push(`the routing function ${label(d.routing)} routes to ${key} but does not depend on ${writers.join(' or ') || 'anything writing it'}`);
        }
      }
    }
  }
  return problems;
}

/** Finding 7: what serves a removed domain stays as it was until its announcer is gone. */
export function removalProblems(before: AppTemplates, after: AppTemplates): string[] {
  const problems: string[] = [];
  const afterDomains = new Set(policyDomainsOf(after));
  for (const domain of policyDomainsOf(before).filter(d => !afterDomains.has(d))) {
    const d = domainResources(before, domain);
    if (!d.announcer) {
      continue;
    }
    const announcerDeps = transitiveDependenciesOf(before[d.announcer.stack], d.announcer.logicalId);
    const endpoint: Array<[string, ResourceRef | undefined]> = [
      ...d.aliasRecords.map((r): [string, ResourceRef] => ['alias record', r]),
      ['distribution', d.distribution],
      ['certificate', d.certificate],
      ['routing function', d.routing],
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
        if (ref.stack !== d.announcer.stack || !announcerDeps.has(ref.logicalId)) {
          problems.push(`${domain}: its ${what} ${label(ref)} may be ${replaced ? 'replaced and its old physical resource ' : ''}deleted before its announcer ${label(d.announcer)} (the announcer does not depend on it)`);
        }
      } else if (JSON.stringify(now) !== JSON.stringify(was)) {
        problems.push(`${domain}: its ${what} ${label(ref)} changes in the update phase, while its announcer ${label(d.announcer)} `
          + 'is deleted only in cleanup, so the id stays announced for an endpoint that no longer serves it');
      }
    }
  }
  return problems;
}
