import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as http from 'node:http';
import * as net from 'node:net';

/**
 * The moto AWS emulator (https://github.com/getmoto/moto) as a server on loopback, one per test
 * file: `python3 -m moto.server -H 127.0.0.1 -p <free port>` (run through a watchdog that ends
 * it when the test process ends). Nothing leaves the machine.
 *
 * @example
 * const moto = await startMoto();
 * const s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', credentials: DUMMY_CREDENTIALS });
 * // ...
 * await moto.stop();
 */
export interface Moto {
  /** `http://127.0.0.1:<port>`: give it to SDK clients as `endpoint` (or `AWS_ENDPOINT_URL`). */
  readonly endpoint: string;
  /** The account moto puts in ARNs (`MOTO_ACCOUNT_ID`). */
  readonly accountId: string;
  /** Forgets every resource (POST /moto-api/reset). */
  reset(): Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s). Idempotent. */
  stop(): Promise<void>;
}

export interface MotoOptions {
  /** The Python interpreter that has moto. @default - `MOTO_PYTHON`, else `python3` */
  readonly python?: string;
  /** The account in ARNs. @default '111111111111' (test/fixtures.ts ACCOUNT) */
  readonly accountId?: string;
  /** How long to wait for the server to answer. @default 30_000 */
  readonly startTimeoutMs?: number;
}

/** The one-line error when moto cannot be started. */
export const MOTO_MISSING = 'moto is not installed: pip install "moto[server]"';

/** Credentials for SDK clients talking to moto (it does not check signatures). */
export const DUMMY_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing', sessionToken: 'testing' };

const availability = new Map<string, boolean>();

/** Whether `python` can import moto's server (checked once per interpreter). */
export function motoAvailable(python = defaultPython()): boolean {
  let available = availability.get(python);
  if (available === undefined) {
    const check = spawnSync(python, ['-c', 'import moto.server, flask, werkzeug'], { stdio: 'ignore', timeout: 30_000 });
    available = check.status === 0;
    availability.set(python, available);
  }
  return available;
}

/** Starts moto on a free loopback port and waits until it answers. */
export async function startMoto(options: MotoOptions = {}): Promise<Moto> {
  const python = options.python ?? defaultPython();
  if (!motoAvailable(python)) {
    throw new Error(MOTO_MISSING);
  }
  const accountId = options.accountId ?? '111111111111';
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  // Another process can take the port between our probe and moto's bind: then moto exits with
  // "Address already in use" and we try another port.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const server = launch(python, port, accountId);
    const started = await server.ready(deadline);
    if (started === 'ready') {
      return server.moto;
    }
    await server.moto.stop();
    if (started !== 'port-taken' || attempt >= 5) {
      throw new Error(started === 'timeout'
        ? `moto did not answer on http://127.0.0.1:${port} within ${options.startTimeoutMs ?? 30_000} ms: ${server.output().trim() || '(no output)'}`
        : `moto exited before answering on http://127.0.0.1:${port}: ${server.output().trim() || '(no output)'}`);
    }
  }
}

function defaultPython(): string {
  return process.env.MOTO_PYTHON || 'python3';
}

const MOTO_WITH_WATCHDOG = [
  'import os, runpy, sys, threading',
  'threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()',
  'sys.argv[0] = "moto.server"',
  'runpy.run_module("moto.server", run_name="__main__", alter_sys=True)',
].join('\n');

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function launch(python: string, port: number, accountId: string) {
  const endpoint = `http://127.0.0.1:${port}`;
  // `python -m moto.server -H 127.0.0.1 -p PORT`, plus a watchdog: moto exits when its stdin
  // closes, that is when this process ends however it ends (jest's sandboxed `process` never
  // sees 'exit', and a killed worker runs no hooks at all).
  const child = spawn(python, ['-c', MOTO_WITH_WATCHDOG, '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, MOTO_ACCOUNT_ID: accountId, PYTHONUNBUFFERED: '1' },
  });
  running.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => running.forEach(c => c.kill('SIGKILL')));
  }
  // Werkzeug logs every request: keep draining the pipes (a full pipe would block moto), keep a tail.
  let tail = '';
  let bound = false;
  const collect = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-4_000);
    bound ||= tail.includes(`Running on ${endpoint}`);
  };
  child.stdin!.on('error', () => undefined); // EPIPE once moto has exited
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  let exited = false;
  const exit = new Promise<void>(resolve => child.once('exit', () => {
    exited = true;
    running.delete(child);
    resolve();
  }));
  child.once('error', () => undefined); // reported through 'exit' and the output tail

  const moto: Moto = {
    endpoint,
    accountId,
    async reset() {
      const status = await request(`${endpoint}/moto-api/reset`, 'POST', 5_000);
      if (status !== 200) {
        throw new Error(`moto reset answered ${status}`);
      }
    },
    async stop() {
      if (exited) {
        return;
      }
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exit;
      clearTimeout(timer);
    },
  };

  async function ready(deadline: number): Promise<'ready' | 'port-taken' | 'exited' | 'timeout'> {
    while (Date.now() < deadline) {
      if (exited) {
        return /address already in use|in use by another program/i.test(tail) ? 'port-taken' : 'exited';
      }
      // Only our child's "Running on" line proves that what answers is ours.
      if (bound && await request(`${endpoint}/moto-api/`, 'GET', 2_000).catch(() => 0) === 200) {
        return 'ready';
      }
      await new Promise(resolve => setTimeout(resolve, 50));
    }
    return 'timeout';
  }

  return { moto, ready, output: () => tail };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function request(url: string, method: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, timeout: timeoutMs }, res => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
