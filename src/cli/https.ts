import { request } from 'node:https';
import { checkServerIdentity, PeerCertificate } from 'node:tls';
import { describeTlsError, isCertificateError } from './tls-errors';
import { MAX_POLICY_BYTES } from '../core/policy-text';

/** How the policy fetch ended. */
export interface PolicyFetch {
  /** Set when no HTTP response came back: the reason, in words. */
  readonly error?: string;
  /** Whether `error` is about the certificate (as opposed to the network). */
  readonly certificateError?: boolean;
  readonly status?: number;
  readonly location?: string;
  readonly contentType?: string;
  /** The body, when status is 200 and it is at most MAX_POLICY_BYTES. */
  readonly body?: Buffer;
  /** True when the body was cut off past MAX_POLICY_BYTES. */
  readonly oversized?: boolean;
  readonly tlsProtocol?: string;
}

export interface FetchOptions {
  /** The policy host, `mta-sts.<domain>`: SNI, Host header and the name the certificate must match. */
  readonly host: string;
  /** The address to connect to (resolved by the checker's own resolver). */
  readonly address: string;
  readonly port: number;
  readonly path: string;
  readonly deadline: number;
  /** Trusted roots instead of Node's (tests); NODE_EXTRA_CA_CERTS applies otherwise. */
  readonly ca?: string | Buffer;
}

/**
 * GETs the policy as a sender does (RFC 8461 §3.3): HTTPS with a certificate valid for the
 * policy host, no redirects followed, no caching, at most MAX_POLICY_BYTES read.
 */
export function fetchPolicy(options: FetchOptions): Promise<PolicyFetch> {
  return new Promise<PolicyFetch>(resolve => {
    let done = false;
    const finish = (result: PolicyFetch) => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        req.destroy();
        resolve(result);
      }
    };
    const req = request({
      host: options.address,
      port: options.port,
      path: options.path,
      method: 'GET',
      servername: options.host,
      headers: { 'Host': options.host, 'User-Agent': 'cdk-mta-sts-check', 'Cache-Control': 'no-cache', 'Accept': 'text/plain' },
      agent: false,
      ca: options.ca,
      rejectUnauthorized: true,
      checkServerIdentity: (_name: string, cert: PeerCertificate) => checkServerIdentity(options.host, cert),
    }, res => {
      const status = res.statusCode ?? 0;
      const contentType = res.headers['content-type'];
      const tlsProtocol = (res.socket as unknown as { getProtocol?: () => string | null }).getProtocol?.() ?? undefined;
      if (status !== 200) {
        finish({ status, location: res.headers.location, contentType, tlsProtocol });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size > MAX_POLICY_BYTES) {
          finish({ status, contentType, oversized: true, tlsProtocol });
        }
      });
      res.on('end', () => finish({ status, contentType, body: Buffer.concat(chunks), tlsProtocol }));
      res.on('error', (err: NodeJS.ErrnoException) => finish({ error: `the response broke off (${err.code ?? err.message})` }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const certificateError = isCertificateError(err);
      finish({ error: certificateError ? describeTlsError(err, options.host) : `could not fetch it (${err.code ?? err.message})`, certificateError });
    });
    const timer = setTimeout(() => finish({ error: 'no complete answer before the timeout' }), Math.max(0, options.deadline - Date.now()));
    req.end();
  });
}
