/**
 * Jest snapshot serializer: masks asset hashes (64 hex characters, in S3 keys and asset
 * parameters) so that an aws-cdk-lib upgrade that only rebuilds its bundled handlers does not
 * churn users' snapshots. Policy ids (32 hex) and logical ids are left as they are.
 */
const ASSET_HASH = /[0-9a-f]{64}/g;

function containsHash(value: unknown): boolean {
  return typeof value === 'string' && /[0-9a-f]{64}/.test(value);
}

module.exports = {
  test: containsHash,
  serialize(value: string): string {
    return JSON.stringify(value.replace(ASSET_HASH, '[ASSET_HASH]'));
  },
};
