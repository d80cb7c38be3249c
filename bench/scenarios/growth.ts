/**
 * Scenario 6: a delivery log of 1,000,000 rows (bulk-inserted with SQL), then the queries the admin UI needs,
 * written here as Prisma calls following prisma/schema.prisma's indexes: the delivery-log page (newest 50 of a
 * shop by status, keyset pagination) and the home-page counts (delivered/failed in the last 24 h and 7 d), p95
 * each; bytes per delivery; and ingest latency while a day of logs is pruned.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT, log, round, summarize } from "../lib/common";
import { ENCRYPTION_KEY, startApp } from "../lib/app";
import { type BenchDb, createDatabase, type Provider, seedShops, shopsFor, sqliteDate, sqliteHandle, withPrisma } from "../lib/db";
import { orderWebhooks } from "../lib/load";
import { latencyFrom, runPoisson } from "../lib/poisson";
import { goal, ms, type ScenarioContext } from "../lib/report";
import type { Database } from "~/db.server";

const DAY = 86_400_000;
const SPAN_DAYS = 30;
/** The big shop holds 40% of the log; the rest is spread over 99 others. */
const BIG = "growth-0.myshopify.com";
/** Below the app's measured ingest capacity (about 160/s here), so that what pruning adds is what shows. */
const PRUNE_RATE = 100;
/** The longest load beside the prune (full and quick runs); it stops when the prune ends (20 to 96 s in full runs, 2026-12-04). */
const PRUNE_LOAD_MAX_S = 120;

/** Status of row i: 90% delivered, 4% failed, 5% skipped, 1% pending. */
const STATUS_SQL = `CASE WHEN i % 100 < 90 THEN 'delivered' WHEN i % 100 < 94 THEN 'failed' WHEN i % 100 < 99 THEN 'skipped' ELSE 'pending' END`;

async function bulkLoad(db: BenchDb, mappings: Map<string, string>, total: number, now: number): Promise<void> {
  const shops = [...mappings.keys()].sort();
  const shopOf = (i: number) => (i % 10 < 4 ? BIG : shops[1 + (i % (shops.length - 1))]!);
  if (db.provider === "sqlite") {
    const sqlite = sqliteHandle(db);
    const webhook = sqlite.prepare(
      `INSERT INTO "Webhook" (id, shop, topic, "eventKey", "webhookId", "apiVersion", "receivedAt", "orderId", body) VALUES (?, ?, 'orders/fulfilled', ?, ?, '2026-10', ?, ?, '{}')`,
    );
    const delivery = sqlite.prepare(
      `INSERT INTO "Delivery" (id, shop, "webhookRecordId", "mappingId", topic, "eventType", "externalEventId", status, attempts, "nextAttemptAt", "occurredAt", "createdAt", "updatedAt", "finishedAt", "orderName", "lastError")
       VALUES (?, ?, ?, ?, 'orders/fulfilled', 'Order Fulfilled', ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const statusOf = (i: number) => (i % 100 < 90 ? "delivered" : i % 100 < 94 ? "failed" : i % 100 < 99 ? "skipped" : "pending");
    const chunk = sqlite.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const shop = shopOf(i);
        const created = sqliteDate(new Date(now - Math.floor((i / total) * SPAN_DAYS * DAY)));
        const finished = sqliteDate(new Date(now - Math.floor((i / total) * SPAN_DAYS * DAY) + 1000));
        const status = statusOf(i);
        const id = `g${String(i).padStart(8, "0")}`;
        webhook.run(`w${id}`, shop, `gid://shopify/Order/${i}`, `w${id}`, created, String(i), );
        delivery.run(`d${id}`, shop, `w${id}`, mappings.get(shop)!, `e${id}`, status, created, created, created, created,
          status === "pending" ? null : finished, `#${1000 + i}`, status === "failed" ? "Attentive rejected the event: user.phone is not in E.164 format." : null);
      }
    });
    for (let from = 0; from < total; from += 50_000) chunk(from, Math.min(total, from + 50_000));
    sqlite.exec("ANALYZE");
    return;
  }
  // PostgreSQL: generated server-side; shops come from an array indexed like shopOf.
  const others = shops.filter((shop) => shop !== BIG);
  const mappingIds = others.map((shop) => mappings.get(shop)!);
  const step = 200_000;
  for (let from = 0; from < total; from += step) {
    const to = Math.min(total, from + step);
    const shopExpr = `CASE WHEN i % 10 < 4 THEN ?::text ELSE (?::text[])[1 + (i % ?::int)] END`;
    const created = `(to_timestamp(?::bigint / 1000.0) AT TIME ZONE 'UTC') - ((i::float8 / ?::int) * ?::int * interval '1 day')`;
    await db.exec(
      `INSERT INTO "Webhook" (id, shop, topic, "eventKey", "webhookId", "apiVersion", "receivedAt", "orderId", body)
       SELECT 'wg' || lpad(i::text, 8, '0'), ${shopExpr}, 'orders/fulfilled', 'gid://shopify/Order/' || i, 'wg' || i, '2026-10', ${created}, i::text, '{}'
       FROM generate_series(?::int, ?::int - 1) AS i`,
      [BIG, others, others.length, now, total, SPAN_DAYS, from, to],
    );
    await db.exec(
      `INSERT INTO "Delivery" (id, shop, "webhookRecordId", "mappingId", topic, "eventType", "externalEventId", status, attempts, "nextAttemptAt", "occurredAt", "createdAt", "updatedAt", "finishedAt", "orderName", "lastError")
       SELECT 'dg' || lpad(i::text, 8, '0'), ${shopExpr}, 'wg' || lpad(i::text, 8, '0'),
              CASE WHEN i % 10 < 4 THEN ?::text ELSE (?::text[])[1 + (i % ?::int)] END,
              'orders/fulfilled', 'Order Fulfilled', 'eg' || i, ${STATUS_SQL}, 1, c, c, c, c,
              CASE WHEN i % 100 >= 99 THEN NULL ELSE c + interval '1 second' END, '#' || (1000 + i),
              CASE WHEN i % 100 >= 90 AND i % 100 < 94 THEN 'Attentive rejected the event: user.phone is not in E.164 format.' END
       FROM (SELECT i, ${created} AS c FROM generate_series(?::int, ?::int - 1) AS i) AS g`,
      [BIG, others, others.length, mappings.get(BIG)!, mappingIds, mappingIds.length, now, total, SPAN_DAYS, from, to],
    );
  }
  await db.exec("VACUUM ANALYZE");
}

