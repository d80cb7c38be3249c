/**
 * The retry budget, declared once. Retryable failures wait an exponentially growing,
 * jittered delay (never less than what Attentive asked for with Retry-After); after
 * maxAttempts the delivery fails with the last reason and can be retried by hand.
 */
export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

// 10 attempts over roughly 45 minutes at most: 5 s, 10 s, 20 s … capped at 15 min.
export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 10, baseDelayMs: 5_000, maxDelayMs: 15 * 60_000 };

/** Delay before attempt `attemptsMade + 1`; "equal jitter" keeps at least half the step. */
export function retryDelayMs(policy: RetryPolicy, attemptsMade: number, random = Math.random, atLeastMs = 0): number {
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attemptsMade - 1));
  const jittered = step / 2 + random() * (step / 2);
  return Math.max(Math.round(jittered), atLeastMs);
}
