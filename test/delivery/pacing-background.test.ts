/**
 * Pacing's background sends (a history backfill's, docs/decisions/016) on a virtual clock: sleeps are timers the test
 * fires in time order, so many callers can wait at once and the figures are exact. A live send waits behind at most
 * one background send; background sends never use the reserve kept for live ones in any one-second window; alone,
 * background runs at about 80% of the limit and live at all of it.
 */
import { describe, expect, it } from "vitest";
import { BACKGROUND_RESERVE, Pacing, WINDOW_MS } from "~/delivery/pacing";

/** A clock that moves only when every caller is waiting on a sleep: then to the earliest sleep's end. */
function virtualTime() {
  let now = 0;
  let order = 0;
  const timers: Array<{ at: number; order: number; resolve: () => void }> = [];
  const clock = () => now;
  const sleep = (ms: number) => new Promise<void>((resolve) => timers.push({ at: now + Math.max(0, ms), order: order++, resolve }));
  const idle = () => new Promise<void>((resolve) => setImmediate(resolve));
  /** Fires timers in time order until `done` holds; fails if nothing is left to wait for, or past `untilMs`. */
  async function runUntil(done: () => boolean, untilMs = 120_000) {
    for (;;) {
      await idle();
      if (done()) return;
      if (timers.length === 0) throw new Error("nothing waits on the clock, and the condition does not hold");
      timers.sort((a, b) => a.at - b.at || a.order - b.order);
      const next = timers.shift()!;
      now = Math.max(now, next.at);
      if (now > untilMs) throw new Error(`the condition did not hold by ${untilMs} ms of virtual time`);
      next.resolve();
    }
  }
  return { clock, sleep, runUntil, now: () => now };
}

interface Sent {
  kind: "live" | "background";
  at: number;
}

/** Takes `count` sends of `kind` at once, each answered as soon as it goes; logs when each went. */
function takeMany(pacing: Pacing, time: ReturnType<typeof virtualTime>, log: Sent[], kind: Sent["kind"], count: number) {
  return Array.from({ length: count }, () =>
    pacing.take("s", { background: kind === "background" }).then((answered) => {
      log.push({ kind, at: time.now() });
      answered();
    }),
  );
}

/** The most sends in any window of WINDOW_MS (each window starting at a send). */
function busiestWindow(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[j]! < sorted[i]! - WINDOW_MS + 1) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe("background sends", () => {
  it("keep BACKGROUND_RESERVE of the budget: 8 of 10 and 120 of 150 per window", async () => {
    expect(BACKGROUND_RESERVE).toBe(0.2);
    for (const [limit, expected] of [
      [10, 8],
      [150, 120],
    ] as const) {
      const time = virtualTime();
      const pacing = new Pacing(limit, time.clock, time.sleep);
      const log: Sent[] = [];
      const all = takeMany(pacing, time, log, "background", limit * 5);
      await time.runUntil(() => log.length === limit * 5);
      await Promise.all(all);
      expect(busiestWindow(log.map((s) => s.at))).toBe(expected);
    }
  });

  it("alone still run at about 80% of the limit", async () => {
    const time = virtualTime();
    const pacing = new Pacing(50, time.clock, time.sleep);
    const log: Sent[] = [];
    takeMany(pacing, time, log, "background", 400);
    await time.runUntil(() => log.length === 400);
    // 40 per window: 400 sends in about 10 s (the first window's sends go at once, then one per window's 1/40).
    const seconds = time.now() / 1000;
    expect(400 / seconds).toBeGreaterThan(40 * 0.95);
    expect(400 / seconds).toBeLessThanOrEqual(40 * 1.1);
    expect(busiestWindow(log.map((s) => s.at))).toBe(40);
  });

  it("never, mixed with live sends, take more than their share of any window, and live ones get the rest", async () => {
    const time = virtualTime();
    const pacing = new Pacing(20, time.clock, time.sleep);
    const log: Sent[] = [];
    takeMany(pacing, time, log, "background", 200);
    // A live send every 250 ms for 5 s, alongside.
    const live: Array<Promise<void>> = [];
    for (let at = 0; at < 5_000; at += 250) {
      void time.sleep(at).then(() => live.push(...takeMany(pacing, time, log, "live", 1)));
    }
    await time.runUntil(() => log.filter((s) => s.kind === "live").length === 20 && log.length === 220);
    const background = log.filter((s) => s.kind === "background").map((s) => s.at);
    expect(busiestWindow(background)).toBeLessThanOrEqual(16);
    expect(busiestWindow(log.map((s) => s.at))).toBeLessThanOrEqual(20);
  });
});

describe("a live send among queued background sends", () => {
  it("goes after at most one background send, however many are queued", async () => {
    const time = virtualTime();
    const pacing = new Pacing(10, time.clock, time.sleep);
    const log: Sent[] = [];
    takeMany(pacing, time, log, "background", 100);
    for (const after of [3, 20, 41]) {
      await time.runUntil(() => log.length >= after);
      const before = log.length;
      let wentAt = -1;
      void pacing.take("s").then((answered) => {
        wentAt = log.length;
        log.push({ kind: "live", at: time.now() });
        answered();
      });
      await time.runUntil(() => wentAt >= 0);
      const backgroundBetween = log.slice(before, wentAt).filter((s) => s.kind === "background").length;
      expect(backgroundBetween, `live send issued after ${after} background sends`).toBeLessThanOrEqual(1);
      // Background sends were still queued: the live one really went ahead of them.
      expect(log.filter((s) => s.kind === "background").length).toBeLessThan(100);
    }
  });

  it("waits for its own window only, not for the background queue, when the window is full", async () => {
    const time = virtualTime();
    const pacing = new Pacing(10, time.clock, time.sleep);
    const log: Sent[] = [];
    // Fill the whole window with live sends, then queue background ones, then one more live send.
    takeMany(pacing, time, log, "live", 10);
    await time.runUntil(() => log.length === 10);
    takeMany(pacing, time, log, "background", 30);
    const issuedAt = time.now();
    let liveAt = -1;
    let liveIndex = -1;
    void pacing.take("s").then((answered) => {
      liveAt = time.now();
      liveIndex = log.length;
      log.push({ kind: "live", at: liveAt });
      answered();
    });
    await time.runUntil(() => liveAt >= 0);
    expect(log.slice(10, liveIndex).filter((s) => s.kind === "background").length).toBeLessThanOrEqual(1);
    // It goes when the window lets it (about one window after the first send), not behind 30 background sends.
    expect(liveAt - issuedAt).toBeLessThanOrEqual(WINDOW_MS + 50);
  });
});

describe("live sends alone", () => {
  it("still get the whole limit", async () => {
    const time = virtualTime();
    const pacing = new Pacing(50, time.clock, time.sleep);
    const log: Sent[] = [];
    takeMany(pacing, time, log, "live", 500);
    await time.runUntil(() => log.length === 500);
    expect(busiestWindow(log.map((s) => s.at))).toBe(50);
    const perSecond = 500 / (time.now() / 1000);
    expect(perSecond).toBeGreaterThan(50 * 0.95);
    expect(perSecond).toBeLessThanOrEqual(50 * 1.1);
  });
});
