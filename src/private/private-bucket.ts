import * as s3 from 'aws-cdk-lib/aws-s3';

/**
 * The settings every bucket of this library has: all public access blocked, bucket-owner-enforced
 * ownership (no ACLs), S3-managed encryption, and a policy denying requests without TLS 1.2.
 */
export const PRIVATE_BUCKET_PROPS: s3.BucketProps = {
  blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
  encryption: s3.BucketEncryption.S3_MANAGED,
  enforceSSL: true,
  minimumTLSVersion: 1.2,
  objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
};
