/**
 * The retry decision, a pure function (app/delivery/retry-policy.ts): every way an attempt
 * can end, with the values a misbehaving service or a bug could hand over.
 */
import { describe, expect, it } from "vitest";
import {
  type AttemptEnd,
  decideSettlement,
  DEFAULT_RETRY_POLICY,
  MAX_RATE_LIMIT_COOLDOWN_MS,
  RATE_LIMIT_GIVE_UP_MS,
  type RetryPolicy,
  retryDelayMs,
} from "~/delivery/retry-policy";
import { describeUnexpected, storedBody, storedError, storedText } from "~/delivery/stored-text";

const NOW = new Date("2026-01-01T00:00:00.000Z");
const POLICY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 1_000, maxDelayMs: 60_000 };
const MIDDLE = () => 0.5;

function decide(attempt: number, end: AttemptEnd, options: { policy?: RetryPolicy; random?: () => number; now?: Date } = {}) {
  return decideSettlement({ attempt, end, policy: options.policy ?? POLICY, random: options.random ?? MIDDLE, now: options.now ?? NOW });
}

function delayOf(settlement: ReturnType<typeof decide>): number {
  if (settlement.status !== "pending") throw new Error(`expected pending, got ${settlement.status}`);
  return settlement.nextAttemptAt.getTime() - NOW.getTime();
}

const failed = (retryAfterMs?: number): AttemptEnd => ({
  kind: "failed",
  errorKind: "retryable",
  reason: "Attentive answered HTTP 503: will retry.",
  ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
});
const rateLimited = (retryAfterMs?: number, waitingMs = 0): AttemptEnd => ({
  kind: "rate-limited",
  reason: "Attentive's rate limit was reached.",
  waitingMs,
  ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
});

