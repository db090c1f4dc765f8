/**
 * Retries of AWS calls against a deadline, for the publisher.
 *
 * The publisher runs behind aws-cdk-lib's custom resource entrypoint, which answers
 * CloudFormation only when the handler returns or throws: a handler that runs into its Lambda
 * timeout answers nothing and leaves CloudFormation waiting. So every wait here is bounded by the
 * time the Lambda has left (`context.getRemainingTimeInMillis()`), minus what the steps after it
 * need.
 */

/** The time a handler has left, in milliseconds (Lambda's `context.getRemainingTimeInMillis`). */
export type TimeLeft = () => number;

/** The first and the largest backoff ceilings (full jitter: the sleep is random below the ceiling). */
const BASE_DELAY_MS = 400;
const MAX_DELAY_MS = 20_000;

/** Errors that say "try again later": throttling, a server-side fault, a network hiccup. */
export function isTransient(error: unknown): boolean {
  const e = error as { name?: string; code?: string; $fault?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  const name = e?.name ?? e?.code ?? '';
  if (/^(Throttling|ThrottlingException|ThrottledException|TooManyRequestsException|RequestLimitExceeded|PriorRequestNotComplete|SlowDown|InternalError|InternalFailure|ServiceUnavailable|RequestTimeout|RequestTimeoutException|TimeoutError)$/.test(name)) {
    return true;
  }
  if (e?.$fault === 'server' || (e?.$metadata?.httpStatusCode ?? 0) >= 500 || e?.$retryable !== undefined) {
    return true;
  }
  // No answer at all (connection reset, DNS, socket timeout).
  return /^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EAI_AGAIN|NetworkingError)$/.test(name) || /socket hang up/i.test(String((error as Error)?.message));
}

/** An IAM grant made in the same deploy can take a while to reach every endpoint. */
function isPropagatingGrant(error: unknown): boolean {
  return /^(AccessDenied|AccessDeniedException)$/.test((error as { name?: string })?.name ?? '');
}

/** How long a just-created role's grants may take to work. */
const GRANT_PROPAGATION_MS = 120_000;

export function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}

/** A full-jitter backoff: a random sleep below an exponentially growing ceiling. */
export function backoffMs(attempt: number): number {
  return Math.floor(Math.random() * Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt));
}

/**
 * Calls `call` until it succeeds, retrying transient errors with full-jitter backoff while more
 * than `reserveMs` of the handler's time would be left after the sleep. Throws the last error
 * when the time is up, or any other error at once.
 */
export async function retrying<T>(what: string, timeLeft: TimeLeft, reserveMs: number, call: () => Promise<T>): Promise<T> {
  const started = timeLeft();
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const retryable = isTransient(error) || (isPropagatingGrant(error) && started - timeLeft() < GRANT_PROPAGATION_MS);
      const delay = backoffMs(attempt);
      if (!retryable || timeLeft() - delay < reserveMs) {
        if (retryable && error instanceof Error) {
          error.message = `${what}: ${error.message} (still failing after ${attempt + 1} attempts, when the handler had to answer)`;
        }
        throw error;
      }
      console.log(JSON.stringify({ level: 'warn', retry: what, error: (error as Error).name, attempt: attempt + 1, delayMs: delay }));
      await sleep(delay);
    }
  }
}
