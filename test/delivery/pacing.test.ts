/**
 * Pacing's figures, pinned on a clock the test drives (sleep moves it forward): when each send may go, how a
 * 429 and another client's share change the budget, and for how long. The simulation in
 * test/pipeline/pacing.test.ts shows the rule keeps under Attentive's window; this file pins the numbers.
 */
import { describe, expect, it } from "vitest";
import { Pacing, WINDOW_GUARD_MS, WINDOW_MS } from "~/delivery/pacing";

function drivenClock() {
  const time = { now: 0, slept: [] as number[] };
  const clock = () => time.now;
  const sleep = async (ms: number) => {
    time.slept.push(ms);
    time.now += ms;
  };
  return { time, clock, sleep };
}

describe("Pacing's constants", () => {
  it("are a one-second window with a 10 ms guard", () => {
    expect(WINDOW_MS).toBe(1_000);
    expect(WINDOW_GUARD_MS).toBe(10);
  });
});

describe("Pacing spacing", () => {
  it("spaces a shop's sends evenly at 1/limit of a second, after letting one catch-up send go at once", async () => {
    const { time, clock, sleep } = drivenClock();
    const pacing = new Pacing(10, clock, sleep);
    const sentAt: number[] = [];
    for (let n = 0; n < 6; n++) {
      const answered = await pacing.take("s");
      sentAt.push(time.now);
      answered();
    }
    expect(sentAt).toEqual([0, 0, 100, 200, 300, 400]);
  });

  it("makes up a late timer by at most 50 ms worth of sends when sends are closer than that", async () => {
    const { time, clock, sleep } = drivenClock();
    const pacing = new Pacing(100, clock, sleep);
    (await pacing.take("s"))();
    time.now = 1_000;
    const sentAt: number[] = [];
    for (let n = 0; n < 8; n++) {
      (await pacing.take("s"))();
      sentAt.push(time.now);
    }
    // Interval 10 ms; after a long pause the slot restarts 50 ms back: 5 sends go at once, then every 10 ms.
    expect(sentAt).toEqual([1_000, 1_000, 1_000, 1_000, 1_000, 1_000, 1_010, 1_020]);
  });

  it("makes up one interval when the interval is longer than 50 ms", async () => {
    const { time, clock, sleep } = drivenClock();
    const pacing = new Pacing(4, clock, sleep);
    (await pacing.take("s"))();
    time.now = 10_000;
    const sentAt: number[] = [];
    for (let n = 0; n < 3; n++) {
      (await pacing.take("s"))();
      sentAt.push(time.now);
    }
    expect(sentAt).toEqual([10_000, 10_000, 10_250]);
  });

  it("serves one shop's callers in the order they asked", async () => {
    const { clock, sleep } = drivenClock();
    const pacing = new Pacing(2, clock, sleep);
    const order: string[] = [];
    await Promise.all(["a1", "a2", "a3", "a4"].map((name) => pacing.take("a").then((answered) => (order.push(name), answered()))));
    expect(order).toEqual(["a1", "a2", "a3", "a4"]);
  });

  it("does not hold another shop's send behind a shop that must wait", async () => {
    const { time, clock, sleep } = drivenClock();
    const pacing = new Pacing(1, clock, sleep);
    const a1 = await pacing.take("a");
    let a2At: number | null = null;
    const a2 = pacing.take("a").then((answered) => ((a2At = time.now), answered));
    (await pacing.take("b"))();
    expect(time.now).toBe(0);
    expect(a2At).toBeNull();
    a1();
    (await a2)();
    expect(a2At).toBe(WINDOW_MS + WINDOW_GUARD_MS);
  });
});

