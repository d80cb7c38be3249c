/**
 * What one claim costs when the head of the queue belongs to shops the claim leaves out, or to a backfill
 * (docs/decisions/037, 038), each claim rolled back so every one sees the same queue: on SQLite the CPU ms per claim
 * of the writer's connection alone; with --postgresql (BENCH_POSTGRES_URL, a schema of its own, a local server) the
 * CPU ms per claim of the server process that ran it, and the `ClaimStore.nextDue` read's the same way.
 *
 * Cases, each on its own database:
 * - `paced`: one shop's backlog due first, left out (ahead of its pace, or cooling down), then 10 other shops' few;
 * - `backfill`: one shop's backfill of the same size due first, then live deliveries of 10 shops;
 * - `fifty`: fifty shops' deliveries interleaved, half of the shops left out (the delivery bench's steady state).
 *
 * node --import tsx bench/micro/claim-backlog.ts [backlog=50000] [claims=30] [--postgresql]
 *
 * With --postgresql, EXPLAIN=claim (or EXPLAIN=due) first prints the plan PostgreSQL keeps for the claim (or the
 * next-due read) with EXPLAIN ANALYZE's counts, from auto_explain.
 */
import pg from "pg";
import { prepareSqliteClaim, type ClaimRequest } from "~/delivery/claim-sql";
import { openClaimStore } from "~/delivery/claim-store.server";
import { openSqliteConnection } from "~/db/sqlite-connection";
import { ENCRYPTION_KEY } from "../lib/app";
import { log } from "../lib/common";
import { processCpuMs } from "../lib/cpu";
import { PG_BASE, createDatabase, preloadDeliveries, seedShops, shopsFor, sqliteDate, type BenchDb } from "../lib/db";
import { FIXTURE_ORDER_GID } from "../lib/load";

const args = process.argv.slice(2).filter((arg) => !arg.startsWith("--"));
const provider = process.argv.includes("--postgresql") ? "postgresql" : "sqlite";
const backlog = Number(args[0] ?? 50_000);
const claims = Number(args[1] ?? 30);
// The bodies are not what is measured here (bench/micro/sqlite-claim.ts reads real ones): a short one keeps the
// database small enough to build in seconds.
const BODY = `{"admin_graphql_api_id":"${FIXTURE_ORDER_GID}"}`;

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** The claim and the next-due read on one server connection, each in a transaction rolled back; the server's CPU. */
async function runPostgres(bench: BenchDb, name: string, request: ClaimRequest) {
  const schema = new URL(bench.url).searchParams.get("schema") ?? "";
  const client = new pg.Client({ connectionString: PG_BASE, options: `-c jit=off -c search_path="${schema}"` });
  await client.connect();
  try {
    // As autovacuum would have by then: no dead versions of the rows set up, and statistics.
    await client.query("VACUUM ANALYZE");
    const backend = Number((await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid);
    // The store's statements, on this one connection.
    const store = openClaimStore({ provider: "postgresql", pool: client as unknown as pg.Pool, connection: PG_BASE, schema });
    const measure = async (work: () => Promise<unknown>) => {
      let spent = 0;
      let last: unknown;
      for (let i = 0; i <= claims; i++) {
        await client.query("BEGIN");
        const t0 = processCpuMs(backend);
        last = await work();
        const ms = processCpuMs(backend) - t0;
        await client.query("ROLLBACK");
        // The first run plans the statement and warms the buffers.
        if (i > 0) spent += ms;
      }
      return { last, ms: +(spent / claims).toFixed(3) };
    };
    if (process.env.EXPLAIN) {
      client.on("notice", (notice) => console.log(notice.message));
      await client.query("LOAD 'auto_explain'");
      await client.query("SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on; SET auto_explain.log_buffers = on; SET auto_explain.log_level = notice; SET plan_cache_mode = force_generic_plan");
      await client.query("BEGIN");
      await (process.env.EXPLAIN === "due" ? store.nextDue(request.excludeShops, []) : store.claim(request));
      await client.query("ROLLBACK");
      await client.query("SET auto_explain.log_min_duration = -1; RESET plan_cache_mode");
    }
    const claimed = await measure(() => store.claim(request));
    const got = claimed.last as Awaited<ReturnType<typeof store.claim>>;
    const due = await measure(() => store.nextDue(request.excludeShops, []));
    const result = {
      case: name,
      provider,
      backlog,
      excluded: request.excludeShops.length,
      taken: got.length,
      shops: new Set(got.map((row) => row.shop)).size,
      serverCpuMsPerClaim: claimed.ms,
      serverCpuMsPerNextDue: due.ms,
    };
    console.log(JSON.stringify(result));
  } finally {
    await client.end();
  }
}

async function run(name: string, setup: (db: BenchDb) => Promise<{ excludeShops: string[] }>) {
  const bench = await createDatabase(provider, `micro-backlog-${name}`);
  try {
    const { excludeShops } = await setup(bench);
    if (provider === "postgresql") {
      const now = new Date(Date.now() + 1_000);
      await runPostgres(bench, name, { workerId: "micro", limit: 64, perShopLimit: 32, leaseMs: 60_000, now, excludeShops });
      return;
    }
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
  const at = provider === "sqlite" ? sqliteDate(new Date()) : new Date();
  const [shop] = [...big.keys()];
  await bench.exec(
    `INSERT INTO "Backfill" (id, shop, status, since, until, "mappingIds", topics, "createdAt", "updatedAt") VALUES ('micro-backfill', ?, 'sending', ?, ?, '[]', '["orders/fulfilled"]', ?, ?)`,
    [shop, at, at, at, at],
  );
  await bench.exec(`UPDATE "Delivery" SET "backfillId" = 'micro-backfill'`);
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
