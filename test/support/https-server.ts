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

  /** The answer to every request, unless `responseFor` gives one for the request's Host. */
  public response: HttpsResponse = { status: 404 };
  /** Answers by Host header (for several policy domains on one server). */
  public readonly responseFor = new Map<string, HttpsResponse>();
  /** The paths and Host headers requested, in order. */
  public readonly requests: Array<{ path: string; host: string }> = [];

  private constructor(private readonly server: Server) {
    server.on('request', (req, res) => {
      const host = req.headers.host ?? '';
      this.requests.push({ path: req.url ?? '', host });
      const response = this.responseFor.get(host) ?? this.response;
      if (response.hang) {
        return;
      }
      res.writeHead(response.status, response.headers ?? {});
      res.end(response.body);
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
