import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PolicyDomainMetadata, POLICY_DOMAIN_METADATA_TYPE } from '../core/assembly-metadata';

/** A policy domain found in a cloud assembly, with where it was found. */
export interface AssemblyDomain {
  readonly stack: string;
  readonly path: string;
  readonly data: PolicyDomainMetadata;
}

type MetadataByPath = Record<string, Array<{ type?: string; data?: unknown }>>;

/**
 * Reads every policy domain that `MtaSts` or `MtaStsDomains` recorded in a cloud assembly:
 * entries of type POLICY_DOMAIN_METADATA_TYPE in each stack artifact's metadata, which
 * `cdk.out/manifest.json` holds inline (`artifacts[stack].metadata`) or, from newer aws-cdk-lib
 * versions on, in a file of its own named by `artifacts[stack].additionalMetadataFile`.
 * Throws an Error with a one-line message when the assembly cannot be read.
 */
export function readAssemblyDomains(dir: string): AssemblyDomain[] {
  const file = join(dir, 'manifest.json');
  let manifest: { artifacts?: Record<string, { type?: string; metadata?: MetadataByPath; additionalMetadataFile?: string }> };
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the cloud assembly ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  const domains: AssemblyDomain[] = [];
  for (const [stack, artifact] of Object.entries(manifest.artifacts ?? {})) {
    if (artifact.type !== 'aws:cloudformation:stack') {
      continue;
    }
    const metadata: MetadataByPath = { ...artifact.metadata };
    if (artifact.additionalMetadataFile) {
      const extra = join(dir, artifact.additionalMetadataFile);
      let more: MetadataByPath;
      try {
        more = JSON.parse(readFileSync(extra, 'utf8'));
      } catch (err) {
        throw new Error(`cannot read the cloud assembly ${extra}: ${(err as Error).message.split('\n')[0]}`);
      }
      for (const [path, entries] of Object.entries(more)) {
        metadata[path] = [...(metadata[path] ?? []), ...entries];
      }
    }
    for (const [path, entries] of Object.entries(metadata)) {
      for (const entry of entries ?? []) {
        if (entry.type !== POLICY_DOMAIN_METADATA_TYPE) {
          continue;
        }
        const data = entry.data as PolicyDomainMetadata;
        if (typeof data?.domainName !== 'string' || typeof data.policyText !== 'string' || typeof data.contentId !== 'string') {
          throw new Error(`cannot read the cloud assembly ${file}: the ${POLICY_DOMAIN_METADATA_TYPE} entry at ${path} is malformed`);
        }
        domains.push({ stack, path, data });
      }
    }
  }
  return domains.sort((a, b) => a.data.domainName.localeCompare(b.data.domainName));
}
