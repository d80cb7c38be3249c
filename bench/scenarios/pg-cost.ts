/**
 * Scenario 9: what PostgreSQL spends per webhook ingested and per event delivered, for the capacity plan of
 * docs/performance.md. A fixed count of webhooks is posted to the app (worker off), then one standalone worker
 * delivers them to the Attentive stand-in, with one shop and with fifty. For each phase: statements and round
 * trips (counted on the wire by a proxy between the processes and the server: pg_stat_statements needs
 * shared_preload_libraries, which a bench cannot set on a shared server), commits, rows written, WAL bytes,
 * table + index bytes added, connections in use, and the CPU time of the server's processes.
 *
 * The app works in a database of its own, so pg_stat_database and pg_stat_activity see only its sessions. WAL is
 * cluster-wide: the figure is this database's records, read back with pg_waldump; the LSN difference and the
 * commits other databases made in the same window are reported beside it. */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import pg from "pg";
import { type Child, log, ROOT, round, RUN_ID, sleep, waitFor } from "../lib/common";
import { ENCRYPTION_KEY, startApp, startWorker } from "../lib/app";
import { type BenchDb, PG_BASE, seedShops, shopsFor, type ShopSpec } from "../lib/db";
import { orderWebhooks } from "../lib/load";
import { goal, type ScenarioContext } from "../lib/report";
import { startStandIn } from "../lib/standin";

/** Marks the scenario's own sessions, which are left out of the connection and CPU figures. */
const MONITOR = "pgcost-monitor";
/**
 * The monitor's own database: its queries stay out of the measured database's counters, and the bench's `test`
 * database (where other runs and suites work) stays in the count of other databases' commits.
 */
const MONITOR_DATABASE = "postgres";
const SAMPLE_MS = 200;
const SENDERS = 16;
/** A session with one query counts two commits in pg_stat_database: the backend's start-up transaction and the query. */
const SESSION_TRANSACTIONS = 2;

// ---------------------------------------------------------------------------------------------------------
// Statements on the wire

export interface WireCounts {
  /** Simple-protocol queries ('Q') plus extended-protocol executions ('E'): statements run. */
  statements: number;
  simpleQueries: number;
  executes: number;
  /** 'P' messages: statements parsed (prepared) by the server. */
  parses: number;
  /** 'S' messages: round trips of the extended protocol. */
  syncs: number;
  connectionsOpened: number;
  peakOpen: number;
  bytesToServer: number;
  bytesFromServer: number;
}

const zeroCounts = (): WireCounts => ({ statements: 0, simpleQueries: 0, executes: 0, parses: 0, syncs: 0, connectionsOpened: 0, peakOpen: 0, bytesToServer: 0, bytesFromServer: 0 });

/** SSLRequest and GSSENCRequest: a start-up packet followed by the real start-up packet. */
const ENCRYPTION_REQUESTS = new Set([80877103, 80877104]);

/**
 * A TCP proxy to the server that reads the frontend messages' headers (type byte + length) and counts them;
 * bodies are skipped, not buffered.
 */
