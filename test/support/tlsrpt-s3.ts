import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

/**
 * A real S3-compatible server (s3rver) on loopback, one bucket, and an S3 client for it.
 *
 * s3rver 3.7 ignores `If-None-Match` on PUT (it only honours it on GET), while S3 answers a
 * conditional write to an existing key with 412 PreconditionFailed. So that write-once is
 * tested for real, `start` puts a middleware in front of s3rver's routes that gives S3's
 * documented answer when the key exists in s3rver's own store; everything else is s3rver's.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
 */
export class LoopbackS3 {
  public static async start(bucket = 'tlsrpt-collector'): Promise<LoopbackS3> {
    const directory = mkdtempSync(join(tmpdir(), 's3rver-'));
    const server = new S3rver({
      address: '127.0.0.1',
      port: 0,
      directory,
      silent: true,
      configureBuckets: [{ name: bucket, configs: [] }],
    });
    const internals = server as unknown as S3rverInternals;
    internals.middleware.unshift(async (ctx, next) => {
      const [, bucketName, ...keyParts] = ctx.path.split('/');
      const key = decodeURIComponent(keyParts.join('/'));
      if (ctx.method === 'PUT' && ctx.get('if-none-match') === '*' && !ctx.get('x-amz-copy-source')
        && key && await internals.store.existsObject(bucketName, key)) {
        ctx.status = 412;
        ctx.type = 'application/xml';
        ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code>'
          + '<Message>At least one of the pre-conditions you specified did not hold</Message>'
          + '<Condition>If-None-Match</Condition></Error>';
        return;
      }
      await next();
    });
    const address = await server.run();
    const s3 = new S3Client({
      endpoint: `http://127.0.0.1:${address.port}`,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      // s3rver does not understand the aws-chunked uploads with trailing checksums newer SDKs send by default.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    return new LoopbackS3(server, s3, bucket, directory);
  }

  private constructor(
    private readonly server: S3rver,
    public readonly s3: S3Client,
    public readonly bucket: string,
    private readonly directory: string,
  ) {}

  /** Stores a raw message where the receipt rule's S3 action puts it (`raw/<message id>`). */
  public async putRaw(messageId: string, raw: Buffer | string): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: `raw/${messageId}`, Body: raw }));
  }

  /** Every key in the bucket, sorted. */
  public async keys(prefix = ''): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map(object => object.Key!));
      token = page.NextContinuationToken;
    } while (token);
    return keys.sort();
  }

  /** An object's body as text. */
  public async text(key: string): Promise<string> {
    const response = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return response.Body!.transformToString();
  }

  /** An object's body parsed as JSON. */
  public async json<T = any>(key: string): Promise<T> {
    return JSON.parse(await this.text(key));
  }

  public async stop(): Promise<void> {
    this.s3.destroy();
    await this.server.close();
    rmSync(this.directory, { recursive: true, force: true });
  }
}

interface KoaContext {
  readonly method: string;
  readonly path: string;
  status: number;
  type: string;
  body: unknown;
  get(header: string): string;
}

interface S3rverInternals {
  readonly middleware: Array<(ctx: KoaContext, next: () => Promise<void>) => Promise<void>>;
  readonly store: { existsObject(bucket: string, key: string): Promise<boolean> };
}
