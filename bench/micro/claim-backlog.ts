/**
 * What one SQLite claim costs when the head of the queue belongs to shops the claim leaves out, or to a backfill
 * (docs/decisions/037): CPU ms per claim on the writer's connection alone, each claim rolled back so every one sees
 * the same queue.
 *
 * Cases, each on its own database:
 * - `paced`: one shop's backlog due first, left out (ahead of its pace, or cooling down), then 10 other shops' few;
 * - `backfill`: one shop's backfill of the same size due first, then live deliveries of 10 shops;
 * - `fifty`: fifty shops' deliveries interleaved, half of the shops left out (the delivery bench's steady state).
 *
 * node --import tsx bench/micro/claim-backlog.ts [backlog=50000] [claims=30]
 */
import { prepareSqliteClaim, type ClaimRequest } from "~/delivery/claim-sql";
import { openSqliteConnection } from "~/db/sqlite-connection";
import { ENCRYPTION_KEY } from "../lib/app";
import { log } from "../lib/common";
import { createDatabase, preloadDeliveries, seedShops, shopsFor, sqliteDate, sqliteHandle } from "../lib/db";
import { FIXTURE_ORDER_GID } from "../lib/load";

const backlog = Number(process.argv[2] ?? 50_000);
const claims = Number(process.argv[3] ?? 30);
// The bodies are not what is measured here (bench/micro/sqlite-claim.ts reads real ones): a short one keeps the
// database small enough to build in seconds.
const BODY = `{"admin_graphql_api_id":"${FIXTURE_ORDER_GID}"}`;

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

async function run(name: string, setup: (db: Awaited<ReturnType<typeof createDatabase>>) => Promise<{ excludeShops: string[] }>) {
  const bench = await createDatabase("sqlite", `micro-backlog-${name}`);
  try {
    const { excludeShops } = await setup(bench);
    const db = openSqliteConnection(bench.url.slice("file:".length));
    const claim = prepareSqliteClaim(db);
    const request: ClaimRequest = { workerId: "micro", limit: 64, perShopLimit: 32, leaseMs: 60_000, now: new Date(Date.now() + 1_000), excludeShops };
    let taken = 0;
    let shops = 0;
    let spent = 0;
    for (let i = 0; i <= claims; i++) {
      db.exec("BEGIN IMMEDIATE");
      const t0 = cpuMs();
      const got = claim(request);
      const ms = cpuMs() - t0;
      db.exec("ROLLBACK");
      // The first claim compiles the statements and warms the page cache.
      if (i === 0) continue;
      spent += ms;
      taken = got.length;
      shops = new Set(got.map((row) => row.shop)).size;
    }
    db.close();
    const result = { case: name, backlog, excluded: excludeShops.length, taken, shops, cpuMsPerClaim: +(spent / claims).toFixed(3) };
    console.log(JSON.stringify(result));
  } finally {
    await bench.drop();
  }
}

await run("paced", async (bench) => {
  const big = await seedShops(bench, shopsFor(1, "big"), ENCRYPTION_KEY);
  await preloadDeliveries(bench, big, backlog, BODY, "big");
  const small = await seedShops(bench, shopsFor(10, "small"), ENCRYPTION_KEY);
  for (const shop of big.keys()) small.delete(shop);
  await preloadDeliveries(bench, small, 5, BODY, "small");
  return { excludeShops: [...big.keys()] };
});

await run("backfill", async (bench) => {
  const big = await seedShops(bench, shopsFor(1, "big"), ENCRYPTION_KEY);
  await preloadDeliveries(bench, big, backlog, BODY, "big");
  const sqlite = sqliteHandle(bench);
  const at = sqliteDate(new Date());
  const [shop] = [...big.keys()];
  sqlite
    .prepare(`INSERT INTO "Backfill" (id, shop, status, since, until, "mappingIds", topics, "createdAt", "updatedAt") VALUES ('micro-backfill', ?, 'sending', ?, ?, '[]', '["orders/fulfilled"]', ?, ?)`)
    .run(shop, at, at, at, at);
  sqlite.prepare(`UPDATE "Delivery" SET "backfillId" = 'micro-backfill'`).run();
  const small = await seedShops(bench, shopsFor(10, "live"), ENCRYPTION_KEY);
  for (const key of big.keys()) small.delete(key);
  await preloadDeliveries(bench, small, 5, BODY, "live");
  return { excludeShops: [] };
});

await run("fifty", async (bench) => {
  const shops = await seedShops(bench, shopsFor(50, "fifty"), ENCRYPTION_KEY);
  await preloadDeliveries(bench, shops, Math.ceil(backlog / 50), BODY, "fifty");
  return { excludeShops: [...shops.keys()].filter((_, i) => i % 2 === 0) };
});

log("done");
