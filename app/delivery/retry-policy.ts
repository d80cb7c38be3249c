/**
 * The retry budget and the retry decision, declared once (docs/decisions/012-one-settle-step.md).
 *
 * `decideSettlement` is a pure function of the attempt and how it ended: it says what the
 * delivery becomes (status, when it is due again, the error kind and the reason shown to the
 * merchant). The settle step (settle.server.ts) writes exactly that; nothing else decides a
 * delivery's status after a claim.
 *
 * It defends against whatever it is handed: a Retry-After of 1e20 seconds, NaN, a negative
 * delay or a clock that is not a date never produce an Invalid Date or a delivery parked
 * for centuries.
 */
export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

// 10 attempts over roughly 45 minutes at most: 5 s, 10 s, 20 s … capped at 15 min.
export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 10, baseDelayMs: 5_000, maxDelayMs: 15 * 60_000 };

/**
 * Longest a rate limit puts a shop's deliveries back for. Attentive counts requests per
 * second (150 per key), so a Retry-After beyond a minute is not about its window: the
 * delivery comes back after a minute, and another 429 simply puts it back again.
 */
export const MAX_RATE_LIMIT_COOLDOWN_MS = 60_000;
/** Wait after a 429 that says nothing about when to come back: one window. */
export const DEFAULT_RATE_LIMIT_COOLDOWN_MS = 1_000;
/** Longest one wait for something the event needs (its order's webhook) puts a delivery back for. */
export const MAX_ARRIVAL_WAIT_STEP_MS = 60_000;
/** A delivery rate limited for longer than this fails like any retryable error. */
export const RATE_LIMIT_GIVE_UP_MS = 24 * 60 * 60 * 1000;

/** Delay before attempt `attemptsMade + 1`; "equal jitter" keeps at least half the step. */
export function retryDelayMs(policy: RetryPolicy, attemptsMade: number, random = Math.random, atLeastMs = 0): number {
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attemptsMade - 1));
  const jittered = step / 2 + random() * (step / 2);
  return Math.max(Math.round(jittered), atLeastMs);
}

/** How an attempt ended, as the worker saw it. */
export type AttemptEnd =
  | { kind: "delivered" }
  | { kind: "skipped"; reason: string }
  | { kind: "failed"; errorKind: "retryable" | "terminal"; reason: string; retryAfterMs?: number }
  /** Attentive answered 429. `waitingMs`: how long the delivery has existed (a rate limit is not counted for 24 h). */
  | { kind: "rate-limited"; reason: string; retryAfterMs?: number; waitingMs: number }
  /** Not sent: the shop is cooling down after a 429 another delivery got; it goes back until `until`. */
  | { kind: "held-back"; until: Date }
  /**
   * Not sent yet: what the event needs has not arrived (its order's webhook, which Shopify may send after it); it
   * comes back at `until`. The worker bounds how long a delivery may wait (worker.server.ts).
   */
  | { kind: "waiting"; reason: string; until: Date }
  /** Something this code did not expect (a bug, an unreadable row, the database). `reason` is already safe to show. */
  | { kind: "unexpected"; reason: string; database: boolean };

export interface SettleInput {
  /** Attempts made, including this one. */
  attempt: number;
  end: AttemptEnd;
  policy: RetryPolicy;
  random: () => number;
  now: Date;
}

/** What the settle step writes. */
export type Settlement =
  | { status: "delivered"; finishedAt: Date; errorKind: null; reason: null }
  | { status: "skipped"; finishedAt: Date; errorKind: null; reason: string }
  | {
      status: "pending";
      nextAttemptAt: Date;
      errorKind: "retryable";
      reason: string;
      /** False for a rate limit: the attempt is given back (it does not count against the budget). */
      spendsAttempt: boolean;
      /** Set for a rate limit: the shop's other deliveries wait until then too. */
      shopCooldownUntil?: Date;
    }
  | { status: "failed"; finishedAt: Date; errorKind: "retryable" | "terminal"; reason: string };

