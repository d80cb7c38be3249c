/**
 * Prunes the delivery log the way the app's retention job does (pruneExpiredLogs: each shop's retention, in
 * batches with pauses between them), with the clock set to `now`. Own process, as the job runs beside the web
 * process when the worker is standalone, so the synchronous SQLite driver does not stall the load generator.
 * Prints {deleted, deliveries, ms, batches}: batches is each table's batch count, sizes and times (p50, p90, max).
 *
 * node --import tsx bench/scenarios/prune-child.ts <DATABASE_URL> <now ISO>
 */
import pino from "pino";
import { closeDatabase, openDatabase } from "~/db.server";
import { pruneExpiredLogs, type PruneBatch } from "~/delivery/retention.server";

const [url, nowArg] = process.argv.slice(2);
const now = new Date(nowArg ?? "");
const { prisma } = openDatabase(url);
const batches: PruneBatch[] = [];
const t0 = performance.now();
const pruned = await pruneExpiredLogs({ prisma, logger: pino({ level: "silent" }), now: () => now, onBatch: (batch) => batches.push(batch) });
const ms = performance.now() - t0;

function summary(table: PruneBatch["table"]) {
  const mine = batches.filter((batch) => batch.table === table);
  const at = (values: number[], q: number) => values.sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))] ?? 0;
  const times = mine.map((batch) => batch.ms);
  const sizes = mine.map((batch) => batch.size);
  const round = (value: number) => Math.round(value * 10) / 10;
  return { count: mine.length, sizeP50: at(sizes, 0.5), msP50: round(at(times, 0.5)), msP90: round(at(times, 0.9)), msMax: round(at(times, 1)) };
}
console.log(JSON.stringify({ deleted: pruned.webhooks, deliveries: pruned.deliveries, ms, batches: { delivery: summary("delivery"), webhook: summary("webhook") } }));
await closeDatabase(prisma);
