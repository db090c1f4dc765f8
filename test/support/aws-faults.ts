import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';

/**
 * A fault-injecting HTTP proxy between the AWS SDK and moto, on loopback. Give `endpoint` to
 * the SDK (`AWS_ENDPOINT_URL`, or a client's `endpoint`); every request is forwarded to the
 * target unless a rule or the rate limit answers it the way the real service answers.
 *
 * Requests are told apart by service (the credential scope of the SigV4 `Authorization`
 * header, or `X-Amz-Credential` of a pre-signed URL) and operation:
 * - Route 53 (REST XML): method and path, e.g. `POST /2013-04-01/hostedzone/{id}/rrset` is
 *   `ChangeResourceRecordSets`, `GET .../rrset` `ListResourceRecordSets`, `GET /2013-04-01/change/{id}` `GetChange`;
 * - S3: path style. The endpoint is an IP literal (`http://127.0.0.1:<port>`), for which the
 *   SDK's S3 endpoint rules always use path style (`/<bucket>/<key>`), so no `forcePathStyle`
 *   is needed; a virtual-host request (`<bucket>.localhost:<port>`) is understood too. The
 *   operation comes from method and path (`PutObject`, `CopyObject`, `GetObject`, `HeadObject`,
 *   `DeleteObject`, `ListObjectsV2` ...), or the SDK's `x-id` query parameter when it sends one;
 * - query protocol (SES, SNS, STS, CloudFormation ...): the `Action` form field;
 * - JSON protocols: the `X-Amz-Target` header; Lambda: `Invoke`, else method and path.
 *
 * Bounded: request bodies up to 64 MiB, 30 s per forwarded request; the target must be loopback.
 */
export interface FaultProxy {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  /** Every request answered, in order. */
  readonly requests: readonly ProxiedRequest[];
  /** Adds a rule; the first rule (in order added) that matches a request and has uses left answers it. */
  inject(rule: FaultRule): InjectedFault;
  /**
   * Token bucket per service (`burst` tokens, refilled at `perSecond` of the functions' time, see
   * FaultProxyOptions.timeScale); requests over it get the throttle answer. `null` removes it.
   */
  rateLimit(service: string, perSecond: number | null, burst?: number): void;
  /** Forgets the request log, every rule and every rate limit. */
  clear(): void;
  stop(): Promise<void>;
}

/** How a request is answered instead of (or after) forwarding it. */
export type Fault =
  /** The service's throttling answer: Route 53 and query services 400 `Throttling`, S3 503 `SlowDown`, Lambda 429 `TooManyRequestsException`. */
  | 'throttle'
  /** HTTP 500: S3 `InternalError`, Route 53 `ServiceUnavailable`, others `InternalFailure`. */
  | 'server-error'
  /** Forwarded; `<Status>INSYNC</Status>` in the answer becomes `PENDING` (Route 53 ChangeResourceRecordSets, GetChange). */
  | 'pending'
  /** Forwarded (the target applies it), then answered with the `server-error` answer: a lost reply. */
  | 'after-forward-error'
  /** Route 53 404 `NoSuchHostedZone`. */
  | 'no-such-hosted-zone'
  /** Route 53 400 `PriorRequestNotComplete` (a change to the same record set is still pending). */
  | 'prior-request-not-complete'
  /** 403 `AccessDenied` (`AccessDeniedException` for JSON services), as while a new role's grants propagate. */
  | 'access-denied'
  /** The connection is closed without an answer. */
  | 'connection-reset';

export interface FaultRule {
  /** The signing name: `route53`, `s3`, `ses`, `lambda` ... */
  readonly service: string;
  /** @default - any operation of the service */
  readonly operation?: string;
  /** How many requests it answers. @default 1 */
  readonly times?: number;
  readonly fault: Fault;
}

/** A rule as the proxy keeps it: how many requests it answered so far. */
export interface InjectedFault {
  readonly rule: FaultRule;
  readonly hits: number;
  readonly remaining: number;
}

export interface ProxiedRequest {
  readonly service: string;
  readonly operation: string;
  readonly method: string;
  /** The path and query. */
  readonly path: string;
  /** The status the client got (0: connection reset). */
  readonly status: number;
  /** `Date.now()` when the request arrived. */
  readonly at: number;
  /** The fault or rate limit that answered it, if any. */
  readonly fault?: Fault;
}

