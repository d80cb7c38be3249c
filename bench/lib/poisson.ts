/**
 * Open-loop load with Poisson arrivals, for every latency figure of the bench (autocannon stays for maximum
 * throughput). Arrival times are drawn up front from a seeded generator (exponential gaps at the target rate),
 * and each request is sent at its time whether or not earlier ones have been answered. Latency runs from the
 * *scheduled* time: a request that went out late (the bench's own event loop was busy) or waited for a socket
 * is charged for the wait, so a stalled server cannot hide behind requests that were never sent
 * (coordinated omission).
 *
 * This module imports nothing from the bench's plumbing (which makes a scratch folder on import), so its unit
 * tests can load it alone.
 */
import { Agent, request as httpRequest } from "node:http";
import { performance } from "node:perf_hooks";
import type { LoadResult, SignedRequest } from "./load";
import { seededRandom } from "../../test/support/seeded-random";
import { ms, perSec } from "./report";

// The reliability suites' seeded generator (mulberry32): the same seed gives the same schedule.
export { seededRandom };

/** Send times in ms from the start, exponential gaps of mean 1000 / rate, up to (not including) durationS. */
export function poissonArrivals(ratePerSec: number, durationS: number, seed: number): number[] {
  if (!(ratePerSec > 0) || !(durationS > 0)) throw new Error("poissonArrivals needs a positive rate and duration");
  const random = seededRandom(seed);
  const meanGapMs = 1000 / ratePerSec;
  const endMs = durationS * 1000;
  const arrivals: number[] = [];
  // 1 - u is in (0, 1], so the log is finite.
  for (let at = -Math.log(1 - random()) * meanGapMs; at < endMs; at += -Math.log(1 - random()) * meanGapMs) arrivals.push(at);
  return arrivals;
}

export interface PoissonOptions {
  url: string;
  path?: string;
  /** Mean requests per second. */
  rate: number;
  durationS: number;
  next: () => SignedRequest;
  target: string;
  seed?: number;
  /** Keep-alive sockets the generator may open; a request beyond them queues, its clock already running. */
  maxSockets?: number;
  /** From the scheduled time; past it the request is abandoned and counted as a timeout. */
  timeoutS?: number;
  /** Sends no more requests once this settles (the run then ends when those sent are answered): a load beside a job. */
  stopWhen?: Promise<unknown>;
}

export interface PoissonResult extends LoadResult {
  arrivals: "poisson";
  seed: number;
  p90: number;
  /**
   * From the first answer to the last (at least durationS): accepted/s is ok over this. A server that keeps up
   * answers over the schedule's span, shifted by its latency (ok / durationS); one that cannot builds a backlog and
   * answers over longer (its capacity).
   */
  windowS: number;
  /** How late the generator itself sent requests (its event loop or timers): large values mean the bench, not the app, was late. */
  sendLagP99: number;
  sendLagMax: number;
  maxInFlight: number;
  /** With stopWhen: the seconds after which it stopped sending, when that came before the schedule's end. */
  stoppedAfterS?: number;
  /** CPU ms of the process running the generator (the bench) over the run: signing, sending, reading answers. */
  generatorCpuMs: number;
  /** Every latency in ms, in scheduled order (NaN for a request that got no answer). */
  latencies?: number[];
  /** With `latencies`: each request's HTTP status, in the same order (0 for no answer). */
  statuses?: number[];
}

