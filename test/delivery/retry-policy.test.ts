/**
 * The retry budget a merchant sees in the delivery log: how long a failed send waits before the next attempt.
 * Pinned as the schedule itself, so a change to the policy or to the backoff is a deliberate one.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY_POLICY, retryDelayMs, type RetryPolicy } from "~/delivery/retry-policy";

const lowest = () => 0;
const highest = () => 1;
const middle = () => 0.5;

describe("DEFAULT_RETRY_POLICY", () => {
  it("is 10 attempts, starting at 5 s and capped at 15 minutes", () => {
    expect(DEFAULT_RETRY_POLICY).toEqual({ maxAttempts: 10, baseDelayMs: 5_000, maxDelayMs: 15 * 60_000 });
  });

  it("waits 5 s, 10 s, 20 s … doubling up to 15 minutes, then stays there (before jitter)", () => {
    const schedule = Array.from({ length: 12 }, (_, index) => retryDelayMs(DEFAULT_RETRY_POLICY, index + 1, highest));
    expect(schedule).toEqual([5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 640_000, 900_000, 900_000, 900_000, 900_000]);
  });

  it("keeps at least half of each step after jitter", () => {
    const schedule = Array.from({ length: 10 }, (_, index) => retryDelayMs(DEFAULT_RETRY_POLICY, index + 1, lowest));
    expect(schedule).toEqual([2_500, 5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 450_000, 450_000]);
    expect(retryDelayMs(DEFAULT_RETRY_POLICY, 3, middle)).toBe(15_000);
  });

  it("spreads the whole budget over about 36 minutes at most, so a failure is reported the same hour", () => {
    const retries = DEFAULT_RETRY_POLICY.maxAttempts - 1;
    const total = Array.from({ length: retries }, (_, index) => retryDelayMs(DEFAULT_RETRY_POLICY, index + 1, highest)).reduce((a, b) => a + b, 0);
    expect(total).toBe(2_175_000);
  });
});

describe("retryDelayMs", () => {
  const policy: RetryPolicy = { maxAttempts: 5, baseDelayMs: 1_000, maxDelayMs: 6_000 };

  it("treats a delivery not yet attempted like one attempted once", () => {
    expect(retryDelayMs(policy, 0, highest)).toBe(1_000);
    expect(retryDelayMs(policy, 1, highest)).toBe(1_000);
    expect(retryDelayMs(policy, 2, highest)).toBe(2_000);
  });

  it("is capped by the policy's maxDelayMs", () => {
    expect(retryDelayMs(policy, 3, highest)).toBe(4_000);
    expect(retryDelayMs(policy, 4, highest)).toBe(6_000);
    expect(retryDelayMs(policy, 30, lowest)).toBe(3_000);
  });

  it("rounds to whole milliseconds", () => {
    expect(retryDelayMs({ maxAttempts: 3, baseDelayMs: 3, maxDelayMs: 100 }, 1, () => 0.1)).toBe(2);
  });

  it("waits as long as Attentive's Retry-After asks when that is longer than the backoff (a 429 or a 5xx alike)", () => {
    expect(retryDelayMs(DEFAULT_RETRY_POLICY, 1, highest, 120_000)).toBe(120_000);
    expect(retryDelayMs(DEFAULT_RETRY_POLICY, 1, lowest, 2_501)).toBe(2_501);
  });

  it("keeps the backoff when Retry-After asks for less", () => {
    expect(retryDelayMs(DEFAULT_RETRY_POLICY, 2, highest, 1_000)).toBe(10_000);
    expect(retryDelayMs(DEFAULT_RETRY_POLICY, 2, lowest, 0)).toBe(5_000);
  });

  it("uses Math.random by default, within the step's jitter range", () => {
    for (let n = 0; n < 50; n++) {
      const delay = retryDelayMs(DEFAULT_RETRY_POLICY, 2);
      expect(delay).toBeGreaterThanOrEqual(5_000);
      expect(delay).toBeLessThanOrEqual(10_000);
    }
  });
});
