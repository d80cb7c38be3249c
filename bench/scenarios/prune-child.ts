/**
 * Prunes the delivery log the way the app's retention job does (pruneExpiredLogs: each shop's retention, in
 * batches with pauses between them), with the clock set to `now`. Own process, as the job runs beside the web
 * process when the worker is standalone, so the synchronous SQLite driver does not stall the load generator.
 * Prints {deleted, deliveries, ms}.
 *
 * node --import tsx bench/scenarios/prune-child.ts <DATABASE_URL> <now ISO>
 */
import pino from "pino";
import { closeDatabase, openDatabase } from "~/db.server";
import { pruneExpiredLogs } from "~/delivery/retention.server";

const [url, nowArg] = process.argv.slice(2);
const now = new Date(nowArg ?? "");
const { prisma } = openDatabase(url);
const t0 = performance.now();
const pruned = await pruneExpiredLogs({ prisma, logger: pino({ level: "silent" }), now: () => now });
console.log(JSON.stringify({ deleted: pruned.webhooks, deliveries: pruned.deliveries, ms: performance.now() - t0 }));
await closeDatabase(prisma);
