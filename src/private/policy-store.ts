import { RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';

/** Content-Type of the policy object; RFC 8461 §3.3 requires media type text/plain. */
export const POLICY_CONTENT_TYPE = 'text/plain';

/**
 * Creates the private bucket that holds policy files: all public access blocked, S3-managed
 * encryption, TLS-only access, bucket-owner-enforced ownership. CloudFront reaches it through
 * origin access control only.
 */
export function createPolicyBucket(scope: Construct, removalPolicy: RemovalPolicy): s3.Bucket {
  return new s3.Bucket(scope, 'Bucket', {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    removalPolicy,
  });
}

export interface PolicyObjectProps {
  /** The bucket to write to. */
  readonly bucket: s3.IBucket;
  /** The object key, without a leading slash. */
  readonly key: string;
  /** The exact policy file. */
  readonly text: string;
}

/**
 * One policy file written to the bucket by an S3 PutObject call from CloudFormation.
 *
 * AwsCustomResource runs every call of a stack in one shared Lambda function, so however many
 * policy objects a stack holds, it has one upload function and no AWS CLI layer. The object is
 * rewritten whenever the text changes, and deleted with this construct; resources that announce
 * the policy depend on this construct, so they change only after the new file is in the bucket.
 */
export class PolicyObject extends Construct {
  /** The S3 key of the policy file. */
  public readonly key: string;

  constructor(scope: Construct, id: string, props: PolicyObjectProps) {
    super(scope, id);
    this.key = props.key;
    const putObject: cr.AwsSdkCall = {
      service: 'S3',
      action: 'putObject',
      parameters: {
        Bucket: props.bucket.bucketName,
        Key: props.key,
        Body: props.text,
        ContentType: POLICY_CONTENT_TYPE,
        // Senders must not use HTTP caching for the policy (RFC 8461 §3.3); nothing in between should either.
        CacheControl: 'no-store',
      },
      physicalResourceId: cr.PhysicalResourceId.of(props.key),
    };
    // Removing the object with its resource leaves an emptied bucket that RemovalPolicy.DESTROY
    // can delete (no auto-delete Lambda needed). CloudFormation deletes this resource only after
    // the records that announce it, and an update never deletes it: the physical id is the key.
    const deleteObject: cr.AwsSdkCall = {
      service: 'S3',
      action: 'deleteObject',
      parameters: { Bucket: props.bucket.bucketName, Key: props.key },
    };
    new cr.AwsCustomResource(this, 'Resource', {
      resourceType: 'Custom::MtaStsPolicyObject',
      onCreate: putObject,
      onUpdate: putObject,
      onDelete: deleteObject,
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({ actions: ['s3:PutObject', 's3:DeleteObject'], resources: [props.bucket.arnForObjects(props.key)] }),
      ]),
      // Never download an SDK at deploy time: the runtime's bundled SDK has PutObject.
      installLatestAwsSdk: false,
    });
  }
}
