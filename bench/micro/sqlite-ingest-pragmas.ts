/**
 * The writer thread's work per webhook (decision 021), in one thread without HTTP or messages: the ingest write of
 * the 15.7 KB sample body, `group` webhooks per transaction, under SQLite settings given on the command line. Reports
 * CPU per webhook (this thread's).
 *
 * node --import tsx bench/micro/sqlite-ingest-pragmas.ts [webhooks=20000] [group=8] [pragma=value ...]
 */
import { existsSync, mkdirSync, statSync } from "node:fs";
import { openSqliteConnection } from "~/db/sqlite-connection";
import { prepareSqliteIngest, type IngestRow } from "~/webhooks/ingest-sql";
import { ENCRYPTION_KEY } from "../lib/app";
import { SCRATCH } from "../lib/common";
import { createDatabase, seedShops, shopsFor } from "../lib/db";
import { orderIngestRow } from "../lib/load";

function percentiles(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => Number((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(2));
  return { groupP50Ms: at(0.5), groupP99Ms: at(0.99), groupMaxMs: at(1) };
}

const [countArg, groupArg, ...pragmas] = process.argv.slice(2);
const count = Number(countArg ?? 20_000);
const group = Number(groupArg ?? 8);
mkdirSync(SCRATCH, { recursive: true });
const bench = await createDatabase("sqlite", "micro-ingest-pragmas");
try {
  const shops = shopsFor(50, "micro-ingest");
  await seedShops(bench, shops, ENCRYPTION_KEY);
  const db = openSqliteConnection(bench.url.slice("file:".length));
  for (const pragma of pragmas) db.pragma(pragma);
  const ingest = prepareSqliteIngest(db);
  const writeGroup = db.transaction((rows: IngestRow[]) => rows.map(ingest));
  let n = 0;
  const row = (): IngestRow => orderIngestRow(shops[++n % shops.length]!.domain, n);
  const groupMs: number[] = [];
  const cpu = process.threadCpuUsage();
  for (let done = 0; done < count; done += group) {
    const rows = Array.from({ length: group }, row);
    const began = performance.now();
    writeGroup(rows);
    groupMs.push(performance.now() - began);
  }
  const used = process.threadCpuUsage(cpu);
  // With wal_autocheckpoint=0 the WAL only grows: its size is every page the commits wrote.
  const wal = `${bench.url.slice("file:".length)}-wal`;
  const walKbPerWebhook = existsSync(wal) ? Number((statSync(wal).size / 1024 / count).toFixed(1)) : null;
  console.log(JSON.stringify({ pragmas, group, count, cpuUsPerWebhook: Math.round((used.user + used.system) / count), walKbPerWebhook, ...percentiles(groupMs) }));
  db.close();
} finally {
  await bench.drop();
}
