import { createServer, Server } from 'node:https';
import { AddressInfo } from 'node:net';
import type { KeyAndCert } from './pki';

/** What the test HTTPS server answers to every request. */
export interface HttpsResponse {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  /** Never answer (the connection stays open until the client gives up). */
  readonly hang?: boolean;
}

/** An HTTPS server on loopback whose certificate and answer tests set. */
export class TestHttpsServer {
  public static async start(initial: KeyAndCert): Promise<TestHttpsServer> {
    const server = createServer({ key: initial.key, cert: initial.cert });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    return new TestHttpsServer(server);
  }

  /** The answer to every request. */
  public response: HttpsResponse = { status: 404 };
  /** The paths and Host headers requested, in order. */
  public readonly requests: Array<{ path: string; host: string }> = [];

  private constructor(private readonly server: Server) {
    server.on('request', (req, res) => {
      this.requests.push({ path: req.url ?? '', host: req.headers.host ?? '' });
      if (this.response.hang) {
        return;
      }
      res.writeHead(this.response.status, this.response.headers ?? {});
      res.end(this.response.body);
    });
  }

  public get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Serves another certificate from the next connection on. */
  public useCertificate(keyAndCert: KeyAndCert): void {
    this.server.setSecureContext({ key: keyAndCert.key, cert: keyAndCert.cert });
  }

  public close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise(resolve => this.server.close(() => resolve()));
  }
}
