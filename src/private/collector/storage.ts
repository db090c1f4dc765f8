import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { STORAGE_PREFIXES } from '../../core/tlsrpt-report';
import { PRIVATE_BUCKET_PROPS } from '../private-bucket';

/** How long each kind of object is kept. */
export interface RetentionSettings {
  readonly rawMessages: Duration;
  /** Undefined: kept until deleted by hand. */
  readonly reports?: Duration;
  readonly setAside: Duration;
  /** Reports POSTed over HTTPS and not counted (under `https/`); undefined without HTTPS reception. */
  readonly uncountedHttpsReports?: Duration;
}

/**
 * The collector's bucket: private (all public access blocked, bucket-owner-enforced), encrypted
 * with S3-managed keys, TLS 1.2 only, retained by default, with one lifecycle rule per prefix.
 * Quarantined, rejected and unconfigured objects, and uncounted HTTPS reports, share the `setAside` retention.
 */
export function createCollectorBucket(scope: Construct, removalPolicy: RemovalPolicy, retention: RetentionSettings): s3.Bucket {
  const expire = (id: string, prefix: string, after: Duration): s3.LifecycleRule => ({ id, prefix, expiration: after });
  return new s3.Bucket(scope, 'Bucket', {
    ...PRIVATE_BUCKET_PROPS,
    removalPolicy,
    lifecycleRules: [
      expire('RawMessages', STORAGE_PREFIXES.raw, retention.rawMessages),
      ...(retention.reports ? [expire('Reports', STORAGE_PREFIXES.reports, retention.reports)] : []),
      expire('Unconfigured', STORAGE_PREFIXES.unconfigured, retention.setAside),
      expire('Quarantine', STORAGE_PREFIXES.quarantine, retention.setAside),
      expire('Rejected', STORAGE_PREFIXES.rejected, retention.setAside),
      ...(retention.uncountedHttpsReports ? [expire('HttpsReports', STORAGE_PREFIXES.https, retention.uncountedHttpsReports)] : []),
      { id: 'AbortIncompleteUploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
    ],
  });
}