interface Timed {
  name: string;
  p50: number;
  p95: number;
  max: number;
  rows: number;
}

async function timeQuery(name: string, runs: number, work: (i: number) => Promise<number>): Promise<Timed> {
  await work(0);
  const times: number[] = [];
  let rows = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    rows = await work(i);
    times.push(performance.now() - t0);
  }
  const s = summarize(times);
  return { name, p50: round(s.p50, 2), p95: round(s.p95, 2), max: round(s.max, 2), rows };
}

const logColumns = { id: true, topic: true, eventType: true, status: true, attempts: true, orderName: true, lastError: true, createdAt: true, finishedAt: true } as const;

async function uiQueries(prisma: Database, now: number, runs: number): Promise<Timed[]> {
  const results: Timed[] = [];
  const page = (status: string | undefined, cursor?: { createdAt: Date; id: string }) =>
    prisma.delivery.findMany({
      where: {
        shop: BIG,
        ...(status ? { status } : {}),
        ...(cursor ? { OR: [{ createdAt: { lt: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { lt: cursor.id } }] } : {}),
      },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: 50,
      select: logColumns,
    });
  results.push(await timeQuery("log page 1, status=delivered", runs, async () => (await page("delivered")).length));
  results.push(await timeQuery("log page 1, status=failed", runs, async () => (await page("failed")).length));
  results.push(await timeQuery("log page 1, all statuses", runs, async () => (await page(undefined)).length));
  // A deep page: the cursor is the last row of page 100 (found once, as a merchant paging would have it).
  const deep = await prisma.delivery.findMany({ where: { shop: BIG, status: "delivered" }, orderBy: [{ createdAt: "desc" }, { id: "desc" }], skip: 4_999, take: 1, select: { createdAt: true, id: true } });
  const cursor = deep[0];
  if (cursor) results.push(await timeQuery("log page 101 (keyset), status=delivered", runs, async () => (await page("delivered", cursor)).length));
  const counts = (since: Date, column: "createdAt" | "finishedAt") =>
    prisma.delivery.groupBy({ by: ["status"], where: { shop: BIG, status: { in: ["delivered", "failed"] }, [column]: { gte: since } }, _count: { _all: true } });
  const sum = (rows: Array<{ _count: { _all: number } }>) => rows.reduce((total, row) => total + row._count._all, 0);
  results.push(await timeQuery("home counts 24 h (createdAt)", runs, async () => sum(await counts(new Date(now - DAY), "createdAt"))));
  results.push(await timeQuery("home counts 7 d (createdAt)", runs, async () => sum(await counts(new Date(now - 7 * DAY), "createdAt"))));
  results.push(await timeQuery("home counts 24 h (finishedAt)", Math.min(runs, 10), async () => sum(await counts(new Date(now - DAY), "finishedAt"))));
  results.push(await timeQuery("home counts 7 d (finishedAt)", Math.min(runs, 10), async () => sum(await counts(new Date(now - 7 * DAY), "finishedAt"))));
  return results;
}

async function plans(db: BenchDb, now: number): Promise<Record<string, string>> {
  const since = new Date(now - 7 * DAY);
  const queries: Record<string, [string, unknown[]]> = {
    logPage: [`SELECT id FROM "Delivery" WHERE shop = ? AND status = ? ORDER BY "createdAt" DESC, id DESC LIMIT 50`, [BIG, "delivered"]],
    counts7dCreated: [`SELECT status, count(*) FROM "Delivery" WHERE shop = ? AND status IN ('delivered','failed') AND "createdAt" >= ? GROUP BY status`, [BIG, since]],
    counts7dFinished: [`SELECT status, count(*) FROM "Delivery" WHERE shop = ? AND status IN ('delivered','failed') AND "finishedAt" >= ? GROUP BY status`, [BIG, since]],
    pruneDay: [`SELECT id FROM "Webhook" WHERE "receivedAt" < ?`, [new Date(now - 29 * DAY)]],
  };
  const out: Record<string, string> = {};
  for (const [name, [sql, params]] of Object.entries(queries)) {
    const rows = await db.query<Record<string, unknown>>(`${db.provider === "sqlite" ? "EXPLAIN QUERY PLAN" : "EXPLAIN"} ${sql}`, db.provider === "postgresql" && params[1] instanceof Date ? [params[0], params[1].toISOString()] : params);
    out[name] = rows.map((row) => String(row.detail ?? row["QUERY PLAN"] ?? JSON.stringify(row))).join(" | ");
  }
  return out;
}

/** One table's batches in a prune: how many, their median size, and their times' p50, p90 and max (ms). */
interface BatchSummary {
  count: number;
  sizeP50: number;
  msP50: number;
  msP90: number;
  msMax: number;
}

interface PruneRun {
  deleted: number;
  deliveries: number;
  ms: number;
  batches: { delivery: BatchSummary; webhook: BatchSummary };
}

/** The app's retention job with its clock at `now`, in a process of its own. */
function prune(url: string, now: Date): Promise<PruneRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join("bench", "scenarios", "prune-child.ts"), url, now.toISOString()], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    let text = "";
    child.stdout.on("data", (chunk: Buffer) => (text += chunk.toString()));
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(text.trim()) as PruneRun) : reject(new Error(`prune exited ${code}`))));
  });
}

