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
/** A query that got records back. */
const ANSWER = 'ANSWER';

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
  /** What each query of the checks came back with: `ANSWER`, `NODATA`, `NXDOMAIN` or a failure code. */
  private readonly outcomes: string[] = [];

  constructor(private readonly deadline: number, private readonly server?: string) {
    this.resolver = new Resolver({ timeout: 2000, tries: 2 });
    if (server !== undefined) {
      this.resolver.setServers([server]);
    }
  }

  /**
   * Why DNS itself failed for the lookups made so far, so that nothing can be said about
   * `domain`; undefined when DNS answered. The rule:
   *
   * - a lookup that got records, or NODATA (the name exists), shows that DNS works: undefined;
   * - when no lookup got either, the checker asks one name that must exist if DNS works: the NS
   *   records of the domain's top-level domain (`com` for `example.com`);
   * - when every lookup failed (timeout, SERVFAIL, REFUSED, resolver unreachable...), DNS fails;
   *   an answer for the top-level domain then only adds a hint that the domain's own name servers
   *   (or its DNSSEC) are at fault;
   * - when some lookups were NXDOMAIN, DNS fails unless the top-level domain exists: a resolver
   *   that knows `com` and says NXDOMAIN for `example.com` is believed, and the checks report
   *   the missing names.
   */
  public async failure(domain: string): Promise<string | undefined> {
    if (this.outcomes.length === 0 || this.outcomes.some(o => o === ANSWER || o === 'NODATA')) {
      return undefined;
    }
    const outcomes = [...this.outcomes];
    const tld = domain.slice(domain.lastIndexOf('.') + 1);
    const control = await this.query<string>(tld, r => r.resolveNs.bind(r));
    const controlCode = control.records.length > 0 ? ANSWER : code(control.error!);
    const tldExists = controlCode === ANSWER || controlCode === 'NODATA';
    const failures = outcomes.filter(o => o !== 'NXDOMAIN');
    const who = this.describeResolver();
    if (failures.length === outcomes.length) {
      const hint = tldExists ? `; it answers for the top-level domain ${tld}, so the name servers of the domain (or its DNSSEC) may be at fault` : '';
      return `${everyQueryFailed(who, failures)}${hint}`;
    }
    if (tldExists) {
      return undefined;
    }
    const every = failures.length === 0 ? 'answers NXDOMAIN for every name' : 'answers NXDOMAIN or fails for every name';
    return controlCode === 'NXDOMAIN'
      ? `${who} ${every}, even the top-level domain ${tld}`
      : `${who} ${every}, and the query for the top-level domain ${tld} failed (${controlCode})`;
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

  /** The resolver, for messages: the `--resolver` server, or the system's. */
  private describeResolver(): string {
    if (this.server !== undefined) {
      return this.server;
    }
    const servers = this.resolver.getServers();
    return `the system resolver (${servers.length > 0 ? servers.join(', ') : 'none configured'})`;
  }

  private query<U>(name: string, method: (r: Resolver) => ResolveFn<U>): Promise<RawAnswer<U>> {
    return new Promise<RawAnswer<U>>(resolve => {
      let settled = false;
      const settle = (answer: RawAnswer<U>) => {
        if (!settled) {
          settled = true;
          this.outcomes.push(answer.records.length > 0 ? ANSWER : code(answer.error!));
          resolve(answer);
        }
      };
      const remaining = this.deadline - Date.now();
      if (remaining <= 0) {
        settle({ records: [], error: 'ETIMEOUT' });
        return;
      }
      const timer = setTimeout(() => settle({ records: [], error: 'ETIMEOUT' }), remaining);
      method(this.resolver)(name, (err, result) => {
        clearTimeout(timer);
        // An answer holding only a CNAME comes back as no records and no error: that is NODATA.
        settle(err ? { records: [], error: err.code ?? 'EFAIL' } : result.length === 0 ? { records: [], error: 'ENODATA' } : { records: result });
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
    case 'EREFUSED': return 'REFUSED';
    // c-ares: "Could not contact DNS servers" (nothing listens there, or no server is configured).
    case 'ECONNREFUSED': return 'UNREACHABLE';
    default: return error;
  }
}

/** Says how every one of `codes` (the failures of several queries to `who`) went. */
function everyQueryFailed(who: string, codes: string[]): string {
  const counts = new Map<string, number>();
  for (const c of codes) {
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  if (counts.size === 1) {
    switch (codes[0]) {
      case 'UNREACHABLE': return `${who} cannot be reached`;
      case 'TIMEOUT': return `no answer from ${who} before the timeout`;
      case 'SERVFAIL': return `${who} answers SERVFAIL`;
      case 'REFUSED': return `${who} refuses the queries`;
      default: return `every query to ${who} failed with ${codes[0]}`;
    }
  }
  const phrase = (c: string) => c === 'TIMEOUT' ? 'no answer before the timeout' : c === 'UNREACHABLE' ? 'resolver unreachable' : c;
  return `every query to ${who} failed: ${[...counts].map(([c, n]) => `${phrase(c)} (${n})`).join(', ')}`;
}

/** A short phrase for a DNS error code, for messages. */
export function describeDnsError(error: string | undefined): string {
  switch (error) {
    case 'NODATA': return 'no such records (NODATA)';
    case 'NXDOMAIN': return 'the name does not exist (NXDOMAIN)';
    case 'TIMEOUT': return 'the DNS query timed out';
    case 'SERVFAIL': return 'the resolver answered SERVFAIL (DNSSEC or an unreachable authoritative server?)';
    case 'REFUSED': return 'the resolver refused the query';
    case 'UNREACHABLE': return 'the resolver cannot be reached';
    default: return `the DNS query failed (${error})`;
  }
}
