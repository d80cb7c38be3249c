/**
 * The pacing rule against a simulated Attentive: a per-key sliding one-second window
 * (the stand-in's; Attentive documents 150 requests per second per key, not how it
 * counts them, and a sliding window is the strictest reading), reached over links whose latency
 * varies and sometimes stalls. Time is virtual, so a run of several seconds of traffic
 * takes milliseconds and replays exactly for its seed.
 */
import { describe, expect, it } from "vitest";
import { MAX_RATE_LIMIT, Pacing, WINDOW_MS } from "~/delivery/pacing";
import { seededRandom } from "../support/seeded-random";

class VirtualTime {
  now = 0;
  private timers: { at: number; seq: number; fire: () => void }[] = [];
  private seq = 0;
  readonly clock = () => this.now;
  readonly sleep = (ms: number) =>
    new Promise<void>((fire) => {
      this.timers.push({ at: this.now + Math.max(0, ms), seq: this.seq++, fire });
    });
  /** Runs timers in time order until `until` virtual ms have passed or nothing is left. */
  async run(until: number) {
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      if (this.timers.length === 0) return;
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift()!;
      if (next.at > until) return;
      this.now = Math.max(this.now, next.at);
      next.fire();
    }
  }
}

/** Attentive's limit as the stand-in enforces it: at most `limit` arrivals in any second. */
class SimulatedAttentive {
  private arrivals: number[] = [];
  readonly refusedAt: number[] = [];
  readonly admittedAt: number[] = [];
  constructor(readonly limit: number) {}
  arrive(now: number): { admitted: boolean; remaining: number } {
    this.arrivals = this.arrivals.filter((at) => now - at < WINDOW_MS);
    const admitted = this.arrivals.length < this.limit;
    if (admitted) {
      this.arrivals.push(now);
      this.admittedAt.push(now);
    } else this.refusedAt.push(now);
    return { admitted, remaining: Math.max(0, this.limit - this.arrivals.length) };
  }
}

interface Scenario {
  limit: number;
  seconds: number;
  lanes?: number;
  /** One-way latency of request number n, in ms. */
  latency: (n: number, random: () => number) => number;
  /** Requests per second another client sends on the same key. */
  foreignPerSecond?: number;
  seed?: number;
  pacing?: (time: VirtualTime, limit: number) => Pick<Pacing, "take">;
}

async function simulate(scenario: Scenario) {
  const time = new VirtualTime();
  const random = seededRandom(scenario.seed ?? 1);
  const attentive = new SimulatedAttentive(scenario.limit);
  const pacing = scenario.pacing?.(time, scenario.limit) ?? new Pacing(scenario.limit, time.clock, time.sleep);
  const end = scenario.seconds * 1_000;
  let sent = 0;
  let ours = 0;
  const ourAdmissions: number[] = [];
  const lanes = Array.from({ length: scenario.lanes ?? 16 }, async () => {
    while (time.now < end) {
      const answered = await pacing.take("shop");
      if (time.now >= end) {
        answered();
        return;
      }
      const n = sent++;
      await time.sleep(scenario.latency(n, random));
      const verdict = attentive.arrive(time.now);
      if (verdict.admitted) ourAdmissions.push(time.now);
      ours++;
      await time.sleep(scenario.latency(n, random));
      answered({ limit: scenario.limit, remaining: verdict.remaining, rateLimited: !verdict.admitted });
    }
  });
  const foreign = scenario.foreignPerSecond
    ? (async () => {
        while (time.now < end) {
          await time.sleep(1_000 / scenario.foreignPerSecond!);
          attentive.arrive(time.now);
        }
      })()
    : Promise.resolve();
  await time.run(end + 10_000);
  await Promise.all([...lanes, foreign]);
  const lastSecond = ourAdmissions.filter((at) => at > end - 1_000).length;
  const afterFirstSecond = ourAdmissions.filter((at) => at > 1_000).length / (scenario.seconds - 1);
  return { attentive, ours, lastSecond, afterFirstSecond };
}

/** 1-20 ms each way. */
const jittery = (_n: number, random: () => number) => 1 + random() * 19;
/** The same, with a 250 ms stall every 97th request. */
const stalling = (n: number, random: () => number) => (n % 97 === 50 ? 250 : jittery(n, random));