export interface FaultProxyOptions {
  /**
   * The `timeScale` the functions behind this proxy run with (InvokeOptions.timeScale): rate
   * limits count in their time, so `rateLimit('route53', 5)` lets 5 * k requests a real second
   * through. Without it, a limit would be k times stricter than the function's clock suggests.
   * @default 1
   */
  readonly timeScale?: number;
}

const MAX_BODY_BYTES = 64 * 1024 * 1024;
const FORWARD_TIMEOUT_MS = 30_000;

/** Starts the proxy in front of `target` (a loopback URL, e.g. `moto.endpoint`). */
export async function startFaultProxy(target: string, options: FaultProxyOptions = {}): Promise<FaultProxy> {
  const timeScale = options.timeScale ?? 1;
  const upstream = new URL(target);
  if (!isLoopback(upstream.hostname)) {
    throw new Error(`target must be a loopback URL, got: ${target}`);
  }
  const requests: ProxiedRequest[] = [];
  let rules: Array<{ rule: FaultRule; hits: number; remaining: number }> = [];
  let buckets = new Map<string, { perSecond: number; burst: number; tokens: number; refilled: number }>();

  const server = http.createServer((req, res) => {
    const at = Date.now();
    readBody(req).then(async body => {
      const id = identify(req, body);
      const record = (status: number, fault?: Fault) => {
        requests.push({ ...id, method: req.method ?? '', path: req.url ?? '', status, at, fault });
      };
      if (body === undefined) {
        send(res, { status: 413, headers: { 'content-type': 'text/plain' }, body: Buffer.from('request body over 64 MiB') });
        return record(413);
      }
      if (!takeToken(id.service)) {
        const answer = faultAnswer('throttle', id.service, req);
        send(res, answer, req.method);
        return record(answer.status, 'throttle');
      }
      const match = rules.find(r => r.remaining > 0 && r.rule.service === id.service
        && (r.rule.operation === undefined || r.rule.operation === id.operation));
      if (match) {
        match.remaining--;
        match.hits++;
      }
      const fault = match?.rule.fault;
      if (fault === 'connection-reset') {
        req.socket.destroy();
        return record(0, fault);
      }
      if (fault && fault !== 'pending' && fault !== 'after-forward-error') {
        const answer = faultAnswer(fault, id.service, req);
        send(res, answer, req.method);
        return record(answer.status, fault);
      }
      const forwarded = await forward(upstream, req, body);
      if (fault === 'after-forward-error') {
        const answer = faultAnswer('server-error', id.service, req);
        send(res, answer, req.method);
        return record(answer.status, fault);
      }
      if (fault === 'pending') {
        const text = forwarded.body.toString('utf8');
        forwarded.body = Buffer.from(text.replace(/<Status>INSYNC<\/Status>/g, '<Status>PENDING</Status>'), 'utf8');
        forwarded.headers['content-length'] = String(forwarded.body.length);
      }
      send(res, forwarded, req.method);
      return record(forwarded.status, fault);
    }).catch(error => {
      if (!res.headersSent) {
        send(res, { status: 502, headers: { 'content-type': 'text/plain' }, body: Buffer.from(`fault proxy: ${error}`) });
      } else {
        res.destroy();
      }
      requests.push({ service: 'unknown', operation: 'unknown', method: req.method ?? '', path: req.url ?? '', status: 502, at });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;

  function takeToken(service: string): boolean {
    const bucket = buckets.get(service);
    if (!bucket) {
      return true;
    }
    const now = Date.now();
    bucket.tokens = Math.min(bucket.burst, bucket.tokens + (now - bucket.refilled) / 1000 * bucket.perSecond * timeScale);
    bucket.refilled = now;
    if (bucket.tokens < 1) {
      return false;
    }
    bucket.tokens -= 1;
    return true;
  }

  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    inject(rule) {
      const entry = { rule, hits: 0, remaining: rule.times ?? 1 };
      rules.push(entry);
      return entry;
    },
    rateLimit(service, perSecond, burst) {
      if (perSecond === null) {
        buckets.delete(service);
        return;
      }
      if (!(perSecond > 0)) {
        throw new Error(`perSecond must be positive, got: ${perSecond}`);
      }
      const size = burst ?? Math.max(1, perSecond);
      buckets.set(service, { perSecond, burst: size, tokens: size, refilled: Date.now() });
    },
    clear() {
      requests.length = 0;
      rules = [];
      buckets = new Map();
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>(resolve => server.close(() => resolve()));
    },
  };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

function send(res: http.ServerResponse, answer: Answer, method?: string): void {
  res.writeHead(answer.status, answer.headers);
  res.end(method === 'HEAD' ? undefined : answer.body);
}

function readBody(req: http.IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      over ||= size > MAX_BODY_BYTES;
      if (!over) {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function forward(upstream: URL, req: http.IncomingMessage, body: Buffer): Promise<Answer> {
  const headers: http.OutgoingHttpHeaders = { ...req.headers };
  // The body is forwarded whole: no 100-continue handshake, no chunked framing.
  delete headers.expect;
  delete headers['transfer-encoding'];
  delete headers.connection;
  headers['content-length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const out = http.request({
      host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, timeout: FORWARD_TIMEOUT_MS,
    }, response => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const answerHeaders: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(response.headers)) {
          if (value !== undefined && name !== 'transfer-encoding' && name !== 'connection' && name !== 'keep-alive') {
            answerHeaders[name] = value;
          }
        }
        const answerBody = Buffer.concat(chunks);
        if (req.method !== 'HEAD') {
          answerHeaders['content-length'] = String(answerBody.length);
        }
        resolve({ status: response.statusCode ?? 502, headers: answerHeaders, body: answerBody });
      });
      response.on('error', reject);
    });
    out.on('timeout', () => out.destroy(new Error(`${req.method} ${req.url}: no answer from ${upstream.origin} within ${FORWARD_TIMEOUT_MS} ms`)));
    out.on('error', reject);
    out.end(body);
  });
}

