/**
 * CPU per delivered event of one standalone worker (`npm run cli -- worker`), fifty shops (or `shops`), the Attentive stand-in
 * answering in 50 ms: the worker's process CPU time (all its threads, from /proc) between the stand-in's first
 * event and the moment the queue is empty, over the events delivered in between, and the same per thread. Start-up
 * (tsx, Prisma, render threads) is outside the window.
 *
 * node --import tsx bench/micro/delivery-cpu.ts [perShop=120] [deliveriesPerWebhook=1] [shops=50] [--profile]
 *
 * With one shop, sends are paced at Attentive's 150 per second for its key, as scenario 4's "1 shop" row is.
 *
 * With deliveriesPerWebhook > 1, each webhook has that many deliveries (same mapping, distinct event ids), as a
 * webhook with several mappings would. --profile writes the worker's V8 CPU profile to bench/results/profiles/.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ENCRYPTION_KEY, startWorker } from "../lib/app";
import { ROOT, RUN_ID, log, sleep } from "../lib/common";
import { processCpuMs, threadCpuMs } from "../lib/cpu";
import { createDatabase, preloadDeliveries, seedShops, shopsFor, sqliteHandle } from "../lib/db";
import { ORDER_BODY } from "../lib/load";
import { startStandIn } from "../lib/standin";

const args = process.argv.slice(2).filter((arg) => !arg.startsWith("--"));
const perShop = Number(args[0] ?? 120);
const perWebhook = Number(args[1] ?? 1);
const shopCount = Number(args[2] ?? 50);
if (process.argv.includes("--profile")) {
  process.env.BENCH_PROFILE_DIR = join(ROOT, "bench", "results", "profiles", RUN_ID);
  mkdirSync(process.env.BENCH_PROFILE_DIR, { recursive: true });
  log(`the worker's CPU profile goes to ${process.env.BENCH_PROFILE_DIR}`);
}

const shops = shopsFor(shopCount, "cpu");
const standIn = await startStandIn({ keys: shops.map((s) => s.apiKey), rateLimitPerSecond: 150, latencyMs: 50 });
const db = await createDatabase("sqlite", "delivery-cpu");
try {
  const mappings = await seedShops(db, shops, ENCRYPTION_KEY);
  let queued = await preloadDeliveries(db, mappings, perShop, ORDER_BODY);
  if (perWebhook > 1) {
    const sqlite = sqliteHandle(db);
    for (let copy = 1; copy < perWebhook; copy++) {
      // Another mapping per shop, the same templates: a webhook then has one delivery per mapping.
      sqlite
        .prepare(
          `INSERT INTO "Mapping" (id, shop, position, topic, "eventType", enabled, "when", properties, "user", "createdAt", "updatedAt")
           SELECT id || '~copy${copy}', shop, position + ${copy}, topic, "eventType", enabled, "when", properties, "user", "createdAt", "updatedAt"
           FROM "Mapping" WHERE id IN (SELECT DISTINCT "mappingId" FROM "Delivery")`,
        )
        .run();
      queued += sqlite
        .prepare(
          `INSERT INTO "Delivery" (id, shop, "webhookRecordId", "mappingId", topic, "eventType", "externalEventId", status, "nextAttemptAt", "occurredAt", "createdAt", "updatedAt")
           SELECT id || '~copy${copy}', shop, "webhookRecordId", "mappingId" || '~copy${copy}', topic, "eventType", "externalEventId" || '~copy${copy}', status, "nextAttemptAt", "occurredAt", "createdAt", "updatedAt"
           FROM "Delivery" WHERE id NOT LIKE '%~copy%'`,
        )
        .run().changes;
    }
  }
  log(`${queued} deliveries queued (${perWebhook} per webhook)`);
  const worker = startWorker({ databaseUrl: db.url, attentiveUrl: standIn.graphqlUrl, name: "worker-cpu" });
  try {
    let first = 0;
    for (let i = 0; i < 600 && first === 0; i++) {
      await sleep(50);
      first = (await standIn.stats()).events.length;
    }
    const cpu0 = processCpuMs(worker.pid);
    const threads0 = threadCpuMs(worker.pid);
    const t0 = performance.now();
    let sent = first;
    for (let i = 0; i < 1200 && sent < queued; i++) {
      await sleep(250);
      sent = (await standIn.stats()).events.length;
    }
    const cpuMs = processCpuMs(worker.pid) - cpu0;
    const threads1 = threadCpuMs(worker.pid);
    const wallS = (performance.now() - t0) / 1000;
    const events = sent - first;
    const perEvent = (ms: number) => +(ms / events).toFixed(3);
    const used = [...threads1].map(([tid, ms]) => [tid, ms - (threads0.get(tid) ?? 0)] as const);
    const main = used.find(([tid]) => tid === worker.pid)?.[1] ?? 0;
    const others = used.filter(([tid, ms]) => tid !== worker.pid && ms > 0).map(([, ms]) => perEvent(ms)).sort((a, b) => b - a);
    console.log(JSON.stringify({ cpuMsPerEventByThread: { main: perEvent(main), others } }));
    console.log(
      JSON.stringify({ shops: shopCount, queued, perWebhook, events, wallS: +wallS.toFixed(2), perSec: Math.round(events / wallS), cpuMsPerEvent: +(cpuMs / events).toFixed(3), cpuShare: +(cpuMs / 1000 / wallS).toFixed(2) }),
    );
  } finally {
    await worker.stop();
  }
} finally {
  await standIn.stop();
  await db.drop();
}