describe("Pacing against Attentive's per-key window", () => {
  it("is never refused when it is the key's only client, however the latency varies and stalls", async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const run = await simulate({ limit: 150, seconds: 6, latency: stalling, seed });
      expect(run.attentive.refusedAt).toEqual([]);
    }
  });

  it("runs close to the limit: each `limit` sends take one window plus a round trip", async () => {
    for (const seed of [1, 2, 3]) {
      const run = await simulate({ limit: 150, seconds: 6, latency: jittery, seed });
      expect(run.attentive.refusedAt).toEqual([]);
      // Round trips of 2-40 ms: 150 / (1.01 s + about 0.02 s) is about 145 per second.
      expect(run.afterFirstSecond).toBeGreaterThanOrEqual(140);
    }
  });

  it("is not refused when the first request stalls and the next ones arrive bunched behind it", async () => {
    const run = await simulate({ limit: 20, seconds: 5, latency: (n) => (n === 0 ? 200 : 2), seed: 7 });
    expect(run.attentive.refusedAt).toEqual([]);
    expect(run.lastSecond).toBeGreaterThanOrEqual(19);
  });

  it("would be refused by even spacing alone: the same stalls push one window over the limit", async () => {
    // The control for the two cases above: a pacer that only spaces sends evenly at the limit.
    const evenOnly = (time: VirtualTime, limit: number) => {
      let last = -Infinity;
      return {
        async take() {
          const wait = last + WINDOW_MS / limit - time.now;
          last = Math.max(time.now, last + WINDOW_MS / limit);
          if (wait > 0) await time.sleep(wait);
          return () => {};
        },
      };
    };
    const run = await simulate({ limit: 150, seconds: 6, latency: stalling, seed: 1, pacing: evenOnly });
    expect(run.attentive.refusedAt.length).toBeGreaterThan(0);
  });

  it("leaves room for another client of the same key, seen through x-ratelimit-remaining", async () => {
    const run = await simulate({ limit: 150, seconds: 8, latency: () => 3, foreignPerSecond: 45, seed: 3 });
    const afterFirstSecond = run.attentive.refusedAt.filter((at) => at > 1_000);
    expect(afterFirstSecond.length).toBeLessThanOrEqual(run.ours * 0.01);
    expect(run.lastSecond).toBeGreaterThanOrEqual(90);
  });

  it("follows the limit Attentive reports for the key", async () => {
    const pacing = new Pacing(150);
    const answered = await pacing.take("s");
    answered({ limit: 10, remaining: 9 });
    expect(pacing.budget("s")).toBe(10);
  });

  it("lowers a shop's budget after a 429 and gives it back within seconds", async () => {
    let now = 0;
    const pacing = new Pacing(100, () => now, async (ms) => (now += ms));
    (await pacing.take("s"))({ rateLimited: true });
    const lowered = pacing.budget("s");
    expect(lowered).toBeLessThan(100);
    now += 500;
    expect(pacing.budget("s")).toBeGreaterThan(lowered);
    now += 4_000;
    expect(pacing.budget("s")).toBe(100);
  });

  it("leaves another client's share free only while it is seen", async () => {
    let now = 0;
    const pacing = new Pacing(100, () => now, async (ms) => (now += ms));
    // Attentive counts 60 in the window; this shop sent one: another client sent the rest.
    (await pacing.take("s"))({ remaining: 40 });
    expect(pacing.budget("s")).toBe(100 - 59);
    now += 2 * WINDOW_MS;
    expect(pacing.budget("s")).toBe(100);
  });
});

describe("an x-ratelimit-limit no service would mean", () => {
  it("1,000,000,000 is clamped, so what is kept per shop (and scanned per answer) stays bounded", async () => {
    // Virtual time that never needs to advance: at a believed limit in the thousands every
    // send may go at once, which is the case that used to keep every send in memory.
    let now = 0;
    const pacing = new Pacing(150, () => now, async (ms) => {
      now += ms;
    });
    const sends = 3 * MAX_RATE_LIMIT;
    for (let i = 0; i < sends; i++) {
      const answered = await pacing.take("busy.myshopify.com");
      answered({ limit: 1_000_000_000, remaining: 999_999_999 });
      now += 0.01;
    }
    expect(pacing.budget("busy.myshopify.com")).toBeLessThanOrEqual(MAX_RATE_LIMIT);
    expect(pacing.tracked("busy.myshopify.com")).toBeLessThanOrEqual(MAX_RATE_LIMIT);
  });

  it.each([
    ["0", 0],
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["-5", -5],
  ])("a limit of %s leaves the limit as it was", async (_name, limit) => {
    const pacing = new Pacing(20, () => 0, async () => {});
    (await pacing.take("shop"))({ limit });
    expect(pacing.budget("shop")).toBe(20);
  });
});