export async function growthScenario(ctx: ScenarioContext, providers: Provider[]): Promise<void> {
  const total = ctx.quick ? 50_000 : 1_000_000;
  const runs = ctx.quick ? 10 : 40;
  const raw: Record<string, unknown> = {};
  for (const provider of providers) {
    if (ctx.quick && provider === "postgresql") continue;
    const db = await createDatabase(provider, "growth");
    try {
      const shops = shopsFor(100, "growth");
      const mappings = await seedShops(db, shops, ENCRYPTION_KEY);
      const now = Date.now();
      const t0 = Date.now();
      log(`growth: bulk-loading ${total.toLocaleString("en-US")} deliveries into ${provider}`);
      await bulkLoad(db, mappings, total, now);
      const loadS = (Date.now() - t0) / 1000;
      const bytes = await db.sizeBytes();
      const queries = await withPrisma(db, (prisma) => uiQueries(prisma, now, runs));
      const queryPlans = await plans(db, now);

      // Ingest while the oldest day is pruned, beside ingest without pruning.
      log(`growth: ingest at ${PRUNE_RATE}/s on ${provider}, without and with pruning the oldest day`);
      const ingestShops = shopsFor(5, "growth-ingest");
      await seedShops(db, ingestShops, ENCRYPTION_KEY);
      const app = await startApp({ databaseUrl: db.url, attentiveUrl: "http://127.0.0.1:9/v1/graphql", worker: "off", name: `app-growth-${provider}` });
      let baseline;
      let during;
      let pruned;
      let pruneWindow;
      try {
        const next = orderWebhooks(ingestShops.map((s) => s.domain));
        // Open loop, Poisson arrivals; the same schedule with and without pruning.
        await runPoisson({ url: app.url, durationS: 2, rate: PRUNE_RATE, seed: 1, next, target: "warm-up" });
        baseline = await runPoisson({ url: app.url, durationS: ctx.durationS, rate: PRUNE_RATE, seed: PRUNE_RATE, next, target: "no pruning" });
        // Shops keep 30 days (the default) and the log spans 30: a day later, the oldest day is due. The load runs
        // until the prune ends, and the figures are those of the webhooks sent while it ran.
        const loadStart = performance.now();
        const pruning = prune(db.url, new Date(now + DAY));
        const pruneEnd = pruning.then(() => performance.now() - loadStart);
        during = await runPoisson({ url: app.url, durationS: PRUNE_LOAD_MAX_S, rate: PRUNE_RATE, seed: PRUNE_RATE, next, target: "pruning", keepLatencies: true, stopWhen: pruning });
        pruned = await pruning;
        const endMs = await pruneEnd;
        pruneWindow = { ...latencyFrom(during, 0, endMs), endMs, loadMs: during.durationS * 1000 };
        delete during.latencies;
        delete during.statuses;
      } finally {
        await app.stop();
      }
      raw[provider] = { deliveries: total, loadSeconds: round(loadS, 1), bytes, bytesPerDelivery: round(bytes / total, 0), queries, plans: queryPlans, ingestBaseline: baseline, ingestDuringPrune: during, whilePruning: pruneWindow, prune: pruned };
      for (const q of queries) {
        const finishedAt = q.name.includes("finishedAt");
        goal(ctx, {
          scenario: `6 Growth (${provider})`,
          measure: `${q.name}, ${total.toLocaleString("en-US")} deliveries`,
          ours: `p95 ${ms(q.p95)} (p50 ${ms(q.p50)}, ${q.rows} rows)`,
          reference: "",
          goal: finishedAt ? "report (no index)" : "p95 <= 50 ms",
          met: finishedAt ? null : q.p95 <= 50,
        });
      }
      goal(ctx, {
        scenario: `6 Growth (${provider})`,
        measure: "database bytes per delivery (log rows + indexes, webhook bodies '{}')",
        ours: `${round(bytes / total, 0)} B`,
        reference: "",
        goal: "report",
        met: null,
      });
      const errors = during.non2xx + during.errors + during.timeouts;
      const outlasted = pruneWindow.endMs > pruneWindow.loadMs ? `; the prune outlasted the load by ${round((pruneWindow.endMs - pruneWindow.loadMs) / 1000, 1)} s` : "";
      goal(ctx, {
        scenario: `6 Growth (${provider})`,
        measure: `ingest at ${PRUNE_RATE}/s while the retention job prunes a day (${pruned.deleted.toLocaleString("en-US")} webhooks, ${pruned.deliveries.toLocaleString("en-US")} deliveries in ${round(pruned.ms / 1000, 1)} s): p99 / max of the ${pruneWindow.count} webhooks sent while it ran`,
        ours: `${ms(pruneWindow.p99)} / ${ms(pruneWindow.max)}, ${errors} errors${outlasted}`,
        reference: `no pruning: ${ms(baseline.p99)} / ${ms(baseline.max)}; batches (count, median size, ms p50/p90/max): ${(["delivery", "webhook"] as const)
          .map((table) => {
            const b = pruned.batches[table];
            return `${table} ${b.count} × ${b.sizeP50}, ${b.msP50}/${b.msP90}/${b.msMax}`;
          })
          .join("; ")}`,
        goal: "no stall: p99 <= 50 ms, no errors",
        met: pruneWindow.p99 <= 50 && errors === 0 && !outlasted,
      });
    } finally {
      await db.drop();
    }
  }
  ctx.raw.growth = raw;
}