async function startWireCounter(host: string, port: number): Promise<{ port: number; take(): WireCounts; close(): Promise<void> }> {
  let counts = zeroCounts();
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host, port });
    open.add(client);
    counts.connectionsOpened++;
    counts.peakOpen = Math.max(counts.peakOpen, open.size);
    let startup = true;
    let header = Buffer.alloc(0);
    let skip = 0;
    client.on("data", (chunk: Buffer) => {
      counts.bytesToServer += chunk.length;
      let offset = 0;
      while (offset < chunk.length) {
        if (skip > 0) {
          const n = Math.min(skip, chunk.length - offset);
          skip -= n;
          offset += n;
          continue;
        }
        const need = startup ? 8 : 5;
        const take = Math.min(need - header.length, chunk.length - offset);
        header = Buffer.concat([header, chunk.subarray(offset, offset + take)]);
        offset += take;
        if (header.length < need) break;
        if (startup) {
          if (!ENCRYPTION_REQUESTS.has(header.readUInt32BE(4))) startup = false;
          skip = header.readUInt32BE(0) - 8;
        } else {
          const type = String.fromCharCode(header[0]!);
          if (type === "Q") counts.simpleQueries++;
          else if (type === "E") counts.executes++;
          else if (type === "P") counts.parses++;
          else if (type === "S") counts.syncs++;
          skip = header.readUInt32BE(1) - 4;
        }
        header = Buffer.alloc(0);
      }
    });
    upstream.on("data", (chunk: Buffer) => (counts.bytesFromServer += chunk.length));
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      open.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (typeof address !== "object" || !address) throw new Error("the wire counter has no port");
  return {
    port: address.port,
    /** The counts since the last take; the peak restarts from the connections open now. */
    take() {
      const taken = { ...counts, statements: counts.simpleQueries + counts.executes };
      counts = { ...zeroCounts(), peakOpen: open.size };
      return taken;
    },
    async close() {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Server-side counters

function urlFor(database: string, port?: number): string {
  const url = new URL(PG_BASE);
  url.pathname = `/${database}`;
  if (port !== undefined) url.port = String(port);
  url.search = "";
  return url.toString();
}

async function once<T>(connectionString: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString, application_name: MONITOR });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

interface TableStats {
  inserted: number;
  updated: number;
  hotUpdated: number;
  deleted: number;
  bytes: number;
  /** Autovacuum and autoanalyze runs: their transactions count in the database's commits too. */
  autovacuums: number;
}

interface ServerSnapshot {
  walLsn: string;
  wal: { records: number; fpi: number; bytes: number };
  database: Record<"xact_commit" | "xact_rollback" | "tup_inserted" | "tup_updated" | "tup_deleted" | "tup_fetched" | "tup_returned", number>;
  otherDatabasesCommits: number;
  tables: Record<string, TableStats>;
  /**
   * Transactions this snapshot ran in the measured database, counted in the next delta: its session's start-up
   * transaction and its query.
   */
  ownTransactions: number;
}

/** Cluster-wide figures from the monitor's database, then the measured database's tables (one read-only session). */
async function snapshot(monitor: pg.Pool, database: string): Promise<ServerSnapshot> {
  // Backends send their counters to the cumulative statistics when idle for a second or when they exit.
  await monitor.query("SELECT pg_stat_clear_snapshot()");
  const wal = (await monitor.query(`SELECT pg_current_wal_lsn()::text AS lsn, wal_records, wal_fpi, wal_bytes::bigint AS wal_bytes FROM pg_stat_wal`)).rows[0] as {
    lsn: string;
    wal_records: string;
    wal_fpi: string;
    wal_bytes: string;
  };
  const dbs = (
    await monitor.query(
      `SELECT datname, xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted, tup_fetched, tup_returned FROM pg_stat_database WHERE datname IS NOT NULL`,
    )
  ).rows as Array<Record<string, string>>;
  const mine = dbs.find((row) => row.datname === database);
  if (!mine) throw new Error(`no statistics for database ${database}`);
  const otherDatabasesCommits = dbs
    .filter((row) => row.datname !== database && row.datname !== MONITOR_DATABASE)
    .reduce((sum, row) => sum + Number(row.xact_commit) + Number(row.xact_rollback), 0);
  const tables = await once(urlFor(database), async (client) => {
    const { rows } = await client.query(
      `SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, autovacuum_count + autoanalyze_count AS autovacuums, pg_total_relation_size(relid)::bigint AS bytes FROM pg_stat_user_tables WHERE schemaname = 'public'`,
    );
    return Object.fromEntries(
      (rows as Array<Record<string, string>>).map((row) => [
        row.relname!,
        { inserted: Number(row.n_tup_ins), updated: Number(row.n_tup_upd), hotUpdated: Number(row.n_tup_hot_upd), deleted: Number(row.n_tup_del), bytes: Number(row.bytes), autovacuums: Number(row.autovacuums) },
      ]),
    );
  });
  const num = (key: string) => Number(mine[key] ?? 0);
  return {
    walLsn: wal.lsn,
    wal: { records: Number(wal.wal_records), fpi: Number(wal.wal_fpi), bytes: Number(wal.wal_bytes) },
    database: {
      xact_commit: num("xact_commit"),
      xact_rollback: num("xact_rollback"),
      tup_inserted: num("tup_inserted"),
      tup_updated: num("tup_updated"),
      tup_deleted: num("tup_deleted"),
      tup_fetched: num("tup_fetched"),
      tup_returned: num("tup_returned"),
    },
    otherDatabasesCommits,
    tables,
    ownTransactions: SESSION_TRANSACTIONS,
  };
}

/**
 * Nanoseconds on CPU: /proc/<pid>/schedstat, else utime + stime from /proc/<pid>/stat. Null when the pid is not a
 * PostgreSQL process on this machine (a remote server's pids name other processes here).
 */
function cpuNs(pid: number): number | null {
  try {
    if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "postgres") return null;
  } catch {
    return null;
  }
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]);
  } catch {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
      return (Number(fields[11]) + Number(fields[12])) * 1e7;
    } catch {
      return null;
    }
  }
}

