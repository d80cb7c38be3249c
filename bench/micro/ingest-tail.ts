/**
 * Where ingest's slow webhooks come from: open-loop Poisson arrivals of signed 15.7 KB orders for ten shops at
 * `rate`/s for `seconds` (after a warm-up at the same rate), against `npm start`'s server on SQLite with the embedded
 * worker off (scenario 1's set-up), with V8's GC trace on. Reports p50/p90/p99/max, then each stretch of time in
 * which webhooks took `slowMs` or more (when they were sent, how many, the longest), and the collections whose pause
 * was 5 ms or more, on the same clock (ms from the measured run's start; a collection's time is read from the trace,
 * which counts from the isolate's start, so it is placed within a few ms). Uses the build `npm run bench` made last.
 *
 * node --import tsx bench/micro/ingest-tail.ts [rate=1000] [seconds=20] [slowMs=25] [--cold] [--inline] [--env=NAME=value ...]
 *
 * `--cold` leaves out the warm-up, as the bench's scenarios do: the run starts as soon as the server answers.
 *
 * `--inline` runs scenario 2's "ours" instead: the embedded worker on, sending each webhook's event to an Attentive
 * stand-in that answers in 300 ms, on the event loop that answers the webhooks (use rate 500, as scenario 2 does).
 *
 * `--env=NAME=value` sets the app's environment, e.g. `--env=SQLITE_CHECKPOINTS=writer` to see whether the tail
 * moves with the checkpoints, or `--env=NODE_OPTIONS=--max-old-space-size=320`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { APP_SECRET, ENCRYPTION_KEY, startApp } from "../lib/app";
import { ROOT, SCRATCH } from "../lib/common";
import { createDatabase, seedShops, shopsFor } from "../lib/db";
import { orderWebhooks } from "../lib/load";
import { poissonArrivals, runPoisson } from "../lib/poisson";
import { startStandIn, type StandInHandle } from "../lib/standin";

const args = process.argv.slice(2).filter((arg) => !arg.startsWith("--"));
const rate = Number(args[0] ?? 1000);
const seconds = Number(args[1] ?? 20);
const slowMs = Number(args[2] ?? 25);
const extraEnv: Record<string, string> = Object.fromEntries(
  process.argv
    .filter((arg) => arg.startsWith("--env="))
    .map((arg) => {
      const pair = arg.slice("--env=".length);
      const at = pair.indexOf("=");
      if (at < 1) throw new Error(`--env needs NAME=value (got "${pair}")`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
);
const SEED = 7;
const inline = process.argv.includes("--inline");
const warmUp = !process.argv.includes("--cold");

const shops = shopsFor(10, "ingest-tail");
const domains = shops.map((shop) => shop.domain);
const db = await createDatabase("sqlite", "ingest-tail");
const standIn: StandInHandle | null = inline ? await startStandIn({ keys: shops.map((shop) => shop.apiKey), rateLimitPerSecond: 100_000, latencyMs: 300 }) : null;
const name = `app-ingest-tail-${process.pid}`;
try {
  await seedShops(db, shops, ENCRYPTION_KEY);
  const app = await startApp({
    databaseUrl: db.url,
    attentiveUrl: standIn?.graphqlUrl ?? "http://127.0.0.1:9/v1/graphql",
    worker: inline ? "embedded" : "off",
    name,
    env: { LOG_LEVEL: "debug", ...extraEnv },
    imports: [join(ROOT, "bench", "servers", "gc-log.mjs")],
  });
  let runStart = 0;
  let latencies: number[] = [];
  try {
    const next = orderWebhooks(domains, APP_SECRET);
    if (warmUp) await runPoisson({ url: app.url, rate, durationS: Math.max(3, seconds / 3), seed: 1, next, target: "warm-up", maxSockets: 1024 });
    runStart = performance.timeOrigin + performance.now();
    const run = await runPoisson({ url: app.url, rate, durationS: seconds, seed: SEED, next, target: "measured", maxSockets: 1024, keepLatencies: true });
    latencies = run.latencies ?? [];
    console.log(JSON.stringify({ rate, seconds, env: extraEnv, ok: run.ok, p50: run.p50, p90: run.p90, p99: run.p99, max: run.max, sendLagP99: run.sendLagP99 }));
  } finally {
    await app.stop();
  }

  // Stretches of slow webhooks: slow ones sent within 20 ms of each other are one stretch. A webhook with no answer
  // (NaN: an error or the generator's timeout) counts as the slowest.
  latencies = latencies.map((latency) => (Number.isNaN(latency) ? Infinity : latency));
  const arrivals = poissonArrivals(rate, seconds, SEED);
  const stretches: Array<{ fromMs: number; toMs: number; count: number; longestMs: number }> = [];
  arrivals.forEach((at, i) => {
    const latency = latencies[i] ?? Infinity;
    if (latency < slowMs) return;
    const last = stretches.at(-1);
    if (last && at - last.toMs <= 20) {
      last.toMs = at;
      last.count++;
      last.longestMs = Math.max(last.longestMs, latency);
    } else stretches.push({ fromMs: at, toMs: at, count: 1, longestMs: latency });
  });
  const slow = latencies.filter((latency) => latency >= slowMs).length;
  console.log(`${slow} of ${latencies.length} webhooks took ${slowMs} ms or more, in ${stretches.length} stretches:`);
  for (const s of stretches) console.log(`  ${s.fromMs.toFixed(0)}–${s.toMs.toFixed(0)} ms: ${s.count}, longest ${s.longestMs.toFixed(1)} ms`);

  // The app's log: the main thread's collections (gc-log.mjs) and, at LOG_LEVEL=debug, each WAL checkpoint the writer
  // thread reports (when its report arrived: just after the checkpoint ended).
  const near = (at: number) => stretches.find((s) => at > s.fromMs - 80 && at < s.toMs + 10);
  const events: Array<{ at: number; text: string }> = [];
  let collections = 0;
  let pausedMs = 0;
  for (const line of readFileSync(join(SCRATCH, `${name}.log`), "utf8").split("\n")) {
    const gc = /^gc ([\d.]+) (\S+) ([\d.]+)$/.exec(line);
    if (gc) {
      const at = Number(gc[1]) - runStart;
      if (at < 0 || at > seconds * 1000 + 1000) continue;
      const pause = Number(gc[3]);
      collections++;
      pausedMs += pause;
      if (pause >= 5 || (pause >= 1 && near(at))) events.push({ at, text: `collection (${gc[2]}), ${pause} ms` });
      continue;
    }
    if (!line.includes('"SQLite WAL checkpoint"')) continue;
    const entry = JSON.parse(line) as { time: number; kind: string; walPages: number; checkpointedPages: number; ms: number; busy: boolean };
    const at = entry.time - runStart;
    if (at < 0 || at > seconds * 1000 + 1000) continue;
    const copied = entry.busy ? "met a lock" : `${entry.checkpointedPages} of ${entry.walPages} pages copied`;
    events.push({ at, text: `${entry.kind} (${copied}), ${entry.ms.toFixed(1)} ms` });
  }
  console.log(`${collections} collections in the run, ${pausedMs.toFixed(0)} ms paused in all`);
  console.log("collections of 5 ms or more (1 ms or more near a stretch) and WAL checkpoints; * = just before or in a stretch:");
  for (const event of events.sort((a, b) => a.at - b.at)) console.log(`  ${near(event.at) ? "*" : " "} ${event.at.toFixed(0)} ms: ${event.text}`);
} finally {
  await standIn?.stop();
  await db.drop();
}
