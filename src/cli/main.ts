#!/usr/bin/env node
import { readAssemblyDomains } from './assembly';
import { checkDomain, CheckOptions, DomainReport, ExpectedPolicy } from './checks';
import { DnsClient } from './dns';
import { formatHuman, formatJson } from './output';
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

export const USAGE = `Usage:
  cdk-mta-sts check <domain>... [--json] [--timeout <seconds>] [--no-smtp] [--resolver <ip[:port]>] [--expect-id <id>] [--strict]
  cdk-mta-sts check --assembly <cdk.out> [--json] [--timeout <seconds>] [--no-smtp] [--resolver <ip[:port]>] [--strict]

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

Exit status: 0 when no check failed, 1 when one did, 2 for a usage error.`;

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

function parseArgs(argv: string[]): Parsed {
  if (argv.length === 0 || ['-h', '--help', 'help'].includes(argv[0])) {
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
 * status: 0 when no check failed, 1 when one did, 2 for a usage error.
 */
export async function run(argv: string[], io: Io, internal: InternalOptions = {}): Promise<number> {
  let parsed: Parsed;
  let targets: Array<{ domain: string; expected?: ExpectedPolicy }>;
  try {
    parsed = parseArgs(argv);
    if (parsed.help) {
      io.stdout(`${USAGE}\n`);
      return 0;
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
    return 2;
  }

  const reports: DomainReport[] = new Array(targets.length);
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
        reports[index] = await checkDomain(target.domain, options, dns);
      } finally {
        dns.close();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, targets.length) }, worker));

  io.stdout(parsed.json ? formatJson(reports, parsed.assembly === undefined) : formatHuman(reports));
  return reports.every(r => r.ok) ? 0 : 1;
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
    process.exit(2);
  });
}
