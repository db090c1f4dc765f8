/**
 * Plain-language reasons for TLS certificate errors (Node's error codes), with what to do.
 */
export function describeTlsError(error: NodeJS.ErrnoException, host: string): string {
  switch (error.code) {
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
    {
      const names = /((?:DNS|IP Address):.*)$/.exec(error.message)?.[1];
      return `the certificate is not valid for ${host} (${names ? `it names ${names}` : error.message})`;
    }
    case 'CERT_HAS_EXPIRED':
      return 'the certificate has expired';
    case 'CERT_NOT_YET_VALID':
      return 'the certificate is not valid yet';
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return 'the certificate chain ends in a self-signed certificate that is not a trusted root';
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return 'the certificate chain does not lead to a trusted root (missing intermediate certificate, or a private CA)';
    case 'CERT_REVOKED':
      return 'the certificate is revoked';
    default:
      return `the TLS handshake failed (${error.code ?? 'error'}: ${error.message})`;
  }
}

/** Whether an error is a certificate verification error (as opposed to a network error). */
export function isCertificateError(error: NodeJS.ErrnoException): boolean {
  return error.code === 'ERR_TLS_CERT_ALTNAME_INVALID' || /CERT|SIGNATURE|ISSUER/.test(error.code ?? '');
}