/** The service (SigV4 signing name) and operation of a request. */
export function identify(req: Pick<http.IncomingMessage, 'method' | 'url' | 'headers'>, body: Buffer = Buffer.alloc(0)): { service: string; operation: string } {
  const url = new URL(req.url ?? '/', 'http://proxy');
  const scope = /Credential=[^/,\s]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(String(req.headers.authorization ?? ''))
    ?? /^[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request$/.exec(url.searchParams.get('X-Amz-Credential') ?? '');
  const service = scope?.[1] ?? 'unknown';
  const method = (req.method ?? 'GET').toUpperCase();
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string' && target.includes('.')) {
    return { service, operation: target.slice(target.lastIndexOf('.') + 1) };
  }
  const contentType = String(req.headers['content-type'] ?? '');
  if (method === 'POST' && contentType.startsWith('application/x-www-form-urlencoded')) {
    const action = new URLSearchParams(body.toString('utf8')).get('Action');
    if (action) {
      return { service, operation: action };
    }
  }
  const path = url.pathname;
  switch (service) {
    case 'route53':
      return { service, operation: route53Operation(method, path) };
    case 's3':
      return { service, operation: s3Operation(method, path, url.searchParams, req.headers) };
    case 'lambda':
      if (/^\/2015-03-31\/functions\/[^/]+\/invocations$/.test(path)) {
        return { service, operation: 'Invoke' };
      }
      break;
  }
  return { service, operation: url.searchParams.get('Action') ?? `${method} ${path}` };
}

function route53Operation(method: string, path: string): string {
  const p = path.replace(/\/+$/, '');
  const table: Array<[string, RegExp, string]> = [
    ['POST', /^\/2013-04-01\/hostedzone\/[^/]+\/rrset$/, 'ChangeResourceRecordSets'],
    ['GET', /^\/2013-04-01\/hostedzone\/[^/]+\/rrset$/, 'ListResourceRecordSets'],
    ['GET', /^\/2013-04-01\/change\/[^/]+$/, 'GetChange'],
    ['POST', /^\/2013-04-01\/hostedzone$/, 'CreateHostedZone'],
    ['GET', /^\/2013-04-01\/hostedzone$/, 'ListHostedZones'],
    ['GET', /^\/2013-04-01\/hostedzonesbyname$/, 'ListHostedZonesByName'],
    ['GET', /^\/2013-04-01\/hostedzone\/[^/]+$/, 'GetHostedZone'],
    ['DELETE', /^\/2013-04-01\/hostedzone\/[^/]+$/, 'DeleteHostedZone'],
  ];
  return table.find(([m, re]) => m === method && re.test(p))?.[2] ?? `${method} ${path}`;
}