/** Nearest-rank percentile of sorted values. */
function rank(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * Runs one open-loop load and resolves when every scheduled request has been answered, failed or timed out.
 * `keepLatencies` puts the per-request latencies in the result (tests; the bench's JSON would grow too much).
 */
export async function runPoisson(options: PoissonOptions & { keepLatencies?: boolean }): Promise<PoissonResult> {
  const seed = options.seed ?? 1;
  const arrivals = poissonArrivals(options.rate, options.durationS, seed);
  const timeoutMs = (options.timeoutS ?? 10) * 1000;
  const target = new URL(options.path ?? "/webhooks/commerce", options.url);
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 1024 });
  const latencies = new Array<number>(arrivals.length).fill(NaN);
  const statuses = new Array<number>(arrivals.length).fill(0);
  const lags: number[] = [];
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let timeouts = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let firstAnswer = NaN;
  let lastAnswer = 0;
  let settledCount = 0;

  let resolveAll!: () => void;
  const allSettled = new Promise<void>((resolve) => (resolveAll = resolve));
  // How many of the schedule's requests are sent: all of them, unless stopWhen cuts the schedule short.
  let total = arrivals.length;
  const settled = () => {
    inFlight--;
    lastAnswer = performance.now();
    if (Number.isNaN(firstAnswer)) firstAnswer = lastAnswer;
    if (++settledCount === total) resolveAll();
  };

  const send = (index: number, scheduledAt: number) => {
    const { body, headers } = options.next();
    const payload = Buffer.from(body, "utf8");
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let done = false;
    const finish = (outcome: "ok" | "non2xx" | "error" | "timeout") => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      if (outcome === "ok" || outcome === "non2xx") latencies[index] = performance.now() - scheduledAt;
      if (outcome === "ok") ok++;
      else if (outcome === "non2xx") non2xx++;
      else if (outcome === "error") errors++;
      else timeouts++;
      settled();
    };
    const outgoing = httpRequest(target, { method: "POST", agent, headers: { ...headers, "content-length": String(payload.length) } }, (response) => {
      const status = response.statusCode ?? 0;
      statuses[index] = status;
      response.on("error", () => finish("error"));
      response.on("end", () => finish(status >= 200 && status < 300 ? "ok" : "non2xx"));
      response.resume();
    });
    // The deadline counts from the scheduled time, like the latency.
    const deadline = setTimeout(() => {
      finish("timeout");
      outgoing.destroy();
    }, Math.max(0, scheduledAt + timeoutMs - performance.now()));
    outgoing.on("error", () => finish("error"));
    outgoing.end(payload);
  };

  if (arrivals.length === 0) resolveAll();
  let stoppedAt: number | undefined;
  const stop = () => {
    if (stoppedAt !== undefined || nextIndex >= total) return;
    stoppedAt = performance.now();
    total = nextIndex;
    if (settledCount === total) resolveAll();
  };
  options.stopWhen?.then(stop, stop);
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  let nextIndex = 0;
  const dispatch = () => {
    const now = performance.now();
    // Every request whose time has come goes now, in order; none waits for an answer.
    while (nextIndex < total && start + arrivals[nextIndex]! <= now) {
      const scheduledAt = start + arrivals[nextIndex]!;
      lags.push(now - scheduledAt);
      send(nextIndex, scheduledAt);
      nextIndex++;
    }
    if (nextIndex < total) setTimeout(dispatch, Math.max(0, start + arrivals[nextIndex]! - performance.now()));
  };
  dispatch();
  await allSettled;
  agent.destroy();
  const cpu = process.cpuUsage(cpuBefore);

  // A run cut short lasted until it stopped sending; its figures are those of the requests sent.
  const durationS = stoppedAt === undefined ? options.durationS : (stoppedAt - start) / 1000;
  latencies.length = total;
  statuses.length = total;
  const windowS = Math.max(durationS, (lastAnswer - firstAnswer) / 1000 || 0);
  const answered = latencies.filter((value) => !Number.isNaN(value)).sort((a, b) => a - b);
  const sortedLags = lags.sort((a, b) => a - b);
  const round1 = (value: number) => (Number.isFinite(value) ? Math.round(value * 10) / 10 : value);
  return {
    target: options.target,
    arrivals: "poisson",
    seed,
    rate: options.rate,
    durationS: options.durationS,
    ...(stoppedAt === undefined ? {} : { stoppedAfterS: round1(durationS) }),
    windowS: round1(windowS),
    sent: total,
    ok,
    acceptedPerSec: Math.round(ok / windowS),
    p50: round1(rank(answered, 50)),
    p90: round1(rank(answered, 90)),
    p99: round1(rank(answered, 99)),
    max: round1(answered.length > 0 ? answered[answered.length - 1]! : NaN),
    non2xx,
    errors,
    timeouts,
    sendLagP99: round1(rank(sortedLags, 99)),
    sendLagMax: round1(sortedLags.length > 0 ? sortedLags[sortedLags.length - 1]! : NaN),
    maxInFlight,
    generatorCpuMs: Math.round((cpu.user + cpu.system) / 1000),
    ...(options.keepLatencies ? { latencies, statuses } : {}),
  };
}

/**
 * p50 / p99 / max of the requests scheduled at `fromMs` or later (from the run's start), and before `untilMs` when
 * given, from a run that kept its latencies: a server's figures once its first seconds (V8 compiling the hot code)
 * are behind it, or while something else ran beside it. A request with no answer counts as the slowest.
 */
export function latencyFrom(run: PoissonResult, fromMs: number, untilMs = Infinity): { count: number; p50: number; p99: number; max: number } {
  if (!run.latencies) throw new Error("latencyFrom needs a run with keepLatencies");
  if (typeof run.rate !== "number") throw new Error("latencyFrom needs a fixed-rate run");
  const arrivals = poissonArrivals(run.rate, run.durationS, run.seed);
  const kept = run.latencies.filter((_, i) => arrivals[i]! >= fromMs && arrivals[i]! < untilMs).map((value) => (Number.isNaN(value) ? Infinity : value));
  const sorted = kept.sort((a, b) => a - b);
  const round1 = (value: number) => (Number.isFinite(value) ? Math.round(value * 10) / 10 : value);
  return { count: sorted.length, p50: round1(rank(sorted, 50)), p99: round1(rank(sorted, 99)), max: round1(sorted.at(-1) ?? NaN) };
}

/**
 * A table cell for one run: accepted/s, p50 / p90 / p99 / max, failures, and how late the generator itself sent
 * (when that is near the latencies, the bench process was short of CPU and the figure says little about the server).
 */
export function openLoopText(run: PoissonResult): string {
  const failures = run.errors + run.timeouts;
  // A non-2xx from the app is a refusal Shopify retries (503 past INGEST_MAX_WAITING, decision 034), not a lost request.
  const refused = run.non2xx > 0 ? `${run.non2xx} answered non-2xx, ` : "";
  return `${perSec(run.acceptedPerSec)}, ${ms(run.p50)} / ${ms(run.p90)} / ${ms(run.p99)} / ${ms(run.max)}, ${refused}${failures} errors (sends late by p99 ${ms(run.sendLagP99)})`;
}