/** The server's auxiliary processes (WAL writer, checkpointer, ...), shared by every database on the server. */
function auxiliaryPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() !== "postgres") continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (/walwriter|checkpointer|background writer|autovacuum launcher|logical replication launcher/.test(cmdline)) pids.push(Number(entry));
    } catch {
      // The process went away.
    }
  }
  return pids;
}

interface ActivitySample {
  clients: number;
  active: number;
  autovacuum: number;
}

/**
 * Samples pg_stat_activity for the measured database and the CPU of its backends every SAMPLE_MS; a backend
 * that exits between samples loses at most one interval of CPU.
 */
function startSampler(monitor: pg.Pool, database: string) {
  const baseline = new Map<number, number>();
  const latest = new Map<number, number>();
  const auxiliary = auxiliaryPids();
  const auxStart = auxiliary.map((pid) => cpuNs(pid) ?? 0);
  const samples: ActivitySample[] = [];
  let stopped = false;
  let first = true;
  const sample = async () => {
    const { rows } = await monitor.query(`SELECT pid, state, backend_type, application_name FROM pg_stat_activity WHERE datname = $1 AND application_name <> $2`, [
      database,
      MONITOR,
    ]);
    const backends = rows as Array<{ pid: number; state: string | null; backend_type: string }>;
    for (const { pid } of backends) {
      const ns = cpuNs(pid);
      if (ns === null) continue;
      // Backends that exist at the start count from now; later ones from their fork.
      if (!baseline.has(pid)) baseline.set(pid, first ? ns : 0);
      latest.set(pid, ns);
    }
    first = false;
    const clients = backends.filter((row) => row.backend_type === "client backend");
    samples.push({ clients: clients.length, active: clients.filter((row) => row.state === "active").length, autovacuum: backends.length - clients.length });
  };
  const loop = (async () => {
    while (!stopped) {
      await sample().catch(() => undefined);
      await sleep(SAMPLE_MS);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await sample().catch(() => undefined);
      let backendNs = 0;
      for (const [pid, ns] of latest) backendNs += ns - (baseline.get(pid) ?? 0);
      const auxiliaryNs = auxiliary.reduce((sum, pid, i) => sum + Math.max(0, (cpuNs(pid) ?? auxStart[i]!) - auxStart[i]!), 0);
      const mean = (pick: (s: ActivitySample) => number) => round(samples.reduce((sum, s) => sum + pick(s), 0) / Math.max(1, samples.length), 1);
      return {
        backendCpuMs: backendNs / 1e6,
        auxiliaryCpuMs: auxiliaryNs / 1e6,
        backendsSeen: latest.size,
        samples: samples.length,
        peakConnections: Math.max(0, ...samples.map((s) => s.clients)),
        meanConnections: mean((s) => s.clients),
        peakActive: Math.max(0, ...samples.map((s) => s.active)),
        meanActive: mean((s) => s.active),
        autovacuumSeen: Math.max(0, ...samples.map((s) => s.autovacuum)),
      };
    },
  };
}

/**
 * The WAL records of one database between two LSNs, read back with pg_waldump (when the server's files are on this
 * machine): records naming one of its relations, and every other record of a transaction that did (its commit).
 * Other databases' writes in the same window are left out; the figure is the records' own sizes, without the WAL
 * page headers and alignment that the LSN difference includes.
 */
async function walOfDatabase(monitor: pg.Pool, database: string, from: string, to: string): Promise<{ bytes: number; records: number; allBytes: number } | null> {
  const settings = (
    await monitor.query(
      `SELECT (SELECT oid FROM pg_database WHERE datname = $1) AS oid, current_setting('data_directory') AS data, (SELECT setting FROM pg_config WHERE name = 'BINDIR') AS bin`,
      [database],
    )
  ).rows[0] as { oid: number; data: string; bin: string };
  const waldump = join(settings.bin, "pg_waldump");
  const walDir = join(settings.data, "pg_wal");
  if (!existsSync(waldump) || !existsSync(walDir)) return null;
  const child = spawn(waldump, ["-p", walDir, "-s", from, "-e", to], { stdio: ["ignore", "pipe", "ignore"] });
  const ours = new RegExp(`(?: rel \\d+/${settings.oid}/| base/${settings.oid}/| db ${settings.oid} )`);
  const transactions = new Set<string>();
  let bytes = 0;
  let records = 0;
  let allBytes = 0;
  for await (const line of createInterface({ input: child.stdout })) {
    const match = /len \(rec\/tot\):\s*\d+\/\s*(\d+), tx:\s*(\d+)/.exec(line);
    if (!match) continue;
    const size = Number(match[1]);
    const tx = match[2]!;
    allBytes += size;
    if (ours.test(line)) {
      if (tx !== "0") transactions.add(tx);
    } else if (!transactions.has(tx)) continue;
    bytes += size;
    records++;
  }
  const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once("exit", resolve)));
  return code === 0 && records > 0 ? { bytes, records, allBytes } : null;
}

