/**
 * CPU per delivered event of one standalone worker (`npm run cli -- worker`), fifty shops (or `shops`), the Attentive stand-in
 * answering in 50 ms: the worker's process CPU time (all its threads, from /proc) between the stand-in's first
 * event and the moment the queue is empty, over the events delivered in between, and the same per thread. Start-up
 * (tsx, Prisma, render threads) is outside the window.
 *
 * node --import tsx bench/micro/delivery-cpu.ts [perShop=120] [deliveriesPerWebhook=1] [shops=50] [--warm=N] [--profile] [--postgresql] [--background] [--skip-copies] [--no-prerendered]
 *
 * --warm=N opens the window only once N events have been delivered: the figures are then of a worker whose hot
 * functions V8 has already optimised. For the first seconds of a worker's life, V8's helper threads spend about
 * 0.1 ms per event compiling them (TurboFan), which a worker that runs for days pays once.
 *
 * With one shop, sends are paced at Attentive's 150 per second for its key, as scenario 4's "1 shop" row is.
 *
 * With deliveriesPerWebhook > 1, each webhook has that many deliveries (same mapping, distinct event ids), as a
 * webhook with several mappings would. --profile writes the worker's V8 CPU profile to bench/results/profiles/.
 *
 * --background makes every delivery a history backfill's (SQLite only), as `bench --only backfill` records them: they are
 * sent only within what decision 016 leaves them (80% of each shop's limit), without the backfill runner's own work.
 *
 * --skip-copies (with deliveriesPerWebhook > 1) gives the copies' mappings a condition that is false, so only the first
 * delivery of each webhook is sent and the others are skipped, as a backfill's mappings skip half of what they record;
 * the figures are then per event sent.
 *
 * --no-prerendered leaves out the events the commerce route renders ahead when it records an order's webhook (decision
 * 054): every delivery then parses its body and renders, as a delivery recorded by a backfill does.
 *
 * --postgresql runs it on PostgreSQL (BENCH_POSTGRES_URL, a schema of its own) and also reports, per event, the CPU of
 * every `postgres` process on this machine (the server must be local, and no other load on it) and the commits of
 * the database (pg_stat_database, so commits of other schemas in it count too).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ENCRYPTION_KEY, startWorker } from "../lib/app";
import { ROOT, RUN_ID, log, sleep } from "../lib/common";
import { processCpuMs, processUserSystemMs, threadCpuMs, threadNames } from "../lib/cpu";
import { createDatabase, localPostgresFigures, preloadDeliveries, seedShops, shopsFor, sqliteHandle } from "../lib/db";
import { ORDER_BODY } from "../lib/load";
import { startStandIn } from "../lib/standin";
import { sqliteDate } from "~/db/sql-values";

const args = process.argv.slice(2).filter((arg) => !arg.startsWith("--"));
const perShop = Number(args[0] ?? 120);
const perWebhook = Number(args[1] ?? 1);
const shopCount = Number(args[2] ?? 50);
const warm = Number(process.argv.find((arg) => arg.startsWith("--warm="))?.slice("--warm=".length) ?? 1);
const provider = process.argv.includes("--postgresql") ? "postgresql" : "sqlite";
const background = process.argv.includes("--background");
const skipCopies = process.argv.includes("--skip-copies");
const prerendered = !process.argv.includes("--no-prerendered");
if (skipCopies && perWebhook < 2) throw new Error("--skip-copies needs deliveriesPerWebhook of 2 or more: with one, there is no copy to skip");
if (provider === "postgresql" && (perWebhook > 1 || background)) throw new Error("deliveriesPerWebhook > 1 and --background are built on SQLite only");
if (process.argv.includes("--profile")) {
  process.env.BENCH_PROFILE_DIR = join(ROOT, "bench", "results", "profiles", RUN_ID);
  mkdirSync(process.env.BENCH_PROFILE_DIR, { recursive: true });
  log(`the worker's CPU profile goes to ${process.env.BENCH_PROFILE_DIR}`);
}

const shops = shopsFor(shopCount, "cpu");
const standIn = await startStandIn({ keys: shops.map((s) => s.apiKey), rateLimitPerSecond: 150, latencyMs: 50 });
const db = await createDatabase(provider, "delivery-cpu");
try {
  const mappings = await seedShops(db, shops, ENCRYPTION_KEY);
  let queued = await preloadDeliveries(db, mappings, perShop, ORDER_BODY, "pre", prerendered);
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
  if (skipCopies) sqliteHandle(db).prepare(`UPDATE "Mapping" SET "when" = 'false' WHERE id LIKE '%~copy%'`).run();
  if (background) {
    const sqlite = sqliteHandle(db);
    // One backfill per shop, already sending (its runner is done reading), owning every delivery of its shop.
    const at = sqliteDate(new Date());
    sqlite
      .prepare(
        `INSERT INTO "Backfill" (id, shop, status, since, until, "mappingIds", topics, "createdAt", "updatedAt")
         SELECT 'bench-backfill-' || domain, domain, 'sending', ?, ?, '[]', '["orders/fulfilled"]', ?, ? FROM "Shop"`,
      )
      .run(at, at, at, at);
    sqlite.prepare(`UPDATE "Delivery" SET "backfillId" = 'bench-backfill-' || shop`).run();
  }
  log(`${queued} deliveries queued (${perWebhook} per webhook${background ? ", all a backfill's" : ""})`);
  const worker = startWorker({ databaseUrl: db.url, attentiveUrl: standIn.graphqlUrl, name: "worker-cpu" });
  try {
    let first = 0;
    for (let i = 0; i < 600 + warm / 10 && first < Math.min(warm, queued - 1); i++) {
      await sleep(50);
      first = (await standIn.stats()).events.length;
    }
    const server0 = await localPostgresFigures(provider);
    const split0 = processUserSystemMs(worker.pid);
    const cpu0 = processCpuMs(worker.pid);
    const threads0 = threadCpuMs(worker.pid);
    const t0 = performance.now();
    let sent = first;
    const toSend = skipCopies ? queued / perWebhook : queued;
    for (let i = 0; i < 1200 && sent < toSend; i++) {
      await sleep(250);
      sent = (await standIn.stats()).events.length;
    }
    const cpuMs = processCpuMs(worker.pid) - cpu0;
    const server1 = await localPostgresFigures(provider);
    const split1 = processUserSystemMs(worker.pid);
    const threads1 = threadCpuMs(worker.pid);
    const wallS = (performance.now() - t0) / 1000;
    const events = sent - first;
    const perEvent = (ms: number) => +(ms / events).toFixed(3);
    const used = [...threads1].map(([tid, ms]) => [tid, ms - (threads0.get(tid) ?? 0)] as const);
    const main = used.find(([tid]) => tid === worker.pid)?.[1] ?? 0;
    const others = used.filter(([tid, ms]) => tid !== worker.pid && ms > 0).map(([, ms]) => perEvent(ms)).sort((a, b) => b - a);
    console.log(JSON.stringify({ cpuMsPerEventByThread: { main: perEvent(main), others } }));
    // The same by thread name: the main thread and each named worker, V8's helpers and libuv's pool added up.
    const names = threadNames(worker.pid);
    const byName = new Map<string, number>();
    for (const [tid, ms] of used) {
      const name = tid === worker.pid ? "main" : (names.get(tid) ?? "ended");
      byName.set(name, (byName.get(name) ?? 0) + ms);
    }
    console.log(JSON.stringify({ cpuMsPerEventByThreadName: Object.fromEntries([...byName].map(([name, ms]) => [name, perEvent(ms)])) }));
    // The kernel's share: on loopback, a socket write also runs the receiving side's TCP work in the writer's time.
    console.log(JSON.stringify({ processCpuMsPerEvent: { user: perEvent(split1.user - split0.user), system: perEvent(split1.system - split0.system) } }));
    console.log(
      JSON.stringify({ provider, shops: shopCount, queued, perWebhook, background, skipCopies, warm: first, events, wallS: +wallS.toFixed(2), perSec: Math.round(events / wallS), cpuMsPerEvent: +(cpuMs / events).toFixed(3), cpuShare: +(cpuMs / 1000 / wallS).toFixed(2) }),
    );
    if (server0 && server1) {
      console.log(
        JSON.stringify({ postgres: { cpuMsPerEvent: perEvent(server1.cpuMs - server0.cpuMs), commitsPerEvent: perEvent(server1.commits - server0.commits) } }),
      );
    }
  } finally {
    await worker.stop();
  }
} finally {
  await standIn.stop();
  await db.drop();
}

