/**
 * Ingest past what the machine can write (decision 034): open-loop Poisson arrivals of signed 15.7 KB orders at
 * `rate`/s for `seconds`, with as many connections as the load needs (the bench's scenario caps them at 1,024),
 * against the production build on SQLite, once per INGEST_MAX_WAITING value ("off" is a bound no load reaches).
 * Per value: webhooks answered 200 per second, refusals, p50/p99 of the 200s, 200s that came after Shopify's 5 s
 * (Shopify counts them as failures and sends them again), and the app's peak RSS. Uses the build `npm run bench` made last.
 *
 * node --import tsx bench/micro/ingest-overload.ts [rate] [seconds] [bound,bound,...]
 */
import Sqlite from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { APP_SECRET, ENCRYPTION_KEY, startApp } from "../lib/app";
import { SCRATCH } from "../lib/common";
import { createDatabase, seedShops, shopsFor } from "../lib/db";
import { orderWebhooks } from "../lib/load";
import { runPoisson } from "../lib/poisson";

const args = process.argv.slice(2).filter((arg) => !arg.startsWith("--"));
const stallArg = process.argv.find((arg) => arg.startsWith("--stall="))?.slice("--stall=".length);
const [stallAtS, stallForS] = stallArg ? stallArg.split(":").map(Number) : [NaN, NaN];
const rate = Number(args[0] ?? 3000);
const seconds = Number(args[1] ?? 10);
const bounds = (args[2] ?? "off,1000,500,250").split(",");
const SHOPIFY_TIMEOUT_MS = 5_000;

mkdirSync(SCRATCH, { recursive: true });
const shops = shopsFor(10, "overload");
const domains = shops.map((shop) => shop.domain);
for (const [index, bound] of bounds.entries()) {
  const db = await createDatabase("sqlite", `overload-${index}-${bound}`);
  try {
    await seedShops(db, shops, ENCRYPTION_KEY);
    const app = await startApp({
      databaseUrl: db.url,
      attentiveUrl: "http://127.0.0.1:9/v1/graphql",
      worker: "off",
      name: `app-overload-${bound}`,
      env: { INGEST_MAX_WAITING: bound === "off" ? "1000000" : bound, INGEST_MAX_WAITING_MB: "100000", ...(stallArg ? { SQLITE_LOCK_WAIT_MS: "600000" } : {}) },
    });
    try {
      // Warm-up at a rate the machine writes, then the overload.
      await runPoisson({ url: app.url, rate: 500, durationS: 2, seed: 1, next: orderWebhooks(domains, APP_SECRET), target: "warm-up" });
      let stall: Promise<void> = Promise.resolve();
      if (stallArg) {
        const holder = new Sqlite(db.url.slice("file:".length));
        stall = new Promise<void>((resolve) =>
          setTimeout(() => {
            holder.exec("BEGIN IMMEDIATE");
            setTimeout(() => {
              holder.exec("ROLLBACK");
              holder.close();
              resolve();
            }, stallForS! * 1000);
          }, stallAtS! * 1000),
        );
      }
      const run = await runPoisson({
        url: app.url,
        rate,
        durationS: seconds,
        seed: 7,
        next: orderWebhooks(domains, APP_SECRET),
        target: `bound ${bound}`,
        maxSockets: 65_536,
        timeoutS: 30,
        keepLatencies: true,
      });
      await stall;
      const okMs = (run.latencies ?? []).filter((_, i) => run.statuses?.[i] === 200).sort((a, b) => a - b);
      const at = (p: number) => okMs[Math.min(okMs.length - 1, Math.max(0, Math.ceil((p / 100) * okMs.length) - 1))] ?? NaN;
      const late = okMs.filter((ms) => ms > SHOPIFY_TIMEOUT_MS).length;
      const stored = await db.count(`SELECT count(*) AS n FROM "Webhook"`);
      console.log(
        `bound ${bound.padStart(5)}: 200 ${run.acceptedPerSec.toFixed(0).padStart(5)}/s, refused ${String(run.non2xx).padStart(6)}, errors ${run.errors + run.timeouts}, ` +
          `p50/p99 of 200s ${at(50).toFixed(0)} / ${at(99).toFixed(0)} ms, 200s after 5 s ${late}, most open at once ${run.maxInFlight}, ` +
          `peak RSS ${app.peakRssMb().toFixed(0)} MB, rows ${stored}`,
      );
    } finally {
      await app.stop();
    }
  } finally {
    await db.drop();
  }
}