describe("the retry decision", () => {
  it("delivered and skipped end the delivery now", () => {
    expect(decide(1, { kind: "delivered" })).toEqual({ status: "delivered", finishedAt: NOW, errorKind: null, reason: null });
    expect(decide(3, { kind: "skipped", reason: "The mapping was deleted." })).toEqual({
      status: "skipped",
      finishedAt: NOW,
      errorKind: null,
      reason: "The mapping was deleted.",
    });
  });

  it("a terminal failure ends failed at once, whatever the budget left", () => {
    expect(decide(1, { kind: "failed", errorKind: "terminal", reason: "Key rejected." })).toEqual({
      status: "failed",
      finishedAt: NOW,
      errorKind: "terminal",
      reason: "Key rejected.",
    });
  });

  // Equal jitter with random() = 0.5: three quarters of the step, the step doubling from the base.
  it.each([
    [1, 750],
    [2, 1_500],
    [3, 3_000],
    [4, 6_000],
  ])("a retryable failure on attempt %i waits %i ms and spends the attempt", (attempt, expected) => {
    const settlement = decide(attempt, failed());
    expect(delayOf(settlement)).toBe(expected);
    expect(settlement).toMatchObject({ status: "pending", errorKind: "retryable", spendsAttempt: true, reason: "Attentive answered HTTP 503: will retry." });
  });

  it.each([
    ["the least jitter", () => 0, 500],
    ["the most jitter", () => 1, 1_000],
    ["a random source that gives NaN", () => Number.NaN, 750],
    ["a random source that gives 7", () => 7, 750],
  ])("jitter with %s stays within half a step to a step", (_name, random, expected) => {
    expect(delayOf(decide(1, failed(), { random }))).toBe(expected);
  });

  it("the last attempt of the budget gives up, saying how many were made", () => {
    const settlement = decide(5, failed());
    expect(settlement).toEqual({
      status: "failed",
      finishedAt: NOW,
      errorKind: "retryable",
      reason: "Gave up after 5 attempts. Last error: Attentive answered HTTP 503: will retry. Use Retry when the problem is solved.",
    });
    expect(decide(4, failed()).status).toBe("pending");
  });

  it("waits at least what Retry-After asks, when that is within the policy's longest delay", () => {
    // Math.max, not Math.min: a Retry-After longer than the backoff wins.
    expect(delayOf(decide(1, failed(20_000)))).toBe(20_000);
    // A shorter one does not shorten the backoff.
    expect(delayOf(decide(3, failed(10)))).toBe(3_000);
    expect(decide(1, failed(20_000)).reason).toBe("Attentive answered HTTP 503: will retry.");
  });

  it.each([
    ["99,999,999,999 s", 99_999_999_999_000],
    ["10^20 s", 1e23],
    ["Infinity", Number.POSITIVE_INFINITY],
  ])("caps a Retry-After of %s at the policy's longest delay, and says Attentive asked for longer", (_name, retryAfterMs) => {
    const settlement = decide(1, failed(retryAfterMs));
    const delay = delayOf(settlement);
    if (Number.isFinite(retryAfterMs)) {
      expect(delay).toBe(POLICY.maxDelayMs);
      expect(settlement.reason).toContain("Attentive asked to wait");
      expect(settlement.reason).toContain("1 minute, the longest it waits between attempts");
    } else {
      // Not a number of milliseconds at all: ignored, the backoff applies.
      expect(delay).toBe(750);
    }
  });

  it.each([
    ["NaN", Number.NaN],
    ["a negative delay", -5_000],
  ])("ignores a Retry-After of %s", (_name, retryAfterMs) => {
    const settlement = decide(2, failed(retryAfterMs));
    expect(delayOf(settlement)).toBe(1_500);
    expect(settlement.reason).toBe("Attentive answered HTTP 503: will retry.");
  });

  it("the default policy: 10 attempts, 5 s doubling, capped at 15 minutes", () => {
    expect(DEFAULT_RETRY_POLICY).toEqual({ maxAttempts: 10, baseDelayMs: 5_000, maxDelayMs: 15 * 60_000 });
    const policy = DEFAULT_RETRY_POLICY;
    expect(retryDelayMs(policy, 1, () => 1)).toBe(5_000);
    expect(retryDelayMs(policy, 8, () => 1)).toBe(640_000);
    expect(retryDelayMs(policy, 9, () => 1)).toBe(900_000);
    expect(retryDelayMs(policy, 9, () => 0)).toBe(450_000);
    expect(decide(9, failed(), { policy, random: () => 1 })).toMatchObject({ status: "pending" });
    expect(decide(10, failed(), { policy })).toMatchObject({ status: "failed" });
    expect(delayOf(decide(1, failed(3_600_000), { policy }))).toBe(900_000);
  });

  it("a policy with a longest delay that is not a number still gives a valid date", () => {
    const odd: RetryPolicy = { maxAttempts: 5, baseDelayMs: Number.NaN, maxDelayMs: Number.NaN };
    const settlement = decide(1, failed(1e23), { policy: odd });
    expect(Number.isNaN(delayOf(settlement))).toBe(false);
    expect(delayOf(settlement)).toBe(DEFAULT_RETRY_POLICY.maxDelayMs);
  });

  it("a clock that is not a date gives a valid date, never an Invalid Date", () => {
    const settlement = decide(1, failed(1e23), { now: new Date(Number.NaN) });
    expect(settlement.status).toBe("pending");
    if (settlement.status === "pending") expect(Number.isNaN(settlement.nextAttemptAt.getTime())).toBe(false);
  });
});