// ---------------------------------------------------------------------------------------------------------
// One measured phase

export interface PhaseCost {
  events: number;
  wallS: number;
  wire: WireCounts;
  server: Awaited<ReturnType<ReturnType<typeof startSampler>["stop"]>>;
  /** WAL of the measured database's records (pg_waldump), else the cluster's LSN difference. */
  walBytes: number;
  walAttributed: boolean;
  /** pg_current_wal_lsn() difference: the whole cluster, other databases included. */
  clusterWalBytes: number;
  clusterWalRecords: number;
  /** pg_waldump: all records' bytes in the window, and this database's records. */
  waldump: { bytes: number; records: number; allBytes: number } | null;
  clusterWalFullPageImages: number;
  commits: number;
  rollbacks: number;
  rowsInserted: number;
  rowsUpdated: number;
  rowsHotUpdated: number;
  rowsDeleted: number;
  tupFetched: number;
  bytesAdded: number;
  autovacuums: number;
  perTable: Record<string, TableStats>;
  otherDatabasesCommits: number;
  perEvent: Record<string, number>;
}

/**
 * Runs `work` between two snapshots. `settle` runs after the work and its wire counts: it stops the processes (so
 * their counters flush) and returns how many transactions it ran meanwhile, which are taken off the commits.
 */