/** A finite, non-negative number of milliseconds, or undefined for anything else. */
function saneMs(value: number | undefined): number | undefined {
  return value !== undefined && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** A date `ms` after `now`; a `now` that is not a valid date is replaced by the epoch so the result stays valid. */
function after(now: Date, ms: number): Date {
  const base = Number.isFinite(now.getTime()) ? now.getTime() : 0;
  return new Date(base + ms);
}

/** A wait in the largest unit that says it plainly: "45 seconds", "15 minutes", "3 days". */
function seconds(ms: number): string {
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  const s = Math.round(ms / 1000);
  if (s < 60 || (s < 120 && s % 60 !== 0)) return plural(s, "second");
  const m = Math.round(s / 60);
  if (m < 120) return plural(m, "minute");
  const h = Math.round(m / 60);
  if (h < 48) return plural(h, "hour");
  return plural(Math.round(h / 24), "day");
}

/** The number in (0, 1) a random source is supposed to give; anything else counts as the middle. */
function saneRandom(random: () => number): () => number {
  return () => {
    const value = random();
    return Number.isFinite(value) && value >= 0 && value <= 1 ? value : 0.5;
  };
}

export function decideSettlement(input: SettleInput): Settlement {
  const { attempt, end, policy, now } = input;
  const random = saneRandom(input.random);
  const maxDelayMs = saneMs(policy.maxDelayMs) ?? DEFAULT_RETRY_POLICY.maxDelayMs;
  switch (end.kind) {
    case "delivered":
      return { status: "delivered", finishedAt: now, errorKind: null, reason: null };
    case "skipped":
      return { status: "skipped", finishedAt: now, errorKind: null, reason: end.reason };
    case "rate-limited": {
      if (end.waitingMs >= RATE_LIMIT_GIVE_UP_MS) {
        return decideSettlement({ ...input, end: { kind: "failed", errorKind: "retryable", reason: end.reason, ...retryAfter(end.retryAfterMs) } });
      }
      const asked = saneMs(end.retryAfterMs);
      const waitMs = Math.min(asked ?? DEFAULT_RATE_LIMIT_COOLDOWN_MS, MAX_RATE_LIMIT_COOLDOWN_MS);
      const until = after(now, waitMs);
      const note =
        asked !== undefined && asked > MAX_RATE_LIMIT_COOLDOWN_MS
          ? ` Attentive asked to wait ${seconds(asked)}; the app tries again in ${seconds(waitMs)}, since its limit is counted per second.`
          : "";
      return { status: "pending", nextAttemptAt: until, errorKind: "retryable", reason: `${end.reason}${note}`, spendsAttempt: false, shopCooldownUntil: until };
    }
    case "held-back": {
      const waitMs = Math.min(Math.max(0, end.until.getTime() - now.getTime()) || 0, MAX_RATE_LIMIT_COOLDOWN_MS);
      const until = after(now, waitMs);
      return {
        status: "pending",
        nextAttemptAt: until,
        errorKind: "retryable",
        reason: "Attentive's rate limit for this shop's key was reached: waiting for its window to pass.",
        spendsAttempt: false,
      };
    }
    case "waiting": {
      const waitMs = Math.min(Math.max(0, end.until.getTime() - now.getTime()) || 0, MAX_ARRIVAL_WAIT_STEP_MS);
      return { status: "pending", nextAttemptAt: after(now, waitMs), errorKind: "retryable", reason: end.reason, spendsAttempt: false };
    }
    case "failed": {
      if (end.errorKind === "terminal") return { status: "failed", finishedAt: now, errorKind: "terminal", reason: end.reason };
      if (attempt >= policy.maxAttempts) {
        return {
          status: "failed",
          finishedAt: now,
          errorKind: "retryable",
          reason: `Gave up after ${attempt} attempts. Last error: ${end.reason} Use Retry when the problem is solved.`,
        };
      }
      const asked = saneMs(end.retryAfterMs);
      const atLeastMs = Math.min(asked ?? 0, maxDelayMs);
      const delay = clampDelay(retryDelayMs(policy, attempt, random, atLeastMs), maxDelayMs);
      const note =
        asked !== undefined && asked > maxDelayMs
          ? ` Attentive asked to wait ${seconds(asked)}; the app tries again in ${seconds(delay)}, the longest it waits between attempts.`
          : "";
      return { status: "pending", nextAttemptAt: after(now, delay), errorKind: "retryable", reason: `${end.reason}${note}`, spendsAttempt: true };
    }
    case "unexpected": {
      if (attempt < policy.maxAttempts) {
        const delay = clampDelay(retryDelayMs(policy, attempt, random), maxDelayMs);
        return { status: "pending", nextAttemptAt: after(now, delay), errorKind: "retryable", reason: end.reason, spendsAttempt: true };
      }
      const advice = end.database
        ? "Use Retry later; if it keeps failing, contact support."
        : "Check the mapping, then use Retry; if it keeps failing, contact support.";
      return { status: "failed", finishedAt: now, errorKind: "terminal", reason: `${end.reason} Gave up after ${attempt} attempts: ${advice}` };
    }
    default:
      return unreachable(end);
  }
}

function retryAfter(ms: number | undefined): { retryAfterMs?: number } {
  return ms === undefined ? {} : { retryAfterMs: ms };
}

/** Never negative, never beyond the policy's longest wait, never NaN (a policy from outside may be odd). */
function clampDelay(delay: number, maxDelayMs: number): number {
  if (!Number.isFinite(delay) || delay < 0) return maxDelayMs;
  return Math.min(delay, maxDelayMs);
}

function unreachable(value: never): never {
  throw new Error(`unhandled attempt end: ${JSON.stringify(value)}`);
}
