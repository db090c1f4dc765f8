#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readAssemblyDomains } from './assembly';
import { checkDomain, CheckOptions, DomainReport, ExpectedPolicy } from './checks';
import { DnsClient } from './dns';
import { formatHuman, formatJson, Unchecked } from './output';
import { normaliseHostname } from '../core/hostname';
import { policyIdProblem } from '../core/sts-record';

/** Where the command writes. */
export interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** Settings no user passes: tests point the checker at loopback servers with them. */
export interface InternalOptions {
  readonly ca?: string | Buffer;
  readonly httpsPort?: number;
  readonly smtpPort?: number;
}

/** The exit statuses of the command. */
export const EXIT = {
  /** Every domain was checked and no check failed. */
  OK: 0,
  /** A check failed (with `--strict`, or warned). */
  FAILED: 1,
  /** The command line is wrong: an unknown command or flag, an invalid value, an unreadable assembly. */
  USAGE: 2,
  /** No check failed, but DNS lookups failed for a domain, so it could not be checked. */
  DNS_FAILED: 3,
  /** A bug in the command. */
  INTERNAL: 4,
} as const;

export const USAGE = `Usage:
  cdk-mta-sts check <domain>... [--json] [--timeout <seconds>] [--no-smtp] [--resolver <ip[:port]>] [--expect-id <id>] [--strict]
  cdk-mta-sts check --assembly <cdk.out> [--json] [--timeout <seconds>] [--no-smtp] [--resolver <ip[:port]>] [--strict]
  cdk-mta-sts --version

Checks a live MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) deployment the way a sending mail
server does: the _mta-sts TXT record, the policy host and its certificate, the policy file,
the id, MX coverage, STARTTLS on every MX (port 25), and the _smtp._tls record.

  --json               print one JSON object on stdout
  --timeout <seconds>  time allowed for all checks of one domain (default 15)
  --no-smtp            do not connect to the MX hosts on port 25
  --resolver <ip>      DNS server to ask (ip, ip:port or [ipv6]:port); default: the system's
  --expect-id <id>     the _mta-sts id the deployment must announce
  --assembly <dir>     check every policy domain of a synthesized cloud assembly, and compare
                       the live id and policy text with the synthesized ones
  --strict             warnings count as failures

Exit status: 0 when no check failed, 1 when one did, 2 for a usage error, 3 when no check
failed but DNS lookups failed so a domain could not be checked, 4 for an internal error.`;

const DEFAULT_TIMEOUT_SECONDS = 15;
const MAX_TIMEOUT_SECONDS = 600;
/** Domains checked at once (each with its own deadline). */
const CONCURRENCY = 8;

class UsageError extends Error {}

interface Parsed {
  readonly domains: string[];
  readonly json: boolean;
  readonly timeoutSeconds: number;
  readonly smtp: boolean;
  readonly resolver?: string;
  readonly expectId?: string;
  readonly assembly?: string;
  readonly strict: boolean;
  readonly help: boolean;
}

