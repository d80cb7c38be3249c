/**
 * The SQLite writer on the main thread against on its thread (decision 021), in one process without HTTP: webhooks
 * with the 15.7 KB sample body written `inFlight` at a time, as concurrent requests would ask. Reports the rate, the
 * main thread's CPU per webhook (what the event loop pays) and the event loop's largest delay.
 *
 * node --import tsx bench/micro/sqlite-writer.ts [seconds per mode] [in flight]
 */
import { mkdirSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { openSqliteConnection } from "~/db/sqlite-connection";
import { openSqliteWriter } from "~/db/sqlite-writer.server";
import type { IngestRow } from "~/webhooks/ingest-sql";
import { ENCRYPTION_KEY } from "../lib/app";
import { SCRATCH } from "../lib/common";
import { createDatabase, seedShops, shopsFor } from "../lib/db";
import { orderIngestRow } from "../lib/load";

const seconds = Number(process.argv[2] ?? 3);
const inFlight = Number(process.argv[3] ?? 50);

mkdirSync(SCRATCH, { recursive: true });
const bench = await createDatabase("sqlite", "micro-writer");
try {
  const [shop] = shopsFor(1, "micro-writer");
  await seedShops(bench, [shop!], ENCRYPTION_KEY);
  const connection = openSqliteConnection(bench.url.slice("file:".length));
  let n = 0;
  // A body of its own per webhook, as each request brings.
  const row = (): IngestRow => orderIngestRow(shop!.domain, ++n);
  for (const mode of ["main", "thread", "main", "thread"] as const) {
    const writer = openSqliteWriter(connection, { mode });
    await writer.warm();
    await writer.write("ingest", row(), 3_000);
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    histogram.enable();
    const cpu = process.threadCpuUsage();
    const start = performance.now();
    let written = 0;
    const lane = async () => {
      while (performance.now() - start < seconds * 1000) {
        await writer.write("ingest", row(), 3_000);
        written++;
      }
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
    const elapsed = performance.now() - start;
    const used = process.threadCpuUsage(cpu);
    histogram.disable();
    await writer.close();
    console.log(
      `${mode.padEnd(6)} ${((written / elapsed) * 1000).toFixed(0).padStart(6)}/s  main-thread CPU ${((used.user + used.system) / written).toFixed(0).padStart(4)} µs/webhook  ` +
        `loop delay p99 ${(histogram.percentile(99) / 1e6).toFixed(1)} ms, max ${(histogram.max / 1e6).toFixed(1)} ms`,
    );
  }
  connection.close();
} finally {
  await bench.drop();
}
