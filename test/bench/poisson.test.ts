import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { latencyFrom, poissonArrivals, runPoisson, seededRandom, type PoissonResult } from "../../bench/lib/poisson";

const request = () => ({ body: "{}", headers: { "content-type": "application/json" } });

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("the Poisson schedule", () => {
  it("has exponential gaps with the rate's mean, the same for the same seed", () => {
    const arrivals = poissonArrivals(1000, 200, 42);
    const gaps = arrivals.map((at, i) => at - (i === 0 ? 0 : arrivals[i - 1]!));
    const mean = gaps.reduce((sum, gap) => sum + gap, 0) / gaps.length;
    const sd = Math.sqrt(gaps.reduce((sum, gap) => sum + (gap - mean) ** 2, 0) / gaps.length);
    expect(gaps.length).toBeGreaterThan(190_000);
    expect(Math.abs(mean - 1) / 1).toBeLessThan(0.02);
    // Exponential: standard deviation equal to the mean and P(gap > mean) = 1/e (fixed or uniform gaps fail both).
    expect(Math.abs(sd / mean - 1)).toBeLessThan(0.03);
    expect(Math.abs(gaps.filter((gap) => gap > mean).length / gaps.length - Math.exp(-1))).toBeLessThan(0.01);
    expect(arrivals.every((at, i) => i === 0 || at > arrivals[i - 1]!)).toBe(true);
    expect(arrivals[arrivals.length - 1]!).toBeLessThan(200_000);
    expect(poissonArrivals(1000, 200, 42)).toEqual(arrivals);
    expect(poissonArrivals(1000, 1, 43).slice(0, 10)).not.toEqual(arrivals.slice(0, 10));
  });

  it("gives the latency of the requests scheduled from a time on, counting one with no answer as the slowest", () => {
    const arrivals = poissonArrivals(100, 4, 9);
    // Slow in the first second, then 5 ms, except one late request with no answer and one at 7 ms.
    const latencies: number[] = arrivals.map((at) => (at < 1000 ? 100 : 5));
    const lastIndex = latencies.length - 1;
    latencies[lastIndex - 1] = 7;
    const run = { rate: 100, durationS: 4, seed: 9, latencies } as unknown as PoissonResult;
    const warm = latencyFrom(run, 1000);
    expect(warm.count).toBe(arrivals.filter((at) => at >= 1000).length);
    expect(warm).toMatchObject({ p50: 5, max: 7 });
    expect(latencyFrom(run, 0)).toMatchObject({ count: arrivals.length, max: 100 });
    latencies[lastIndex] = NaN;
    expect(latencyFrom(run, 1000).max).toBe(Infinity);
    expect(() => latencyFrom({ ...run, latencies: undefined } as PoissonResult, 0)).toThrow(/keepLatencies/);
  });

  it("gives the latency of the requests scheduled within a window, when given its end", () => {
    const arrivals = poissonArrivals(100, 4, 9);
    // 50 ms in the second second (while a job ran beside the load), 5 ms otherwise.
    const latencies = arrivals.map((at) => (at >= 1000 && at < 2000 ? 50 : 5));
    const run = { rate: 100, durationS: 4, seed: 9, latencies } as unknown as PoissonResult;
    const within = latencyFrom(run, 1000, 2000);
    expect(within).toMatchObject({ count: arrivals.filter((at) => at >= 1000 && at < 2000).length, p50: 50, max: 50 });
    expect(latencyFrom(run, 2000)).toMatchObject({ max: 5 });
  });

  it("draws uniform numbers in [0, 1)", () => {
    const random = seededRandom(7);
    const draws = Array.from({ length: 100_000 }, () => random());
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThan(1);
    expect(Math.abs(draws.reduce((sum, x) => sum + x, 0) / draws.length - 0.5)).toBeLessThan(0.01);
  });
});

