import { connect as netConnect, Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, TLSSocket } from 'node:tls';
import { describeTlsError } from './tls-errors';

/** What probing one MX host over SMTP found. */
export interface SmtpProbe {
  /**
   * `ok`; `unreachable` (no connection or no banner: often port 25 blocked on this network);
   * `refused` (the banner was not 220); `no-starttls`; `tls-failed` (handshake); `certificate`;
   * `old-tls` (below TLS 1.2).
   */
  readonly outcome: 'ok' | 'unreachable' | 'refused' | 'no-starttls' | 'tls-failed' | 'certificate' | 'old-tls';
  /** What was found, in words. */
  readonly detail: string;
  readonly tlsProtocol?: string;
  /** The certificate's notAfter, when the handshake completed. */
  readonly validTo?: string;
}

export interface SmtpProbeOptions {
  /** The MX host name: SNI, and the name the certificate must match (RFC 8461 §4.2). */
  readonly host: string;
  readonly address: string;
  readonly port: number;
  readonly deadline: number;
  readonly ca?: string | Buffer;
}

interface Reply {
  readonly code: number;
  readonly lines: string[];
}

/** The name this client gives in EHLO. */
const EHLO_NAME = 'cdk-mta-sts-check.invalid';

/**
 * Connects to an MX as a sending MTA does: banner, EHLO, STARTTLS, then a TLS handshake with
 * SNI, checking the chain, the name (RFC 6125, as RFC 8461 §4.2 asks), the dates and the TLS
 * version. Never throws; bounded by the deadline.
 */
export function probeSmtp(options: SmtpProbeOptions): Promise<SmtpProbe> {
  return new Promise<SmtpProbe>(resolve => {
    let done = false;
    const socket: Socket = netConnect({ host: options.address, port: options.port });
    let tlsSocket: TLSSocket | undefined;
    let stage = 'connecting';
    const finish = (probe: SmtpProbe) => {
      if (done) {
        return;
      }
      done = true;
      clearTimeout(timer);
      if (tlsSocket && !tlsSocket.destroyed && probe.outcome !== 'unreachable') {
        tlsSocket.end('QUIT\r\n');
        setTimeout(() => tlsSocket?.destroy(), 200).unref();
      } else {
        socket.destroy();
        tlsSocket?.destroy();
      }
      resolve(probe);
    };
    const where = `${options.host} (${options.address}) port ${options.port}`;
    const timer = setTimeout(() => {
      if (stage === 'connecting' || stage === 'banner') {
        finish({
          outcome: 'unreachable',
          detail: stage === 'connecting'
            ? `could not connect to ${where} before the timeout`
            : `${where} accepted the connection but sent no banner before the timeout`,
        });
      } else {
        finish({ outcome: 'tls-failed', detail: `${where} stopped answering during ${stage}` });
      }
    }, Math.max(0, options.deadline - Date.now()));

    let buffer = '';
    let waiting: ((reply: Reply) => void) | undefined;
    let lines: string[] = [];
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        lines.push(line);
        if (!/^[0-9]{3}-/.test(line)) {
          const reply = { code: Number(line.slice(0, 3)) || 0, lines };
          lines = [];
          const w = waiting;
          waiting = undefined;
          w?.(reply);
        }
      }
    };
    const nextReply = () => new Promise<Reply>(r => { waiting = r; });

    socket.on('data', onData);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (stage === 'connecting' || stage === 'banner') {
        finish({ outcome: 'unreachable', detail: `could not connect to ${where} (${err.code ?? err.message})` });
      } else if (!tlsSocket) {
        finish({ outcome: 'tls-failed', detail: `the connection to ${where} failed during ${stage} (${err.code ?? err.message})` });
      }
    });
    socket.on('close', () => {
      if (!tlsSocket) {
        finish(stage === 'banner' || stage === 'connecting'
          ? { outcome: 'unreachable', detail: `${where} closed the connection without a banner` }
          : { outcome: 'tls-failed', detail: `${where} closed the connection during ${stage}` });
      }
    });
    socket.on('connect', () => {
      stage = 'banner';
      void converse();
    });

    const converse = async () => {
      const banner = await nextReply();
      if (banner.code !== 220) {
        finish({ outcome: 'refused', detail: `${where} answered the connection with "${banner.lines.join(' ')}" instead of 220` });
        return;
      }
      stage = 'EHLO';
      socket.write(`EHLO ${EHLO_NAME}\r\n`);
      const ehlo = await nextReply();
      if (ehlo.code !== 250) {
        finish({ outcome: 'refused', detail: `${where} refused EHLO: "${ehlo.lines.join(' ')}"` });
        return;
      }
      const starttls = ehlo.lines.some(line => /^250[- ]STARTTLS\s*$/i.test(line));
      if (!starttls) {
        finish({ outcome: 'no-starttls', detail: `${where} does not offer STARTTLS after EHLO` });
        return;
      }
      stage = 'STARTTLS';
      socket.write('STARTTLS\r\n');
      const ready = await nextReply();
      if (ready.code !== 220) {
        finish({ outcome: 'no-starttls', detail: `${where} offered STARTTLS but answered it with "${ready.lines.join(' ')}"` });
        return;
      }
      stage = 'the TLS handshake';
      socket.removeListener('data', onData);
      tlsSocket = tlsConnect({ socket, servername: options.host, ca: options.ca, rejectUnauthorized: false });
      tlsSocket.on('error', (err: NodeJS.ErrnoException) => {
        finish({ outcome: 'tls-failed', detail: `the TLS handshake with ${where} failed (${err.code ?? err.message}); servers must offer TLS 1.2 or later` });
      });
      tlsSocket.on('close', () => {
        finish({ outcome: 'tls-failed', detail: `${where} closed the connection during the TLS handshake` });
      });
      tlsSocket.on('secureConnect', () => {
        const tls = tlsSocket!;
        const cert = tls.getPeerCertificate();
        const protocol = tls.getProtocol() ?? 'unknown';
        const validTo = cert?.valid_to;
        const problems: string[] = [];
        const chainError = tls.authorized ? undefined : String(tls.authorizationError ?? 'UNKNOWN');
        if (chainError !== undefined && chainError !== 'ERR_TLS_CERT_ALTNAME_INVALID') {
          problems.push(describeTlsError(Object.assign(new Error(chainError), { code: chainError }), options.host));
        }
        if (cert && Object.keys(cert).length > 0) {
          const nameError = checkServerIdentity(options.host, cert);
          if (nameError) {
            problems.push(describeTlsError(nameError as NodeJS.ErrnoException, options.host));
          }
        } else {
          problems.push('the server sent no certificate');
        }
        if (problems.length > 0) {
          finish({ outcome: 'certificate', detail: `${options.host}: ${problems.join('; ')}`, tlsProtocol: protocol, validTo });
        } else if (!/^TLSv1\.[23]$/.test(protocol)) {
          finish({ outcome: 'old-tls', detail: `${options.host} negotiated ${protocol}; RFC 8461 senders require TLS 1.2 or later`, tlsProtocol: protocol, validTo });
        } else {
          finish({ outcome: 'ok', detail: `${options.host}: STARTTLS, ${protocol}, certificate valid for the name until ${validTo}`, tlsProtocol: protocol, validTo });
        }
      });
    };
  });
}
