import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CfnResource, FileSystem, Lazy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { COLLECTOR_POLICY_DOMAINS_FILE } from '../../core/collector-contract';

/**
 * The code of the collector's processors: the handler bundle and, beside it,
 * COLLECTOR_POLICY_DOMAINS_FILE with the configured domains. The functions are created with it
 * in the collector's constructor, but domains are added later (MtaSts and MtaStsDomains do), so
 * the asset is made by `seal`, once the list is final (the collector calls it from an aspect, at
 * synthesis). Its directory is content-addressed: the same bundle and domains give the same
 * asset hash, whatever the order in which domains were added; a change of domains changes the
 * functions' code, so it reaches them with the deploy, atomically.
 */
export class ProcessorCode extends lambda.Code {
  private asset?: s3assets.Asset;
  private sealedText?: string;
  private readonly resources: CfnResource[] = [];

  constructor(private readonly bundleDir: string) {
    super();
  }

  public bind(_scope: Construct): lambda.CodeConfig {
    return {
      s3Location: {
        bucketName: Lazy.string({ produce: () => this.sealedAsset().s3BucketName }),
        objectKey: Lazy.string({ produce: () => this.sealedAsset().s3ObjectKey }),
      },
    };
  }

  public bindToResource(resource: CfnResource): void {
    this.resources.push(resource);
    this.asset?.addResourceMetadata(resource, 'Code');
  }

  /** Whether `seal` was called: the domain list is final. */
  public get sealed(): boolean {
    return this.asset !== undefined;
  }

  /**
   * Makes the asset with this policy domains file (`id` below `scope`). Called again with the
   * same text (a second synthesis), it does nothing.
   *
   * @throws Error when called again with another text
   */
  public seal(scope: Construct, id: string, policyDomainsText: string): void {
    if (this.asset) {
      if (policyDomainsText !== this.sealedText) {
        throw new Error(`${scope.node.path}: the policy domains changed after the processors' code was made`);
      }
      return;
    }
    this.sealedText = policyDomainsText;
    this.asset = new s3assets.Asset(scope, id, { path: codeDirectory(this.bundleDir, policyDomainsText), deployTime: true });
    for (const resource of this.resources) {
      this.asset.addResourceMetadata(resource, 'Code');
    }
  }

  private sealedAsset(): s3assets.Asset {
    if (!this.asset) {
      throw new Error('The TLS-RPT collector\'s processor code is made when the app is synthesized (app.synth()), after every domain is added');
    }
    return this.asset;
  }
}

/**
 * A directory holding the bundle's files and the policy domains file, named by the hash of its
 * content under the temporary directory, written once (to a temporary sibling, then renamed, so
 * that concurrent syntheses never see half a directory) and reused by later syntheses.
 */
function codeDirectory(bundleDir: string, policyDomainsText: string): string {
  const files = new Map<string, Buffer>();
  for (const name of readdirSync(bundleDir).sort()) {
    if (name !== COLLECTOR_POLICY_DOMAINS_FILE && statSync(join(bundleDir, name)).isFile()) {
      files.set(name, readFileSync(join(bundleDir, name)));
    }
  }
  files.set(COLLECTOR_POLICY_DOMAINS_FILE, Buffer.from(policyDomainsText, 'utf8'));
  const hash = createHash('sha256');
  for (const [name, content] of files) {
    hash.update(`${name}\0${content.length}\0`).update(content);
  }
  const base = join(FileSystem.tmpdir, 'cdk-mta-sts-collector-code');
  const dir = join(base, hash.digest('hex'));
  if (!existsSync(dir)) {
    mkdirSync(base, { recursive: true });
    const staging = mkdtempSync(join(base, 'staging-'));
    for (const [name, content] of files) {
      writeFileSync(join(staging, name), content);
    }
    try {
      renameSync(staging, dir);
    } catch (error) {
      // Another synthesis wrote the same directory first: same content, keep it.
      rmSync(staging, { recursive: true, force: true });
      if (!existsSync(dir)) {
        throw error;
      }
    }
  }
  return dir;
}
