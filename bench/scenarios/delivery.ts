/**
 * Scenario 4: delivery throughput of one standalone worker (`npm run cli -- worker`) on a queue pre-loaded in
 * the database (SQLite, as the embedded default).
 *  a) one shop, the stand-in enforcing 150 requests/s per key: sustained rate, 429s after the first second;
 *  b) fifty shops, the stand-in answering in 50 ms: events/s.
 */
import { log, sleep } from "../lib/common";
import { ENCRYPTION_KEY, startWorker } from "../lib/app";
import { type BenchDb, createDatabase, preloadDeliveries, type Provider, seedShops, shopsFor } from "../lib/db";
import { ORDER_BODY } from "../lib/load";
import { goal, perSec, type ScenarioContext } from "../lib/report";
import { type StandInHandle, startStandIn } from "../lib/standin";

export interface DeliveryRun {
  shops: number;
  preloaded: number;
  windowS: number;
  sent: number;
  perSec: number;
  requests: number;
  /** Requests the stand-in refused (429), over the whole run. */
  rejected: number;
  attempts429AfterFirstSecond: number;
  duplicates: number;
}

/** Events/s at the stand-in between the first request + 1 s and the last moment of the run. */
export function rateAfterFirstSecond(events: Array<[string, number]>, endMs: number): { count: number; windowS: number; firstMs: number } {
  const times = events.map(([, at]) => at).sort((a, b) => a - b);
  const firstMs = times[0] ?? endMs;
  const from = firstMs + 1000;
  const count = times.filter((at) => at >= from && at <= endMs).length;
  return { count, windowS: Math.max(0.001, (endMs - from) / 1000), firstMs };
}

export async function measureWorkers(
  db: BenchDb,
  standIn: StandInHandle,
  workers: number,
  runS: number,
  name: string,
): Promise<{ sent: number; perSec: number; windowS: number; requests: number; firstMs: number; duplicates: number; events: Array<[string, number]> }> {
  const started = Array.from({ length: workers }, (_, i) => startWorker({ databaseUrl: db.url, attentiveUrl: standIn.graphqlUrl, name: `${name}-${i}` }));
  try {
    // Workers need a moment to boot (tsx); the clock starts at the first request the stand-in sees.
    let first = 0;
    for (let i = 0; i < 150 && first === 0; i++) {
      await sleep(100);
      if ((await standIn.stats()).requests > 0) first = Date.now();
    }
    await sleep(runS * 1000);
  } finally {
    await Promise.all(started.map((worker) => worker.stop()));
  }
  const stats = await standIn.stats();
  const end = Math.max(...stats.events.map(([, at]) => at), 0);
  const { count, windowS, firstMs } = rateAfterFirstSecond(stats.events, end);
  const ids = stats.events.map(([id]) => id);
  return { sent: stats.events.length, perSec: count / windowS, windowS, requests: stats.requests, firstMs, duplicates: ids.length - new Set(ids).size, events: stats.events };
}

/** What one run measured, with the 429 attempts the worker logged after the first second. */
async function summarize(db: BenchDb, run: Awaited<ReturnType<typeof measureWorkers>>, shops: number, preloaded: number): Promise<DeliveryRun> {
  const since = new Date(run.firstMs + 1000);
  const attempts429 = await db.count(`SELECT count(*) AS n FROM "DeliveryAttempt" WHERE "httpStatus" = 429 AND "startedAt" >= ?`, [since]);
  return {
    shops,
    preloaded,
    windowS: run.windowS,
    sent: run.sent,
    perSec: run.perSec,
    requests: run.requests,
    rejected: run.requests - run.sent,
    attempts429AfterFirstSecond: attempts429,
    duplicates: run.duplicates,
  };
}

export async function deliveryScenario(ctx: ScenarioContext, provider: Provider = "sqlite"): Promise<void> {
  const runS = ctx.quick ? 3 : 12;
  const results: Record<string, DeliveryRun> = {};

  // a) one shop at Attentive's 150/s.
  {
    const shops = shopsFor(1, "rate");
    const standIn = await startStandIn({ keys: shops.map((s) => s.apiKey), rateLimitPerSecond: 150 });
    const db = await createDatabase(provider, "delivery1");
    try {
      const mappings = await seedShops(db, shops, ENCRYPTION_KEY);
      const preloaded = await preloadDeliveries(db, mappings, Math.ceil(150 * (runS + 6) * 1.3), ORDER_BODY);
      log(`delivery: one shop, 150/s limit, ${preloaded} queued`);
      const run = await measureWorkers(db, standIn, 1, runS, "worker-rate");
      results.oneShop = await summarize(db, run, 1, preloaded);
      const attempts429 = results.oneShop.attempts429AfterFirstSecond;
      goal(ctx, {
        scenario: "4 Delivery, 1 shop",
        measure: "sustained events/s at 150/s per key; 429s after 1st s",
        ours: `${perSec(run.perSec)}; ${attempts429} × 429 (stand-in refused ${run.requests - run.sent} of ${run.requests} requests)`,
        reference: "Attentive limit 150/s",
        goal: ">= 140/s, no 429 after the first second",
        met: run.perSec >= 140 && attempts429 === 0,
      });
    } finally {
      await standIn.stop();
      await db.drop();
    }
  }

  // b) fifty shops, 50 ms answers.
  {
    const shops = shopsFor(50, "fifty");
    const standIn = await startStandIn({ keys: shops.map((s) => s.apiKey), rateLimitPerSecond: 150, latencyMs: 50 });
    const db = await createDatabase(provider, "delivery50");
    try {
      const mappings = await seedShops(db, shops, ENCRYPTION_KEY);
      const preloaded = await preloadDeliveries(db, mappings, ctx.quick ? 80 : 300, ORDER_BODY);
      log(`delivery: fifty shops, Attentive 50 ms, ${preloaded} queued`);
      const run = await measureWorkers(db, standIn, 1, runS, "worker-fifty");
      results.fiftyShops = await summarize(db, run, 50, preloaded);
      goal(ctx, {
        scenario: "4 Delivery, 50 shops",
        measure: "events/s, one worker process, Attentive 50 ms",
        ours: `${perSec(run.perSec)} (${run.sent} sent in the run${run.sent >= preloaded ? ", queue emptied" : ""})`,
        reference: "",
        goal: ">= 1,000/s",
        met: run.perSec >= 1000,
      });
    } finally {
      await standIn.stop();
      await db.drop();
    }
  }
  ctx.raw.delivery = results;
}
