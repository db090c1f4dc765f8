import { AddressInfo, createServer, Server, Socket } from 'node:net';
import { createSecureContext, SecureContext, TLSSocket } from 'node:tls';
import type { KeyAndCert } from './pki';

/** How the test SMTP server behaves. */
export interface SmtpBehaviour {
  /** `starttls` (default): offers STARTTLS; `plain`: does not; `silent`: accepts and never speaks. */
  readonly mode?: 'starttls' | 'plain' | 'silent';
  /** The certificate after STARTTLS, by SNI name; `default` for any other. */
  readonly certificates: Record<string, KeyAndCert>;
}

/** An SMTP server on loopback speaking just enough ESMTP for a STARTTLS handshake. */
export class TestSmtpServer {
  public static async start(behaviour: SmtpBehaviour): Promise<TestSmtpServer> {
    const server = createServer();
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    return new TestSmtpServer(server, behaviour);
  }

  /** The SNI names of TLS handshakes, in order. */
  public readonly handshakes: string[] = [];
  private readonly sockets = new Set<Socket>();
  private contexts = new Map<string, SecureContext>();

  private constructor(private readonly server: Server, private behaviourValue: SmtpBehaviour) {
    this.behaviour = behaviourValue;
    server.on('connection', socket => this.serve(socket));
  }

  public get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  public get behaviour(): SmtpBehaviour {
    return this.behaviourValue;
  }

  public set behaviour(value: SmtpBehaviour) {
    this.behaviourValue = value;
    this.contexts = new Map(Object.entries(value.certificates).map(([name, kc]) => [name, createSecureContext({ key: kc.key, cert: kc.cert })]));
  }

  public close(): Promise<void> {
    for (const socket of this.sockets) {
      socket.destroy();
    }
    return new Promise(resolve => this.server.close(() => resolve()));
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const mode = this.behaviour.mode ?? 'starttls';
    if (mode === 'silent') {
      return;
    }
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        const verb = line.split(' ')[0].toUpperCase();
        if (verb === 'EHLO') {
          socket.write(mode === 'starttls' ? '250-test.example ESMTP\r\n250-PIPELINING\r\n250 STARTTLS\r\n' : '250-test.example ESMTP\r\n250 8BITMIME\r\n');
        } else if (verb === 'STARTTLS' && mode === 'starttls') {
          socket.removeListener('data', onData);
          socket.write('220 2.0.0 Ready to start TLS\r\n', () => this.upgrade(socket));
          return;
        } else if (verb === 'QUIT') {
          socket.end('221 2.0.0 Bye\r\n');
        } else {
          socket.write('502 5.5.2 Not implemented\r\n');
        }
      }
    };
    socket.on('data', onData);
    socket.write('220 test.example ESMTP ready\r\n');
  }

  private upgrade(socket: Socket): void {
    const tls = new TLSSocket(socket, {
      isServer: true,
      secureContext: this.contexts.get('default'),
      SNICallback: (name, cb) => {
        this.handshakes.push(name);
        cb(null, this.contexts.get(name) ?? this.contexts.get('default'));
      },
    });
    tls.on('error', () => undefined);
    tls.on('data', (chunk: Buffer) => {
      if (/^QUIT/im.test(chunk.toString('latin1'))) {
        tls.end('221 2.0.0 Bye\r\n');
      }
    });
  }
}