describe("Pacing's window rule", () => {
  it("holds the send `limit` places after an unanswered one until a window after its answer", async () => {
    const { time, clock, sleep } = drivenClock();
    const pacing = new Pacing(3, clock, sleep);
    const first = await pacing.take("s");
    const second = await pacing.take("s");
    const third = await pacing.take("s");
    expect(time.now).toBeCloseTo(1_000 / 3, 6);
    let fourthAt: number | null = null;
    const fourth = pacing.take("s").then((answered) => {
      fourthAt = time.now;
      return answered;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(fourthAt).toBeNull();
    time.now = 500;
    first();
    (await fourth)();
    expect(fourthAt).toBe(500 + WINDOW_MS + WINDOW_GUARD_MS);
    second();
    third();
  });

  it("counts a send as answered when it was first answered", async () => {
    const { time, clock, sleep } = drivenClock();
    const pacing = new Pacing(1, clock, sleep);
    const first = await pacing.take("s");
    time.now = 100;
    first();
    time.now = 900;
    first();
    (await pacing.take("s"))();
    expect(time.now).toBe(100 + WINDOW_MS + WINDOW_GUARD_MS);
  });

  it("keeps the window over a learned limit above the default", async () => {
    const { time, clock, sleep } = drivenClock();
    const pacing = new Pacing(2, clock, sleep);
    const answers = [await pacing.take("s")];
    answers[0]!({ limit: 4 });
    expect(pacing.budget("s")).toBe(4);
    for (let n = 0; n < 4; n++) answers.push(await pacing.take("s"));
    // The fifth send went a window after the first's answer; the sixth waits for the second's.
    expect(time.now).toBe(WINDOW_MS + WINDOW_GUARD_MS);
    let sixthAt: number | null = null;
    const sixth = pacing.take("s").then((answered) => ((sixthAt = time.now), answered));
    await new Promise((resolve) => setImmediate(resolve));
    expect(sixthAt).toBeNull();
    time.now = 1_500;
    answers[1]!();
    (await sixth)();
    expect(sixthAt).toBe(1_500 + WINDOW_MS + WINDOW_GUARD_MS);
  });
});

describe("Pacing's budget", () => {
  it("starts at the default limit and follows the limit Attentive reports, ignoring zero", async () => {
    const pacing = new Pacing(150, () => 0);
    expect(pacing.budget("s")).toBe(150);
    (await pacing.take("s"))({ limit: 0 });
    expect(pacing.budget("s")).toBe(150);
    (await pacing.take("s"))({ limit: 20 });
    expect(pacing.budget("s")).toBe(20);
    (await pacing.take("s"))({});
    expect(pacing.budget("s")).toBe(20);
    expect(pacing.budget("other")).toBe(150);
  });

  it("cuts the share by 30% per 429, to no less than 10%, and grows it back by half the limit per second", async () => {
    const { time, clock, sleep } = drivenClock();
    const pacing = new Pacing(100, clock, sleep);
    const answers = [];
    for (let n = 0; n < 12; n++) answers.push(await pacing.take("s"));
    time.now = 1_000;
    answers[0]!({ rateLimited: true });
    expect(pacing.budget("s")).toBe(70);
    time.now = 1_200;
    expect(pacing.budget("s")).toBe(80);
    answers[1]!({ rateLimited: true });
    // 0.8 × 0.7 of 100, rounded down (55 or 56 by floating point).
    expect(pacing.budget("s")).toBeGreaterThanOrEqual(55);
    expect(pacing.budget("s")).toBeLessThanOrEqual(56);
    for (const answered of answers.slice(2)) answered({ rateLimited: true });
    expect(pacing.budget("s")).toBe(10);
    time.now = 2_200;
    expect(pacing.budget("s")).toBe(60);
    time.now = 4_200;
    expect(pacing.budget("s")).toBe(100);
  });

  it("ignores a limit that is not a positive number", async () => {
    const pacing = new Pacing(150, () => 0);
    (await pacing.take("s"))({ limit: -5 });
    expect(pacing.budget("s")).toBe(150);
  });

  it("never falls below one send per window", async () => {
    const { clock, sleep } = drivenClock();
    const pacing = new Pacing(1, clock, sleep);
    (await pacing.take("s"))({ rateLimited: true });
    expect(pacing.budget("s")).toBe(1);
  });

  it("a 429 ignores x-ratelimit-remaining on the same answer", async () => {
    const pacing = new Pacing(100, () => 0);
    (await pacing.take("s"))({ rateLimited: true, remaining: 0 });
    expect(pacing.budget("s")).toBe(70);
  });
});

describe("Pacing and another client of the key", () => {
  it("leaves free what Attentive counted beyond this shop's own sends, for one window", async () => {
    const { time, clock } = drivenClock();
    const pacing = new Pacing(100, clock);
    (await pacing.take("s"))({ remaining: 40 });
    expect(pacing.budget("s")).toBe(41);
    time.now = WINDOW_MS;
    expect(pacing.budget("s")).toBe(41);
    time.now = WINDOW_MS + 1;
    expect(pacing.budget("s")).toBe(100);
  });

  it("counts this shop's sends answered within the window before, not older ones", async () => {
    const { time, clock } = drivenClock();
    const pacing = new Pacing(100, clock);
    (await pacing.take("s"))();
    time.now = 2_000;
    (await pacing.take("s"))();
    time.now = 2_500;
    // Sent at 2,500: the send answered at 2,000 may still count, the one answered at 0 cannot.
    (await pacing.take("s"))({ remaining: 50 });
    expect(pacing.budget("s")).toBe(100 - (100 - 50 - 2));
  });

  it("counts a send still in flight, and not one sent after this answer", async () => {
    const { time, clock } = drivenClock();
    const pacing = new Pacing(100, clock);
    const inFlight = await pacing.take("s");
    const answered = await pacing.take("s");
    const later = await pacing.take("s");
    time.now = 10;
    answered({ remaining: 50 });
    // Counted: in flight and this one (2); the third was sent at 0 too, so also counted; none sent after.
    expect(pacing.budget("s")).toBe(100 - (100 - 50 - 3));
    inFlight();
    later();
  });

  it("counts its own send answered just inside the window before, and not one answered exactly at its start", async () => {
    const { time, clock } = drivenClock();
    const inside = new Pacing(100, clock);
    (await inside.take("s"))();
    time.now = WINDOW_MS + 5;
    (await inside.take("s"))({ remaining: 50 });
    // The window before reaches back 1,010 ms: the send answered at 0 may still be counted by Attentive.
    expect(inside.budget("s")).toBe(100 - (100 - 50 - 2));
    time.now = 0;
    const edge = new Pacing(100, clock);
    (await edge.take("s"))();
    time.now = WINDOW_MS + WINDOW_GUARD_MS;
    (await edge.take("s"))({ remaining: 50 });
    expect(edge.budget("s")).toBe(100 - (100 - 50 - 1));
  });

  it("counts its own send in flight late in the run too", async () => {
    const { time, clock } = drivenClock();
    const pacing = new Pacing(100, clock);
    time.now = 5_000;
    const inFlight = await pacing.take("s");
    const answered = await pacing.take("s");
    time.now = 5_010;
    answered({ remaining: 50 });
    expect(pacing.budget("s")).toBe(100 - (100 - 50 - 2));
    inFlight();
  });

  it("refreshes an equal share within half a window, so it stays free a window from then", async () => {
    const { time, clock } = drivenClock();
    const pacing = new Pacing(100, clock);
    (await pacing.take("s"))({ remaining: 49 });
    time.now = 300;
    (await pacing.take("s"))({ remaining: 48 });
    time.now = 1_200;
    expect(pacing.budget("s")).toBe(50);
  });

  it("keeps a larger share for exactly half a window, counted from when it was seen", async () => {
    const { time, clock } = drivenClock();
    const atHalf = new Pacing(100, clock);
    (await atHalf.take("s"))({ remaining: 40 });
    time.now = WINDOW_MS / 2;
    (await atHalf.take("s"))({ remaining: 90 });
    expect(atHalf.budget("s")).toBe(41);
    time.now = 300;
    const late = new Pacing(100, clock);
    (await late.take("s"))({ remaining: 40 });
    time.now = 400;
    (await late.take("s"))({ remaining: 90 });
    expect(late.budget("s")).toBe(41);
  });

  it("never counts less than nothing for the other client", async () => {
    const pacing = new Pacing(100, () => 0);
    (await pacing.take("s"))({ remaining: 100 });
    expect(pacing.budget("s")).toBe(100);
  });

  it("takes a larger share in at once and a smaller one only after half a window", async () => {
    const { time, clock } = drivenClock();
    const pacing = new Pacing(100, clock);
    (await pacing.take("s"))({ remaining: 40 });
    expect(pacing.budget("s")).toBe(41);
    time.now = 400;
    (await pacing.take("s"))({ remaining: 90 });
    expect(pacing.budget("s")).toBe(41);
    time.now = 450;
    (await pacing.take("s"))({ remaining: 20 });
    expect(pacing.budget("s")).toBe(100 - (100 - 20 - 3));
    time.now = 951;
    (await pacing.take("s"))({ remaining: 90 });
    expect(pacing.budget("s")).toBe(100 - (100 - 90 - 4));
  });

  it("replaces an equal share's age, so it is left free a window from when it was last seen", async () => {
    const { time, clock } = drivenClock();
    const pacing = new Pacing(100, clock);
    (await pacing.take("s"))({ remaining: 49 });
    expect(pacing.budget("s")).toBe(50);
    time.now = 800;
    (await pacing.take("s"))({ remaining: 48 });
    expect(pacing.budget("s")).toBe(50);
    time.now = 1_700;
    expect(pacing.budget("s")).toBe(50);
  });
});

describe("Pacing's memory of shops", () => {
  it("forgets a shop idle for over a minute once more than 1,000 shops are known", async () => {
    const { time, clock } = drivenClock();
    const pacing = new Pacing(150, clock);
    (await pacing.take("learned"))({ limit: 5 });
    (await pacing.take("busy"))();
    for (let n = 0; n < 1_000; n++) (await pacing.take(`shop-${n}`))();
    time.now = 60_000;
    (await pacing.take("busy"))({ limit: 7 });
    (await pacing.take("trigger"))();
    expect(pacing.budget("learned")).toBe(5);
    time.now = 60_001;
    (await pacing.take("trigger-2"))();
    expect(pacing.budget("learned")).toBe(150);
    expect(pacing.budget("busy")).toBe(7);
    (await pacing.take("learned"))({ limit: 5 });
    expect(pacing.budget("learned")).toBe(5);
  });

  it("keeps every shop while no more than 1,000 are known", async () => {
    const { time, clock } = drivenClock();
    const pacing = new Pacing(150, clock);
    (await pacing.take("learned"))({ limit: 5 });
    for (let n = 0; n < 999; n++) (await pacing.take(`shop-${n}`))();
    time.now = 100_000;
    (await pacing.take("shop-0"))();
    expect(pacing.budget("learned")).toBe(5);
  });

  it("keeps a shop whose send is waiting for its turn", async () => {
    const { time, clock } = drivenClock();
    let wake: () => void = () => {};
    const sleep = (ms: number) => new Promise<void>((resolve) => (wake = () => ((time.now = Math.max(time.now, ms)), resolve())));
    const pacing = new Pacing(2, clock, sleep);
    (await pacing.take("waiting"))({ limit: 1 });
    const second = pacing.take("waiting");
    await new Promise((resolve) => setImmediate(resolve));
    for (let n = 0; n < 1_001; n++) (await pacing.take(`shop-${n}`))();
    time.now = 100_000;
    (await pacing.take("trigger"))();
    expect(pacing.budget("waiting")).toBe(1);
    wake();
    (await second)();
  });
});
