/**
 * One Prisma client per process and database URL. SQLite (better-sqlite3) is the
 * embedded default; postgresql:// URLs use node-postgres. Both run Prisma's
 * JavaScript query compiler: no native engine is needed.
 *
 * The two generated clients come from one data model (prisma/schema.prisma and its
 * generated PostgreSQL twin), so the app is typed against the SQLite client and the
 * PostgreSQL client is used through that type.
 */
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PrismaClient } from "./generated/prisma/sqlite/index.js";
import { databaseTarget, type DatabaseTarget } from "./db/database-url";
import { closeDriver, openDriver, type Driver } from "./db/driver.server";
import { RepairingPool } from "./db/pg-pool.server";
import { WRITER_BACKSTOP_PAGES } from "./db/sqlite-checkpoints";
import { sqliteWriterOf } from "./db/sqlite-writer.server";

export type Database = PrismaClient;

type PrismaClientClass = new (options: { adapter: PrismaBetterSQLite3 | PrismaPg }) => PrismaClient;

/**
 * The generated clients are CommonJS that load a WebAssembly query compiler from
 * their own folder, so they are required at run time from app/generated rather than
 * bundled (Vite's dev server and build would both transform them). The folder is
 * found from this module's location, which is app/ in development and tests and
 * build/server/ in production.
 */
function generatedClient(provider: "sqlite" | "postgresql"): PrismaClientClass {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "app", "generated", "prisma", provider))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("The Prisma clients are not generated: run `npm install` (or `npm run prisma:schemas -- --generate`).");
    dir = parent;
  }
  const loaded: { PrismaClient: PrismaClientClass } = createRequire(import.meta.url)(join(dir, "app", "generated", "prisma", provider, "index.js"));
  return loaded.PrismaClient;
}
export type { DatabaseTarget };

export interface DatabaseHandle {
  prisma: Database;
  target: DatabaseTarget;
}

/** Where each client's database is, so the hot-path writes can reach it through its driver. */
const targets = new WeakMap<Database, DatabaseTarget>();

/**
 * A store of writes done on the driver (decision 007): the claim, the outcome and the
 * webhook write. Each store module opens itself from the driver this module hands out
 * (`storeOn`); this module knows only that a store must finish its writes before the
 * driver closes. Arrows point one way: stores import the database, never the reverse.
 */
export interface DriverStore {
  drain(): Promise<void>;
}

interface DriverConnection {
  driver: Driver;
  /** The stores opened on it, by the function that opened them. */
  stores: Map<(driver: Driver) => DriverStore, DriverStore>;
}
const connections = new WeakMap<Database, DriverConnection>();

/** The driver connection beside this client, opened on first use. */
function connectionOf(prisma: Database): DriverConnection {
  let connection = connections.get(prisma);
  if (!connection) {
    const target = targets.get(prisma);
    if (!target) throw new Error("This Prisma client was not opened by openDatabase(): its database is unknown.");
    connection = { driver: openDriver(target), stores: new Map() };
    connections.set(prisma, connection);
  }
  return connection;
}

/** The database driver (better-sqlite3 or a node-postgres pool) for the same database as this client. */
export function driverOf(prisma: Database): Driver {
  return connectionOf(prisma).driver;
}

/** The store `open` makes on this client's driver, opened once per client and drained before the driver closes. */
export function storeOn<T extends DriverStore>(prisma: Database, open: (driver: Driver) => T): T {
  const connection = connectionOf(prisma);
  let store = connection.stores.get(open);
  if (!store) {
    store = open(connection.driver);
    connection.stores.set(open, store);
  }
  // The map is keyed by the opener, which always makes a T.
  return store as T;
}

/** Settles once every driver-level write asked of this client so far is committed or refused (shutdown). */
export async function drainWrites(prisma: Database): Promise<void> {
  const connection = connections.get(prisma);
  if (connection) await Promise.all([...connection.stores.values()].map((store) => store.drain()));
}

/**
 * Starts the SQLite writer thread (decision 021) ahead of the first write; nothing to do on PostgreSQL. When its
 * checkpointer does the file's checkpoints (decision 032), the client's own connection gets the writer's backstop
 * too: under steady writes the WAL is over SQLite's 1,000 pages most of the time, and by SQLite's rule each of the
 * client's commits (an admin change) would then checkpoint on the event loop.
 */
export async function warmWrites(prisma: Database): Promise<void> {
  const driver = driverOf(prisma);
  if (driver.provider !== "sqlite") return;
  const writer = sqliteWriterOf(driver);
  await writer.warm();
  if (writer.checkpointsOnThread) await prisma.$queryRawUnsafe(`PRAGMA wal_autocheckpoint = ${WRITER_BACKSTOP_PAGES}`);
}

/** Disconnects the client and closes its driver connection, once the writes asked of it are done. */
export async function closeDatabase(prisma: Database): Promise<void> {
  const connection = connections.get(prisma);
  connections.delete(prisma);
  await Promise.all([
    prisma.$disconnect(),
    connection &&
      (async () => {
        await Promise.all([...connection.stores.values()].map((store) => store.drain()));
        await closeDriver(connection.driver);
      })(),
  ]);
}

export function openDatabase(databaseUrl: string | undefined): DatabaseHandle {
  const handle = openClient(databaseUrl);
  targets.set(handle.prisma, handle.target);
  return handle;
}

function openClient(databaseUrl: string | undefined): DatabaseHandle {
  const target = databaseTarget(databaseUrl);
  if (target.provider === "postgresql") {
    // Fail fast rather than hang when the database does not answer: the webhook route must answer
    // Shopify (503, so it retries) well inside its 5 s, and a query on a half-dead connection must
    // not hold a worker's delivery forever (the app's queries take milliseconds). The pool hands back
    // a transaction's client whose connection broke, which Prisma's engine would keep (pg-pool.server.ts).
    const pool = new RepairingPool({ connectionString: target.url, max: 10, connectionTimeoutMillis: 3_000, query_timeout: 10_000 });
    const adapter = new PrismaPg(pool, { ...(target.schema ? { schema: target.schema } : {}), disposeExternalPool: true });
    // Same data model, other provider: the same client API (docs/decisions/002).
    const PostgresClient = generatedClient("postgresql");
    return { prisma: new PostgresClient({ adapter }), target };
  }
  const adapter = new PrismaBetterSQLite3({ url: target.file, timeout: 10_000 });
  const SqliteClient = generatedClient("sqlite");
  return { prisma: new SqliteClient({ adapter }), target };
}

const globalForDb = globalThis as unknown as { __attentiveDb?: Map<string, DatabaseHandle> };

/** The process-wide client for DATABASE_URL (kept on globalThis so Vite reloads reuse it). */
export function database(): DatabaseHandle {
  const url = process.env.DATABASE_URL ?? "";
  globalForDb.__attentiveDb ??= new Map();
  let handle = globalForDb.__attentiveDb.get(url);
  if (!handle) {
    handle = openDatabase(url);
    globalForDb.__attentiveDb.set(url, handle);
  }
  return handle;
}

export function db(): Database {
  return database().prisma;
}