/** The version in the package.json of the installed package (two levels above lib/cli/main.js). */
export function packageVersion(): string {
  const file = join(__dirname, '..', '..', 'package.json');
  let manifest: { name?: unknown; version?: unknown };
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the package version from ${file}: ${(err as Error).message}`);
  }
  if (manifest.name !== 'cdk-mta-sts' || typeof manifest.version !== 'string') {
    throw new Error(`${file} is not the package.json of cdk-mta-sts`);
  }
  return manifest.version;
}

function parseArgs(argv: string[]): Parsed {
  if (['-h', '--help', 'help'].includes(argv[0])) {
    return { domains: [], json: false, timeoutSeconds: DEFAULT_TIMEOUT_SECONDS, smtp: true, strict: false, help: true };
  }
  if (argv[0] !== 'check') {
    throw new UsageError(`unknown command "${argv[0]}" (the only command is "check")`);
  }
  const domains: string[] = [];
  let json = false;
  let timeoutSeconds = DEFAULT_TIMEOUT_SECONDS;
  let smtp = true;
  let strict = false;
  let help = false;
  let resolver: string | undefined;
  let expectId: string | undefined;
  let assembly: string | undefined;
  const args = argv.slice(1);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq > 0) {
        return arg.slice(eq + 1);
      }
      if (i + 1 >= args.length) {
        throw new UsageError(`${flag} needs a value`);
      }
      return args[++i];
    };
    const noValue = () => {
      if (eq > 0) {
        throw new UsageError(`${flag} takes no value`);
      }
    };
    switch (flag) {
      case '--json': noValue(); json = true; break;
      case '--no-smtp': noValue(); smtp = false; break;
      case '--strict': noValue(); strict = true; break;
      case '-h':
      case '--help': help = true; break;
      case '--timeout': {
        const v = value();
        if (!/^[0-9]+(\.[0-9]+)?$/.test(v) || Number(v) <= 0 || Number(v) > MAX_TIMEOUT_SECONDS) {
          throw new UsageError(`--timeout must be a number of seconds above 0 and at most ${MAX_TIMEOUT_SECONDS}, got: ${JSON.stringify(v)}`);
        }
        timeoutSeconds = Number(v);
        break;
      }
      case '--resolver': {
        const v = value();
        resolver = DnsClient.parseServer(v);
        if (resolver === undefined) {
          throw new UsageError(`--resolver must be an IP address, ip:port or [ipv6]:port, got: ${JSON.stringify(v)}`);
        }
        break;
      }
      case '--expect-id': {
        const v = value();
        const problem = policyIdProblem(v);
        if (problem) {
          throw new UsageError(`--expect-id must be a valid policy id (1 to 32 letters and digits): ${problem}`);
        }
        expectId = v;
        break;
      }
      case '--assembly': assembly = value(); break;
      default: {
        if (arg.startsWith('-')) {
          throw new UsageError(`unknown option ${flag}`);
        }
        const result = normaliseHostname(arg);
        if (result.problem) {
          throw new UsageError(`invalid domain name ${JSON.stringify(arg)}: it ${result.problem}`);
        }
        if (!domains.includes(result.value!)) {
          domains.push(result.value!);
        }
      }
    }
  }
  if (!help) {
    if (assembly !== undefined && domains.length > 0) {
      throw new UsageError('give either domains or --assembly, not both');
    }
    if (assembly !== undefined && expectId !== undefined) {
      throw new UsageError('--expect-id cannot be used with --assembly (the assembly says what to expect)');
    }
    if (assembly === undefined && domains.length === 0) {
      throw new UsageError('name at least one domain, or --assembly <cdk.out>');
    }
  }
  return { domains, json, timeoutSeconds, smtp, resolver, expectId, assembly, strict, help };
}

/**
 * Runs the command with the given arguments (after the program name) and returns the exit
 * status (`EXIT`). Throws only on a bug.
 */
export async function run(argv: string[], io: Io, internal: InternalOptions = {}): Promise<number> {
  if (argv.length === 0) {
    io.stderr(`${USAGE}\n`);
    return EXIT.USAGE;
  }
  if (argv.length === 1 && argv[0] === '--version') {
    io.stdout(`${packageVersion()}\n`);
    return EXIT.OK;
  }
  let parsed: Parsed;
  let targets: Array<{ domain: string; expected?: ExpectedPolicy }>;
  try {
    parsed = parseArgs(argv);
    if (parsed.help) {
      io.stdout(`${USAGE}\n`);
      return EXIT.OK;
    }
    if (parsed.assembly !== undefined) {
      const found = readAssemblyDomains(parsed.assembly);
      if (found.length === 0) {
        throw new UsageError(`the cloud assembly ${parsed.assembly} publishes no MTA-STS policy domain (no MtaSts or MtaStsDomains metadata in its stacks)`);
      }
      targets = found.map(d => ({
        domain: d.data.domainName,
        expected: { contentId: d.data.contentId, policyText: d.data.policyText, tlsRptRecordValue: d.data.tlsRptRecordValue },
      }));
    } else {
      targets = parsed.domains.map(domain => ({ domain }));
    }
  } catch (err) {
    io.stderr(`cdk-mta-sts: ${(err as Error).message}\n`);
    return EXIT.USAGE;
  }

  const reports: Array<DomainReport | undefined> = new Array(targets.length);
  const unchecked: Array<Unchecked | undefined> = new Array(targets.length);
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const index = next++;
      const target = targets[index];
      const deadline = Date.now() + parsed.timeoutSeconds * 1000;
      const dns = new DnsClient(deadline, parsed.resolver);
      const options: CheckOptions = {
        deadline,
        resolver: parsed.resolver,
        smtp: parsed.smtp,
        expectId: parsed.expectId,
        expected: target.expected,
        strict: parsed.strict,
        ca: internal.ca,
        httpsPort: internal.httpsPort,
        smtpPort: internal.smtpPort,
      };
      try {
        const report = await checkDomain(target.domain, options, dns);
        // A report built on failed lookups would call the domain broken: say that DNS failed instead.
        const dnsFailure = await dns.failure(target.domain);
        if (dnsFailure === undefined) {
          reports[index] = report;
        } else {
          unchecked[index] = { domain: target.domain, message: `DNS lookups fail (${dnsFailure})` };
        }
      } finally {
        dns.close();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, targets.length) }, worker));

  const checked = reports.filter((r): r is DomainReport => r !== undefined);
  const notChecked = unchecked.filter((u): u is Unchecked => u !== undefined);
  const single = parsed.assembly === undefined && targets.length === 1;
  if (checked.length > 0 || !single) {
    io.stdout(parsed.json ? formatJson(checked, single, notChecked) : formatHuman(checked));
  }
  // One line per reason: when the resolver cannot be reached, every domain fails the same way.
  const byMessage = new Map<string, string[]>();
  for (const u of notChecked) {
    byMessage.set(u.message, [...(byMessage.get(u.message) ?? []), u.domain]);
  }
  for (const [message, domains] of byMessage) {
    io.stderr(`cdk-mta-sts: cannot check ${domains.join(', ')}: ${message}\n`);
  }
  if (checked.some(r => !r.ok)) {
    return EXIT.FAILED;
  }
  return notChecked.length > 0 ? EXIT.DNS_FAILED : EXIT.OK;
}

/**
 * Test-only ports, read from the environment so the subprocess test can point the built
 * command at loopback servers (tests cannot bind ports 443 and 25). Not documented for users.
 */
function internalFromEnv(): InternalOptions {
  const port = (name: string) => {
    const v = process.env[name];
    return v !== undefined && /^[0-9]{1,5}$/.test(v) ? Number(v) : undefined;
  };
  return { httpsPort: port('CDK_MTA_STS_TEST_HTTPS_PORT'), smtpPort: port('CDK_MTA_STS_TEST_SMTP_PORT') };
}

if (require.main === module) {
  run(process.argv.slice(2), {
    stdout: text => process.stdout.write(text),
    stderr: text => process.stderr.write(text),
  }, internalFromEnv()).then(status => {
    // Exit once stdout is flushed; pending DNS timers or sockets must not keep the process up.
    process.stdout.write('', () => process.exit(status));
  }, (err: Error) => {
    process.stderr.write(`cdk-mta-sts: internal error: ${err.stack ?? err.message}\n`);
    process.exit(EXIT.INTERNAL);
  });
}