describe("runPoisson", () => {
  it("sends every request on schedule while none has been answered", async () => {
    const rate = 200;
    const durationS = 0.5;
    const seed = 3;
    const expected = poissonArrivals(rate, durationS, seed).length;
    const held: ServerResponse[] = [];
    // Answers nothing until every scheduled request has arrived: a generator that waits for answers never gets there.
    const url = await listen((req, res) => {
      req.resume();
      req.on("end", () => {
        held.push(res);
        if (held.length === expected) for (const response of held) response.writeHead(200).end();
      });
    });
    const result = await runPoisson({ url, rate, durationS, seed, next: request, target: "held", keepLatencies: true });
    expect(result.sent).toBe(expected);
    expect(result.ok).toBe(expected);
    expect(result.maxInFlight).toBe(expected);
    const arrivals = poissonArrivals(rate, durationS, seed);
    const last = arrivals[arrivals.length - 1]!;
    // Each answer came after the last request was sent, so each latency covers the time to the last arrival.
    result.latencies!.forEach((latency, i) => expect(latency).toBeGreaterThanOrEqual(last - arrivals[i]! - 0.5));
  });

  it("counts a request that waits for a socket from its scheduled time", async () => {
    let open = 0;
    let most = 0;
    // One answer at a time, each after 20 ms: with one socket the i-th answer cannot come before (i + 1) × 20 ms.
    const url = await listen((req, res) => {
      open++;
      most = Math.max(most, open);
      req.resume();
      req.on("end", () =>
        setTimeout(() => {
          open--;
          res.writeHead(200).end();
        }, 20),
      );
    });
    const rate = 1000;
    const durationS = 0.03;
    const seed = 5;
    const arrivals = poissonArrivals(rate, durationS, seed);
    const result = await runPoisson({ url, rate, durationS, seed, next: request, target: "one socket", maxSockets: 1, keepLatencies: true });
    expect(most).toBe(1);
    expect(result.ok).toBe(arrivals.length);
    expect(arrivals.length).toBeGreaterThan(10);
    result.latencies!.forEach((latency, i) => expect(latency).toBeGreaterThanOrEqual(arrivals[0]! + (i + 1) * 19 - arrivals[i]!));
    expect(result.p99).toBeGreaterThanOrEqual(arrivals.length * 19 - durationS * 1000);
  });

  it("reports a saturated server's capacity as accepted/s, not the rate offered", async () => {
    const queue: ServerResponse[] = [];
    let busy = false;
    // One answer every 20 ms at most, in arrival order: about 50/s (60 leaves room for timers firing a little early).
    const answerNext = () => {
      const next = queue.shift();
      if (!next) {
        busy = false;
        return;
      }
      busy = true;
      setTimeout(() => {
        next.writeHead(200).end();
        answerNext();
      }, 20);
    };
    const url = await listen((req, res) => {
      req.resume();
      req.on("end", () => {
        queue.push(res);
        if (!busy) answerNext();
      });
    });
    const result = await runPoisson({ url, rate: 200, durationS: 0.5, seed: 11, next: request, target: "saturated" });
    expect(result.ok).toBe(result.sent);
    expect(result.sent).toBeGreaterThan(80);
    expect(result.acceptedPerSec).toBeLessThanOrEqual(60);
    expect(result.windowS).toBeGreaterThan(1);
  });

  it("counts refusals and non-2xx answers apart from accepted requests", async () => {
    let n = 0;
    const url = await listen((req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(n++ % 2 === 0 ? 200 : 503).end());
    });
    const result = await runPoisson({ url, rate: 500, durationS: 0.1, seed: 9, next: request, target: "mixed" });
    expect(result.ok + result.non2xx).toBe(result.sent);
    expect(result.ok).toBe(Math.ceil(result.sent / 2));
    expect(result.errors).toBe(0);
  });

  it("stops sending when stopWhen settles, and reports only the requests it sent", async () => {
    const rate = 200;
    const durationS = 5;
    const scheduled = poissonArrivals(rate, durationS, 5).length;
    let received = 0;
    let tenth!: () => void;
    const tenReceived = new Promise<void>((resolve) => (tenth = resolve));
    const url = await listen((req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(200).end();
        if (++received === 10) tenth();
      });
    });
    const result = await runPoisson({ url, rate, durationS, seed: 5, next: request, target: "stopped", keepLatencies: true, stopWhen: tenReceived });
    expect(result.sent).toBeGreaterThanOrEqual(10);
    expect(result.sent).toBeLessThan(scheduled / 2);
    expect(result.ok).toBe(result.sent);
    expect(received).toBe(result.sent);
    expect(result.latencies).toHaveLength(result.sent);
    expect(result.latencies!.every((latency) => Number.isFinite(latency))).toBe(true);
    expect(result.stoppedAfterS).toBeLessThan(durationS);
    // Its figures come from the requests sent: none counted as unanswered.
    expect(latencyFrom(result, 0).max).toBeLessThan(Infinity);
  });

  it("runs its whole schedule when stopWhen settles only after it, and ignores a rejection's reason", async () => {
    const url = await listen((req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(200).end());
    });
    let fail!: (error: Error) => void;
    const never = new Promise<void>((_, reject) => (fail = reject));
    const result = await runPoisson({ url, rate: 500, durationS: 0.1, seed: 2, next: request, target: "whole", stopWhen: never });
    fail(new Error("the job beside the load failed"));
    expect(result.sent).toBe(poissonArrivals(500, 0.1, 2).length);
    expect(result.stoppedAfterS).toBeUndefined();
  });
});
