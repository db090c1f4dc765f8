import { Duration } from 'aws-cdk-lib';
import { contentIdOf, reportedContentIdOf } from './core/policy-id';
import { matchingMxPattern } from './core/policy-text';
import { MtaStsMode } from './mode';
import { normaliseHostname } from './private/hostname';
import { analysePolicy, MAX_AGE_LIMIT_SECONDS, MAX_POLICY_BYTES, renderPolicy } from './private/policy-rules';
import { throwIfProblems } from './private/problems';


/**
 * The contents of an MTA-STS policy.
 */
export interface MtaStsPolicyProps {
  /**
   * The policy mode.
   *
   * @default MtaStsMode.TESTING - senders report failures but still deliver
   * @see https://www.rfc-editor.org/rfc/rfc8461#section-3.2
   */
  readonly mode?: MtaStsMode;

  /**
   * The MX hosts senders may deliver to: hostnames, or `*.` followed by a hostname, which
   * matches exactly one extra leftmost label (`*.mail.example.com` matches
   * `mx1.mail.example.com`, not `mail.example.com` nor `a.b.mail.example.com`).
   *
   * Normalised: lower-cased, one trailing dot dropped, internationalised names written as
   * A-labels (`xn--`), later duplicates dropped. Anything else that is not a valid hostname is
   * an error. Must be known at synthesis time (the policy id is a hash of the text).
   * May be empty only when `mode` is `NONE`.
   *
   * @see https://www.rfc-editor.org/rfc/rfc8461#section-4.1
   */
  readonly mx: string[];

  /**
   * How long senders may cache the policy. A whole number of seconds, at most 31557600
   * (about one year). Must be known at synthesis time.
   *
   * @default Duration.days(7)
   * @see https://www.rfc-editor.org/rfc/rfc8461#section-3.2
   */
  readonly maxAge?: Duration;
}

/**
 * An MTA-STS policy file: validated, normalised and rendered, with the id that announces it.
 *
 * Pure: it creates no AWS resources, so it can be used and tested on its own.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8461#section-3.2
 */
export class MtaStsPolicy {
  /** The largest `max_age` RFC 8461 allows, in seconds (about one year). */
  public static readonly MAX_AGE_LIMIT_SECONDS = MAX_AGE_LIMIT_SECONDS;

  /** The largest policy file this library renders, in bytes (the size senders are advised to accept). */
  public static readonly MAX_POLICY_BYTES = MAX_POLICY_BYTES;

  /** The path senders fetch the policy from, on `mta-sts.<domain>`. */
  public static readonly WELL_KNOWN_PATH = '/.well-known/mta-sts.txt';

  /**
   * Lists every problem with the given policy contents, each naming the prop, the rule and the
   * value given. An empty list means `new MtaStsPolicy(props)` succeeds.
   */
  public static validate(props: MtaStsPolicyProps): string[] {
    return analysePolicy(props, '').problems;
  }

  /** The policy mode. */
  public readonly mode: MtaStsMode;
  /** The normalised MX patterns, in the order given, duplicates dropped. */
  public readonly mx: string[];
  /** The `max_age` value, in seconds. */
  public readonly maxAgeSeconds: number;
  /** The exact policy file: `version`, `mode`, one `mx` line per host, `max_age`, each line ending in CRLF. */
  public readonly text: string;
  /**
   * The content id: the first 16 hexadecimal characters of the SHA-256 of the policy file's
   * bytes. Every id the constructs announce for this text begins with it, followed by 16
   * characters made at each publication (UTC time and two random characters), so the id is new
   * on every publication and still tells which text it announces.
   *
   * @see https://www.rfc-editor.org/rfc/rfc8461#section-3.1
   */
  public readonly contentId: string;
  /**
   * The content id TLS-RPT reports of this policy carry in the collector's table
   * (`policy_content_id`): the content id of the policy's lines sorted, so that it is the same
   * whatever order a reporter lists the lines of its `policy-string` in. Compare it to tell
   * which reports were made under this policy.
   *
   * @see https://www.rfc-editor.org/rfc/rfc8460#section-4.4
   */
  public readonly reportedContentId: string;

  /**
   * @param props the policy contents
   * @throws Error listing every problem when the contents are invalid
   */
  constructor(props: MtaStsPolicyProps) {
    const analysis = analysePolicy(props, '');
    throwIfProblems('MtaStsPolicy', analysis.problems);
    this.mode = analysis.mode;
    this.mx = analysis.mx;
    this.maxAgeSeconds = analysis.maxAgeSeconds;
    this.text = renderPolicy(this.mode, this.mx, this.maxAgeSeconds);
    this.contentId = contentIdOf(this.text);
    this.reportedContentId = reportedContentIdOf(this.text.split('\r\n'));
  }

  /**
   * Whether a sender applying this policy accepts the given MX hostname, by the rules of
   * RFC 8461 §4.1: exact match, or a wildcard standing for exactly one leftmost label.
   * Always false in mode `NONE`, which has no MX list to apply.
   *
   * @see https://www.rfc-editor.org/rfc/rfc8461#section-4.1
   */
  public matchesMx(hostname: string): boolean {
    if (this.mode === MtaStsMode.NONE) {
      return false;
    }
    const host = normaliseHostname(hostname).value;
    return host !== undefined && matchingMxPattern(this.mx, host) !== undefined;
  }
}
