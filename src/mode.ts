/**
 * The policy mode: what a sending MTA does when a receiving MX does not match the policy.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8461#section-5
 */
export enum MtaStsMode {
  /** Senders refuse to deliver to an MX that does not match the policy or lacks valid TLS. */
  ENFORCE = 'enforce',
  /** Senders deliver anyway but report failures through TLS-RPT. The safe way to start. */
  TESTING = 'testing',
  /**
   * The domain withdraws its policy.
   *
   * Publish this (with a new id) for at least the old maxAge before removing MTA-STS.
   */
  NONE = 'none',
}
