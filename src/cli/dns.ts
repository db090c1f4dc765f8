import { Resolver } from 'node:dns';
import { isIP } from 'node:net';

/** A DNS answer: the records, or why there are none. */
export interface DnsAnswer<T> {
  readonly records: T[];
  /** `NODATA` or `NXDOMAIN` when the name has no such records; another code when the query failed. */
  readonly error?: string;
  /** The names followed through CNAMEs, when any. */
  readonly via?: string[];
}

/** An MX record. */
export interface MxRecord {
  readonly exchange: string;
  readonly priority: number;
}

const NO_RECORDS = new Set(['ENODATA', 'ENOTFOUND']);
const MAX_CNAME_HOPS = 8;

/**
 * DNS queries through the system resolver or one server, each bounded by the run's deadline.
 * TXT queries follow CNAMEs as a resolver does (RFC 8461 §3.1 allows `_mta-sts` to be one).
 */
export class DnsClient {
  /**
   * Parses a `--resolver` value: `ip`, `ip:port` or `[ipv6]:port`. Undefined when invalid.
   */
  public static parseServer(value: string): string | undefined {
    const v6 = /^\[([^\]]+)\](?::([0-9]{1,5}))?$/.exec(value);
    if (v6) {
      return isIP(v6[1]) === 6 && validPort(v6[2]) ? value : undefined;
    }
    if (isIP(value) === 6) {
      return value;
    }
    const [host, port, ...rest] = value.split(':');
    return rest.length === 0 && isIP(host) === 4 && validPort(port) ? value : undefined;
  }

  private readonly resolver: Resolver;

  constructor(private readonly deadline: number, server?: string) {
    this.resolver = new Resolver({ timeout: 2000, tries: 2 });
    if (server !== undefined) {
      this.resolver.setServers([server]);
    }
  }

  /** Cancels every query still under way (so the process can exit). */
  public close(): void {
    this.resolver.cancel();
  }

  /** TXT records, each one's strings joined, following CNAMEs. */
  public async txt(name: string): Promise<DnsAnswer<string>> {
    const via: string[] = [];
    let current = name;
    for (let hop = 0; ; hop++) {
      const answer = await this.query<string[]>(current, r => r.resolveTxt.bind(r));
      if (answer.records.length > 0 || !answer.error || !NO_RECORDS.has(answer.error) || hop >= MAX_CNAME_HOPS) {
        const error = answer.error === undefined ? undefined : code(answer.error);
        return { records: answer.records.map(strings => strings.join('')), error, ...(via.length ? { via } : {}) };
      }
      const cname = await this.query<string>(current, r => r.resolveCname.bind(r));
      if (cname.records.length === 0) {
        return { records: [], error: code(answer.error), ...(via.length ? { via } : {}) };
      }
      current = cname.records[0];
      via.push(current);
    }
  }

  /** A and AAAA addresses (both asked at once); `error` only when both fail. */
  public async addresses(name: string): Promise<DnsAnswer<string>> {
    const [v4, v6] = await Promise.all([
      this.query<string>(name, r => r.resolve4.bind(r)),
      this.query<string>(name, r => r.resolve6.bind(r)),
    ]);
    const records = [...v4.records, ...v6.records];
    if (records.length > 0) {
      return { records };
    }
    const error = [v4.error, v6.error].find(e => e !== undefined && !NO_RECORDS.has(e)) ?? v4.error ?? v6.error;
    return { records, error: error === undefined ? undefined : code(error) };
  }

  /** MX records, lowest preference first. */
  public async mx(name: string): Promise<DnsAnswer<MxRecord>> {
    const answer = await this.query<MxRecord>(name, r => r.resolveMx.bind(r));
    return {
      records: [...answer.records].sort((a, b) => a.priority - b.priority || a.exchange.localeCompare(b.exchange)),
      error: answer.error === undefined ? undefined : code(answer.error),
    };
  }

  private query<U>(name: string, method: (r: Resolver) => ResolveFn<U>): Promise<RawAnswer<U>> {
    return new Promise<RawAnswer<U>>(resolve => {
      const remaining = this.deadline - Date.now();
      if (remaining <= 0) {
        resolve({ records: [], error: 'ETIMEOUT' });
        return;
      }
      const timer = setTimeout(() => resolve({ records: [], error: 'ETIMEOUT' }), remaining);
      method(this.resolver)(name, (err, result) => {
        clearTimeout(timer);
        // An answer holding only a CNAME comes back as no records and no error: that is NODATA.
        resolve(err ? { records: [], error: err.code ?? 'EFAIL' } : result.length === 0 ? { records: [], error: 'ENODATA' } : { records: result });
      });
    });
  }
}

type ResolveFn<U> = (name: string, callback: (err: NodeJS.ErrnoException | null, result: U[]) => void) => void;

interface RawAnswer<U> {
  readonly records: U[];
  readonly error?: string;
}

function validPort(port: string | undefined): boolean {
  return port === undefined || (/^[0-9]{1,5}$/.test(port) && Number(port) > 0 && Number(port) < 65536);
}

function code(error: string): string {
  switch (error) {
    case 'ENODATA': return 'NODATA';
    case 'ENOTFOUND': return 'NXDOMAIN';
    case 'ETIMEOUT': return 'TIMEOUT';
    case 'ESERVFAIL': return 'SERVFAIL';
    case 'ECONNREFUSED': return 'REFUSED';
    default: return error;
  }
}

/** A short phrase for a DNS error code, for messages. */
export function describeDnsError(error: string | undefined): string {
  switch (error) {
    case 'NODATA': return 'no such records (NODATA)';
    case 'NXDOMAIN': return 'the name does not exist (NXDOMAIN)';
    case 'TIMEOUT': return 'the DNS query timed out';
    case 'SERVFAIL': return 'the resolver answered SERVFAIL (DNSSEC or an unreachable authoritative server?)';
    case 'REFUSED': return 'the resolver refused the query';
    default: return `the DNS query failed (${error})`;
  }
}