async function measure(
  monitor: pg.Pool,
  database: string,
  wire: Awaited<ReturnType<typeof startWireCounter>>,
  work: () => Promise<{ events: number; ownTransactions: number }>,
  settle: () => Promise<number>,
): Promise<PhaseCost> {
  // Statements sent now are counted by the server after the snapshot (backends report at least a second late).
  wire.take();
  const before = await snapshot(monitor, database);
  const sampler = startSampler(monitor, database);
  const t0 = Date.now();
  const { events, ownTransactions } = await work();
  const wallS = (Date.now() - t0) / 1000;
  const counts = wire.take();
  const server = await sampler.stop();
  const settled = await settle();
  // Exited backends flush their counters at exit; the monitor's own session counts at its next report.
  await sleep(1_200);
  const after = await snapshot(monitor, database);
  const clusterWalBytes = Number(((await monitor.query(`SELECT pg_wal_lsn_diff($1, $2)::bigint AS d`, [after.walLsn, before.walLsn])).rows[0] as { d: string }).d);
  const waldump = await walOfDatabase(monitor, database, before.walLsn, after.walLsn).catch(() => null);
  const walBytes = waldump?.bytes ?? clusterWalBytes;
  const perTable: Record<string, TableStats> = {};
  for (const [name, stats] of Object.entries(after.tables)) {
    const was = before.tables[name] ?? { inserted: 0, updated: 0, hotUpdated: 0, deleted: 0, bytes: 0, autovacuums: 0 };
    perTable[name] = {
      inserted: stats.inserted - was.inserted,
      updated: stats.updated - was.updated,
      hotUpdated: stats.hotUpdated - was.hotUpdated,
      deleted: stats.deleted - was.deleted,
      bytes: stats.bytes - was.bytes,
      autovacuums: stats.autovacuums - was.autovacuums,
    };
  }
  const sum = (pick: (t: TableStats) => number) => Object.values(perTable).reduce((total, t) => total + pick(t), 0);
  const d = (key: keyof ServerSnapshot["database"]) => after.database[key] - before.database[key];
  const cost = {
    events,
    wallS,
    wire: counts,
    server,
    walBytes,
    walAttributed: waldump !== null,
    clusterWalBytes,
    clusterWalRecords: after.wal.records - before.wal.records,
    waldump,
    clusterWalFullPageImages: after.wal.fpi - before.wal.fpi,
    commits: d("xact_commit") - before.ownTransactions - ownTransactions - settled,
    rollbacks: d("xact_rollback"),
    rowsInserted: sum((t) => t.inserted),
    rowsUpdated: sum((t) => t.updated),
    rowsHotUpdated: sum((t) => t.hotUpdated),
    rowsDeleted: sum((t) => t.deleted),
    tupFetched: d("tup_fetched"),
    bytesAdded: sum((t) => t.bytes),
    autovacuums: sum((t) => t.autovacuums),
    perTable,
    otherDatabasesCommits: after.otherDatabasesCommits - before.otherDatabasesCommits,
  };
  const per = (value: number, digits = 2) => round(value / Math.max(1, events), digits);
  return {
    ...cost,
    perEvent: {
      statements: per(counts.statements),
      roundTrips: per(counts.syncs + counts.simpleQueries),
      parses: per(counts.parses),
      commits: per(cost.commits),
      rowsWritten: per(cost.rowsInserted + cost.rowsUpdated + cost.rowsDeleted),
      walBytes: per(walBytes, 0),
      clusterWalBytes: per(clusterWalBytes, 0),
      bytesAdded: per(cost.bytesAdded, 0),
      backendCpuMs: per(server.backendCpuMs, 3),
      auxiliaryCpuMs: per(server.auxiliaryCpuMs, 3),
      wireBytesToServer: per(counts.bytesToServer, 0),
      wireBytesFromServer: per(counts.bytesFromServer, 0),
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// The database, the load, the scenario

/** A database of its own (so pg_stat_database is the app's alone), migrated like the bench's schemas. */
async function createOwnDatabase(name: string): Promise<BenchDb & { database: string }> {
  const database = `bench_${RUN_ID.replace(/[^0-9a-z]/gi, "_")}_${name}`.toLowerCase().slice(0, 60);
  await once(PG_BASE, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${database}"`);
  });
  const url = urlFor(database);
  const migrations = join(ROOT, "prisma", "postgresql", "migrations");
  await once(url, async (client) => {
    for (const dir of readdirSync(migrations).filter((entry) => !entry.endsWith(".toml")).sort()) {
      await client.query(readFileSync(join(migrations, dir, "migration.sql"), "utf8"));
    }
  });
  const toPg = (sql: string) => {
    let n = 0;
    return sql.replace(/\?/g, () => `$${++n}`);
  };
  const run = (sql: string, params: unknown[]) => once(url, (client) => client.query(toPg(sql), params));
  return {
    provider: "postgresql",
    url,
    name,
    database,
    async query<T>(sql: string, params: unknown[] = []) {
      return (await run(sql, params)).rows as T[];
    },
    async exec(sql: string, params: unknown[] = []) {
      return (await run(sql, params)).rowCount ?? 0;
    },
    async count(sql: string, params: unknown[] = []) {
      return Number(((await run(sql, params)).rows[0] as { n: string } | undefined)?.n ?? 0);
    },
    async sizeBytes() {
      return Number(((await run(`SELECT pg_database_size(current_database())::bigint AS n`, [])).rows[0] as { n: string }).n);
    },
    async close() {},
    async drop() {
      await once(PG_BASE, (client) => client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`));
    },
  };
}

/** Posts `count` signed webhooks, SENDERS at a time; returns how many were answered 200. */
async function postWebhooks(url: string, domains: string[], count: number): Promise<{ ok: number; failed: number }> {
  const next = orderWebhooks(domains);
  let sent = 0;
  let ok = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: SENDERS }, async () => {
      while (sent < count) {
        sent++;
        const { body, headers } = next();
        const response = await fetch(`${url}/webhooks/commerce`, { method: "POST", body, headers }).catch(() => null);
        await response?.arrayBuffer();
        if (response?.status === 200) ok++;
        else failed++;
      }
    }),
  );
  return { ok, failed };
}

interface ShopRun {
  shops: number;
  webhooks: number;
  ingest: PhaseCost;
  delivery: PhaseCost;
  /** The standalone worker with nothing left to do, over IDLE_S seconds. */
  idleWorker: { seconds: number; statementsPerSec: number; connections: number };
  rejectedByStandIn: number;
}

const IDLE_S = 3;

async function runShops(ctx: ScenarioContext, shops: ShopSpec[], webhooks: number, label: string): Promise<ShopRun> {
  const db = await createOwnDatabase(`pgcost${shops.length}`);
  const standIn = await startStandIn({ keys: shops.map((s) => s.apiKey), rateLimitPerSecond: 150, latencyMs: shops.length > 1 ? 50 : 0 });
  const target = new URL(PG_BASE);
  const wire = await startWireCounter(target.hostname, Number(target.port || 5432));
  const monitor = new pg.Pool({ connectionString: urlFor(MONITOR_DATABASE), max: 1, application_name: MONITOR });
  try {
    await seedShops(db, shops, ENCRYPTION_KEY);
    const proxied = urlFor(db.database, wire.port);
    const domains = shops.map((s) => s.domain);

    log(`pg-cost ${label}: ingest of ${webhooks} webhooks (app, worker off)`);
    const app = await startApp({ databaseUrl: proxied, attentiveUrl: standIn.graphqlUrl, worker: "off", name: `app-pgcost${shops.length}` });
    // A few webhooks first, so the measured phase is the steady state, not the pool's first connections.
    let failed = 0;
    let ingest: PhaseCost;
    try {
      const warm = await postWebhooks(app.url, domains, SENDERS);
      if (warm.failed > 0) throw new Error(`${warm.failed} warm-up webhooks were not answered 200`);
      // A backend that reported its counters less than a second ago keeps the next ones until it has been idle
      // for 10 s (PGSTAT_IDLE_INTERVAL): wait until the warm-up's rows are counted, or the phase would count them.
      const warmRows = `SELECT coalesce(sum(n_tup_ins), 0) AS n FROM pg_stat_user_tables WHERE relname IN ('Webhook', 'Delivery')`;
      await waitFor("the warm-up's counters", async () => ((await db.count(warmRows)) >= 2 * SENDERS ? true : null), 20_000, 250);
      ingest = await measure(
        monitor,
        db.database,
        wire,
        async () => {
          const posted = await postWebhooks(app.url, domains, webhooks);
          failed = posted.failed;
          return { events: posted.ok, ownTransactions: 0 };
        },
        async () => {
          await app.stop();
          // Statements at shut-down are not the phase's; each is its own transaction (the app sends no BEGIN).
          return wire.take().statements;
        },
      );
    } finally {
      await app.stop();
    }
    if (failed > 0) throw new Error(`${failed} of ${webhooks} webhooks were not answered 200`);
    // In a session of its own, which exits (and so reports its counters) before the next phase starts.
    const pending = `SELECT count(*) AS n FROM "Delivery" WHERE status <> 'delivered'`;
    const countPending = () => db.count(pending);
    const queued = await countPending();

    log(`pg-cost ${label}: delivery of ${queued} events (one standalone worker)`);
    let worker: Child | undefined;
    let idleWorker = { seconds: IDLE_S, statementsPerSec: 0, connections: 0 };
    let delivery: PhaseCost;
    try {
      delivery = await measure(
        monitor,
        db.database,
        wire,
        async () => {
          // The worker's start-up is part of the phase.
          const started = startWorker({ databaseUrl: proxied, attentiveUrl: standIn.graphqlUrl, name: `worker-pgcost${shops.length}` });
          worker = started;
          await waitFor(
            "the stand-in to receive every event",
            async () => (new Set((await standIn.stats()).events.map(([id]) => id)).size >= queued ? true : null),
            ctx.quick ? 60_000 : 180_000,
            100,
            () => started.process.exitCode === null,
          );
          // The outcome is written after Attentive answers: wait for the last one. Each poll is a session in the
          // measured database, taken off its commits.
          let polls = 0;
          await waitFor("the last outcome", async () => (polls++, (await countPending()) === 0 ? true : null), 10_000, 50);
          return { events: queued, ownTransactions: polls * SESSION_TRANSACTIONS };
        },
        async () => {
          const after = wire.take();
          await sleep(IDLE_S * 1000);
          const idle = wire.take();
          idleWorker = { seconds: IDLE_S, statementsPerSec: round(idle.statements / IDLE_S, 1), connections: idle.peakOpen };
          await worker?.stop();
          // The idle polls and the statements at shut-down are not the phase's; each is its own transaction.
          return after.statements + idle.statements + wire.take().statements;
        },
      );
    } finally {
      await worker?.stop();
    }
    const stats = await standIn.stats();
    return { shops: shops.length, webhooks, ingest, delivery, idleWorker, rejectedByStandIn: stats.requests - stats.events.length };
  } finally {
    await monitor.end();
    await wire.close();
    await standIn.stop();
    await db.drop();
  }
}

const kb = (bytes: number) => `${round(bytes / 1024, 1)} KB`;

function row(ctx: ScenarioContext, label: string, measureName: string, cost: PhaseCost) {
  const p = cost.perEvent;
  const s = cost.server;
  goal(ctx, {
    scenario: `9 PostgreSQL cost (${label})`,
    measure: measureName,
    ours:
      `${p.statements} statements (${p.roundTrips} round trips), ${p.commits} commits, ${p.rowsWritten} rows written, ` +
      `WAL ${kb(p.walBytes!)}${cost.walAttributed ? "" : " (cluster-wide)"}, +${kb(p.bytesAdded!)} table+index, ${s.backendsSeen > 0 ? `server CPU ${p.backendCpuMs} ms (+${p.auxiliaryCpuMs} ms WAL writer etc.)` : "server CPU not readable (server not on this machine)"}; ` +
      `connections peak ${s.peakConnections}, mean ${s.meanConnections} (active peak ${s.peakActive}, mean ${s.meanActive})`,
    reference:
      `${cost.events} events in ${round(cost.wallS, 1)} s, ${cost.wire.connectionsOpened} connections opened, ${cost.autovacuums} autovacuum runs; ` +
      `cluster WAL ${kb(p.clusterWalBytes!)}/event, other databases committed ${cost.otherDatabasesCommits} in the window`,
    goal: "report",
    met: null,
  });
}

export async function pgCostScenario(ctx: ScenarioContext, postgres: boolean): Promise<void> {
  if (!postgres) return;
  const webhooks = ctx.quick ? 300 : 2_000;
  const oneShop = await runShops(ctx, shopsFor(1, "pgcost-one"), webhooks, "1 shop");
  row(ctx, "1 shop", "per webhook ingested", oneShop.ingest);
  row(ctx, "1 shop", "per event delivered", oneShop.delivery);
  const fifty = await runShops(ctx, shopsFor(50, "pgcost-fifty"), webhooks, "50 shops");
  row(ctx, "50 shops", "per webhook ingested", fifty.ingest);
  row(ctx, "50 shops", "per event delivered", fifty.delivery);
  goal(ctx, {
    scenario: "9 PostgreSQL cost",
    measure: "idle standalone worker: statements/s",
    ours: `${oneShop.idleWorker.statementsPerSec}/s (1 shop), ${fifty.idleWorker.statementsPerSec}/s (50 shops)`,
    reference: "",
    goal: "report",
    met: null,
  });
  ctx.raw.pgCost = { oneShop, fiftyShops: fifty };
}