describe("a rate limit", () => {
  it("puts the delivery back without spending an attempt, for what Retry-After asks, and cools the shop until then", () => {
    const settlement = decide(3, rateLimited(5_000));
    expect(settlement).toEqual({
      status: "pending",
      nextAttemptAt: new Date(NOW.getTime() + 5_000),
      errorKind: "retryable",
      reason: "Attentive's rate limit was reached.",
      spendsAttempt: false,
      shopCooldownUntil: new Date(NOW.getTime() + 5_000),
    });
  });

  it("waits one window when Attentive does not say how long", () => {
    expect(delayOf(decide(1, rateLimited()))).toBe(1_000);
  });

  it.each([
    ["99,999,999,999 s", 99_999_999_999_000, MAX_RATE_LIMIT_COOLDOWN_MS],
    ["10^20 s", 1e23, MAX_RATE_LIMIT_COOLDOWN_MS],
    ["NaN", Number.NaN, 1_000],
    ["-1", -1, 1_000],
    ["exactly the cap", MAX_RATE_LIMIT_COOLDOWN_MS, MAX_RATE_LIMIT_COOLDOWN_MS],
  ])("a Retry-After of %s cools the shop for %i ms at most", (_name, retryAfterMs, expected) => {
    const settlement = decide(1, rateLimited(retryAfterMs));
    expect(delayOf(settlement)).toBe(expected);
    if (settlement.status !== "pending") throw new Error("expected pending");
    expect(settlement.shopCooldownUntil?.getTime()).toBe(NOW.getTime() + expected);
    expect(settlement.reason.includes("Attentive asked to wait")).toBe(Number.isFinite(retryAfterMs) && retryAfterMs > MAX_RATE_LIMIT_COOLDOWN_MS);
  });

  it("after 24 hours of rate limits it counts like any retryable failure", () => {
    expect(decide(2, rateLimited(5_000, RATE_LIMIT_GIVE_UP_MS - 1))).toMatchObject({ spendsAttempt: false });
    const settlement = decide(2, rateLimited(5_000, RATE_LIMIT_GIVE_UP_MS));
    expect(settlement).toMatchObject({ status: "pending", spendsAttempt: true });
    expect(delayOf(settlement)).toBe(5_000);
    expect(decide(5, rateLimited(5_000, RATE_LIMIT_GIVE_UP_MS))).toMatchObject({ status: "failed", errorKind: "retryable" });
  });

  it("a delivery held back by its shop's cooldown goes back until then, at most a minute, without spending an attempt", () => {
    expect(delayOf(decide(1, { kind: "held-back", until: new Date(NOW.getTime() + 2_000) }))).toBe(2_000);
    expect(delayOf(decide(1, { kind: "held-back", until: new Date(NOW.getTime() + 10 * 86_400_000) }))).toBe(MAX_RATE_LIMIT_COOLDOWN_MS);
    expect(delayOf(decide(1, { kind: "held-back", until: new Date(Number.NaN) }))).toBe(0);
    expect(decide(1, { kind: "held-back", until: NOW })).toMatchObject({ spendsAttempt: false, errorKind: "retryable", status: "pending" });
  });
});

describe("an unexpected failure", () => {
  it("is retried within the budget", () => {
    const settlement = decide(2, { kind: "unexpected", reason: "The app could not process this delivery (TypeError: x).", database: false });
    expect(delayOf(settlement)).toBe(1_500);
    expect(settlement).toMatchObject({ errorKind: "retryable", spendsAttempt: true });
  });

  it("then fails, pointing at the mapping only when the database is not the problem", () => {
    const bug = decide(5, { kind: "unexpected", reason: "The app could not process this delivery (TypeError: x).", database: false });
    expect(bug).toMatchObject({ status: "failed", errorKind: "terminal" });
    expect(bug.reason).toBe(
      "The app could not process this delivery (TypeError: x). Gave up after 5 attempts: Check the mapping, then use Retry; if it keeps failing, contact support.",
    );
    const database = decide(5, { kind: "unexpected", reason: "The app could not save this delivery's progress in its database (database error P2000).", database: true });
    expect(database.reason).not.toMatch(/mapping/i);
    expect(database.reason).toContain("Use Retry later");
  });
});

describe("stored text", () => {
  it("has no NUL and is bounded", () => {
    expect(storedText("a\u0000b", 10)).toBe("a\uFFFDb");
    expect(storedText("abcdef", 4)).toBe("abc…");
    expect(storedText("abcd", 4)).toBe("abcd");
    // Never cut inside a surrogate pair.
    expect(storedText("ab😀cd", 4)).toBe("ab…");
    expect(storedError("x".repeat(5_000))).toHaveLength(1_000);
    expect(storedError(null)).toBeNull();
  });

  it("bounds a body in UTF-8 bytes, cutting on a character boundary", () => {
    expect(storedBody("é".repeat(10), 5)).toBe("éé");
    expect(Buffer.byteLength(storedBody("€".repeat(5_000), 4096))).toBeLessThanOrEqual(4096);
    expect(storedBody("{\u0000}", 100)).toBe("{\uFFFD}");
  });

  it("an unexpected error's description never carries a database error's text or an email", () => {
    const prismaError = Object.assign(new Error("Unique constraint failed on ada@example.com"), { name: "PrismaClientKnownRequestError", code: "P2002" });
    expect(describeUnexpected(prismaError)).toEqual({ database: true, summary: "database error P2002" });
    const pgError = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00 in ada@example.com'), { severity: "ERROR", code: "22021" });
    expect(describeUnexpected(pgError)).toEqual({ database: true, summary: "database error 22021" });
    const wrapped = new Error("adapter failed", { cause: Object.assign(new Error("SQLITE_CONSTRAINT ada@example.com"), { name: "SqliteError" }) });
    expect(describeUnexpected(wrapped).database).toBe(true);
    const bug = describeUnexpected(new TypeError("cannot read name of ada@example.com"));
    expect(bug).toEqual({ database: false, summary: "TypeError: cannot read name of [email]" });
  });
});

