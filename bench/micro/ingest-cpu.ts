/**
 * CPU per ingested webhook of the production build on SQLite (or PostgreSQL), by thread: open-loop Poisson arrivals of signed 15.7 KB
 * orders for ten shops at `rate`/s for `seconds`, after a warm-up at the same rate, against `npm start`'s server with
 * the embedded worker off (scenario 1's set-up). Reports the process's CPU per webhook answered 200 (all its threads,
 * from /proc), split by thread name (main, sqlite-writer, sqlite-ckpt; V8's and libuv's helpers are "node") and into
 * user and system time. Uses the build `npm run bench` made last. `--profile` writes the app's V8 CPU profile.
 *
 * node --import tsx bench/micro/ingest-cpu.ts [rate=1000] [seconds=10] [--postgresql]
 *
 * --postgresql runs it on PostgreSQL (BENCH_POSTGRES_URL, a schema of its own) and also reports, per webhook, the CPU
 * of every `postgres` process on this machine and the commits of the database (pg_stat_database;
 * the server must be local, with no other load on it).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { APP_SECRET, ENCRYPTION_KEY, startApp } from "../lib/app";
import { ROOT, RUN_ID, SCRATCH } from "../lib/common";
import { processCpuMs, processUserSystemMs, threadCpuMs, threadNames } from "../lib/cpu";
import { createDatabase, localPostgresFigures, seedShops, shopsFor } from "../lib/db";
import { orderWebhooks } from "../lib/load";
import { runPoisson } from "../lib/poisson";

const args = process.argv.slice(2).filter((arg) => !arg.startsWith("--"));
const rate = Number(args[0] ?? 1000);
const seconds = Number(args[1] ?? 10);
const profile = process.argv.includes("--profile");
const provider = process.argv.includes("--postgresql") ? "postgresql" : "sqlite";

mkdirSync(SCRATCH, { recursive: true });
const shops = shopsFor(10, "ingest-cpu");
const domains = shops.map((shop) => shop.domain);
const db = await createDatabase(provider, "ingest-cpu");
try {
  await seedShops(db, shops, ENCRYPTION_KEY);
  const profileDir = join(ROOT, "bench", "results", "profiles", RUN_ID);
  if (profile) mkdirSync(profileDir, { recursive: true });
  const app = await startApp({
    databaseUrl: db.url,
    attentiveUrl: "http://127.0.0.1:9/v1/graphql",
    worker: "off",
    name: "app-ingest-cpu",
    env: profile ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir}` } : {},
  });
  try {
    const next = orderWebhooks(domains, APP_SECRET);
    // V8 optimises the hot functions and SQLite's pages warm up before the window opens.
    await runPoisson({ url: app.url, rate, durationS: Math.max(3, seconds / 2), seed: 1, next, target: "warm-up", maxSockets: 1024 });
    const pid = app.process.pid!;
    const server0 = await localPostgresFigures(provider);
    const split0 = processUserSystemMs(pid);
    const cpu0 = processCpuMs(pid);
    const threads0 = threadCpuMs(pid);
    const run = await runPoisson({ url: app.url, rate, durationS: seconds, seed: 7, next, target: "measured", maxSockets: 1024 });
    const cpuMs = processCpuMs(pid) - cpu0;
    const server1 = await localPostgresFigures(provider);
    const split1 = processUserSystemMs(pid);
    const threads1 = threadCpuMs(pid);
    const names = threadNames(pid);
    const accepted = run.ok;
    const perWebhook = (ms: number) => +(ms / accepted).toFixed(3);
    const byName = new Map<string, number>();
    for (const [tid, ms] of threads1) {
      const name = tid === pid ? "main" : (names.get(tid) ?? "ended");
      byName.set(name, (byName.get(name) ?? 0) + ms - (threads0.get(tid) ?? 0));
    }
    console.log(
      JSON.stringify({
        rate,
        accepted,
        non2xx: run.non2xx,
        errors: run.errors + run.timeouts,
        p50: run.p50,
        p99: run.p99,
        cpuMsPerWebhook: perWebhook(cpuMs),
        byThread: Object.fromEntries([...byName].map(([name, ms]) => [name, perWebhook(ms)])),
        user: perWebhook(split1.user - split0.user),
        system: perWebhook(split1.system - split0.system),
        ...(server0 && server1 ? { postgres: { cpuMsPerWebhook: perWebhook(server1.cpuMs - server0.cpuMs), commitsPerWebhook: perWebhook(server1.commits - server0.commits) } } : {}),
      }),
    );
  } finally {
    await app.stop();
  }
} finally {
  await db.drop();
}