function s3Operation(method: string, path: string, query: URLSearchParams, headers: http.IncomingHttpHeaders): string {
  const hinted = query.get('x-id');
  if (hinted) {
    return hinted;
  }
  // Virtual-host style: the bucket is the first label of `<bucket>.localhost`; else path style.
  const host = String(headers.host ?? '').replace(/:\d+$/, '');
  const virtualHost = /^(.+)\.localhost$/i.test(host);
  const segments = path.split('/').slice(1);
  const hasKey = virtualHost ? path.length > 1 : segments.length > 1 && segments.slice(1).join('/') !== '';
  if (hasKey) {
    if (query.has('uploads') || query.has('uploadId')) {
      return method === 'POST' ? (query.has('uploads') ? 'CreateMultipartUpload' : 'CompleteMultipartUpload')
        : method === 'PUT' ? 'UploadPart' : method === 'DELETE' ? 'AbortMultipartUpload' : 'ListParts';
    }
    switch (method) {
      case 'PUT': return headers['x-amz-copy-source'] ? 'CopyObject' : 'PutObject';
      case 'GET': return 'GetObject';
      case 'HEAD': return 'HeadObject';
      case 'DELETE': return 'DeleteObject';
    }
  } else {
    switch (method) {
      case 'PUT': return 'CreateBucket';
      case 'HEAD': return 'HeadBucket';
      case 'DELETE': return 'DeleteBucket';
      case 'POST': return query.has('delete') ? 'DeleteObjects' : `POST ${path}`;
      case 'GET': return query.get('list-type') === '2' ? 'ListObjectsV2' : (path === '/' ? 'ListBuckets' : 'ListObjects');
    }
  }
  return `${method} ${path}`;
}

/** The answer the real service gives for `fault` (for `pending` and `after-forward-error`, see Fault). */
function faultAnswer(fault: Fault, service: string, req: http.IncomingMessage): Answer {
  const requestId = randomUUID();
  const resource = req.url ?? '/';
  const xml = (status: number, body: string): Answer => ({
    status,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId, 'x-amz-request-id': requestId },
    body: Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`),
  });
  // Route 53 and query-protocol services: <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>.
  const errorResponse = (status: number, type: 'Sender' | 'Receiver', code: string, message: string) => xml(status,
    `<ErrorResponse${service === 'route53' ? ' xmlns="https://route53.amazonaws.com/doc/2013-04-01/"' : ''}><Error><Type>${type}</Type>`
    + `<Code>${code}</Code><Message>${message}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`);
  // S3: <Error><Code/><Message/><RequestId/><HostId/></Error>.
  const s3Error = (status: number, code: string, message: string) => xml(status,
    `<Error><Code>${code}</Code><Message>${message}</Message><Resource>${escapeXml(resource)}</Resource>`
    + `<RequestId>${requestId.replace(/-/g, '').slice(0, 16).toUpperCase()}</RequestId><HostId>${requestId}</HostId></Error>`);
  const json = (status: number, type: string, message: string): Answer => ({
    status,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId, 'x-amzn-errortype': type },
    body: Buffer.from(JSON.stringify({ __type: type, message })),
  });
  const isJson = service === 'lambda' || req.headers['x-amz-target'] !== undefined;

  switch (fault) {
    case 'throttle':
      return service === 's3' ? s3Error(503, 'SlowDown', 'Please reduce your request rate.')
        : service === 'lambda' ? json(429, 'TooManyRequestsException', 'Rate exceeded')
          : isJson ? json(400, 'ThrottlingException', 'Rate exceeded')
            : errorResponse(400, 'Sender', 'Throttling', 'Rate exceeded');
    case 'server-error':
    case 'after-forward-error':
      return service === 's3' ? s3Error(500, 'InternalError', 'We encountered an internal error. Please try again.')
        : service === 'route53' ? errorResponse(500, 'Receiver', 'ServiceUnavailable', 'Service Unavailable')
          : isJson ? json(500, 'ServiceException', 'Internal failure')
            : errorResponse(500, 'Receiver', 'InternalFailure', 'An internal error occurred');
    case 'no-such-hosted-zone': {
      const zone = /\/hostedzone\/([^/?]+)/.exec(resource)?.[1] ?? '';
      return errorResponse(404, 'Sender', 'NoSuchHostedZone', `No hosted zone found with ID: ${zone}`);
    }
    case 'prior-request-not-complete':
      return errorResponse(400, 'Sender', 'PriorRequestNotComplete',
        'The request was rejected because Route 53 was still processing a prior request.');
    case 'access-denied':
      return service === 's3' ? s3Error(403, 'AccessDenied', 'Access Denied')
        : isJson ? json(403, 'AccessDeniedException', 'User is not authorized to perform this action')
          : errorResponse(403, 'Sender', 'AccessDenied', 'User is not authorized to perform this action');
    default:
      throw new Error(`no answer for fault ${fault}`);
  }
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || hostname === '::1' || /^127\./.test(hostname);
}