describe("what the merchant reads when Attentive asks for longer than the app waits", () => {
  // Policy capped at 30 s, so every Retry-After above it is named in the reason, in the largest plain unit.
  const SHORT: RetryPolicy = { maxAttempts: 5, baseDelayMs: 1_000, maxDelayMs: 30_000 };
  const SECOND = 1_000;
  const MINUTE = 60 * SECOND;
  const HOUR = 60 * MINUTE;
  it.each([
    [45 * SECOND, "45 seconds"],
    [60 * SECOND, "1 minute"],
    [61 * SECOND, "61 seconds"],
    [90 * SECOND, "90 seconds"],
    [119 * SECOND, "119 seconds"],
    [120 * SECOND, "2 minutes"],
    [60 * MINUTE, "60 minutes"],
    [119 * MINUTE, "119 minutes"],
    [120 * MINUTE, "2 hours"],
    [HOUR * 24, "24 hours"],
    [HOUR * 47, "47 hours"],
    [HOUR * 48, "2 days"],
    [HOUR * 72, "3 days"],
    [HOUR * 24 * 365 * 3000, "1095000 days"],
  ])("Retry-After of %i ms reads as %s", (asked, words) => {
    const settlement = decide(1, failed(asked), { policy: SHORT });
    expect(settlement.reason).toBe(
      `Attentive answered HTTP 503: will retry. Attentive asked to wait ${words}; the app tries again in 30 seconds, the longest it waits between attempts.`,
    );
  });

  it("names a rate limit's wait the same way, capped at a minute", () => {
    expect(decide(1, rateLimited(HOUR * 72)).reason).toBe(
      "Attentive's rate limit was reached. Attentive asked to wait 3 days; the app tries again in 1 minute, since its limit is counted per second.",
    );
  });
});

describe("odd values from the random source and Retry-After", () => {
  it.each([Number.NaN, -1, 2, Number.POSITIVE_INFINITY])("a random source giving %s counts as the middle", (value) => {
    expect(delayOf(decide(3, failed(), { random: () => value }))).toBe(delayOf(decide(3, failed(), { random: MIDDLE })));
  });

  it("a random source at its ends is used as it is", () => {
    expect(delayOf(decide(3, failed(), { random: () => 0 }))).toBe(2_000);
    expect(delayOf(decide(3, failed(), { random: () => 1 }))).toBe(4_000);
  });

  it("Retry-After: 0 on a 429 means try again now, not after the default second", () => {
    const settlement = decide(1, rateLimited(0));
    expect(settlement).toMatchObject({ status: "pending", nextAttemptAt: NOW, errorKind: "retryable", spendsAttempt: false });
  });

  it("a rate limit that has lasted past the give-up time becomes a retryable failure that spends an attempt", () => {
    expect(decide(1, rateLimited(undefined, RATE_LIMIT_GIVE_UP_MS))).toMatchObject({
      status: "pending",
      errorKind: "retryable",
      spendsAttempt: true,
    });
  });
});

describe("edges the wording and the clamps turn on", () => {
  const SHORT: RetryPolicy = { maxAttempts: 5, baseDelayMs: 1_000, maxDelayMs: 30_000 };

  it("gives up on a rate limit after exactly a day", () => {
    expect(RATE_LIMIT_GIVE_UP_MS).toBe(86_400_000);
  });

  it("rounds a wait past two minutes to whole minutes", () => {
    expect(decide(1, failed(150_000), { policy: SHORT }).reason).toContain("Attentive asked to wait 3 minutes;");
  });

  it("says nothing about Attentive's wish when it asked for exactly the longest wait", () => {
    expect(decide(1, failed(30_000), { policy: SHORT }).reason).toBe("Attentive answered HTTP 503: will retry.");
  });

  it("a policy without a base delay retries at once", () => {
    expect(delayOf(decide(1, failed(), { policy: { maxAttempts: 5, baseDelayMs: 0, maxDelayMs: 30_000 } }))).toBe(0);
  });

  it("a held-back delivery says why it waits", () => {
    expect(decide(1, { kind: "held-back", until: NOW }).reason).toBe(
      "Attentive's rate limit for this shop's key was reached: waiting for its window to pass.",
    );
  });
});
