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
import { openClaimStore, type ClaimStore } from "./delivery/claim-store.server";
import { openOutcomeStore, type OutcomeStore } from "./delivery/outcome-store.server";
import { openIngestStore, type IngestStore } from "./webhooks/ingest-store.server";

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

interface DriverWrites {
  driver: Driver;
  ingest: IngestStore;
  outcomes: OutcomeStore;
  claims: ClaimStore;
}
const driverWrites = new WeakMap<Database, DriverWrites>();

/** The driver connection beside this client, and the writes done on it, opened on first use. */
function writesOf(prisma: Database): DriverWrites {
  let writes = driverWrites.get(prisma);
  if (!writes) {
    const target = targets.get(prisma);
    if (!target) throw new Error("This Prisma client was not opened by openDatabase(): its database is unknown.");
    const driver = openDriver(target);
    writes = { driver, ingest: openIngestStore(driver), outcomes: openOutcomeStore(driver), claims: openClaimStore(driver) };
    driverWrites.set(prisma, writes);
  }
  return writes;
}

/** The driver-level webhook write (decision 007) for the same database as this client. */
export function ingestStoreOf(prisma: Database): IngestStore {
  return writesOf(prisma).ingest;
}

/** The driver-level write of delivery outcomes, for the same database as this client. */
export function outcomeStoreOf(prisma: Database): OutcomeStore {
  return writesOf(prisma).outcomes;
}

/** The driver-level claim of due deliveries, for the same database as this client. */
export function claimStoreOf(prisma: Database): ClaimStore {
  return writesOf(prisma).claims;
}

/** Disconnects the client and closes its driver connection, once the writes asked of it are done. */
export async function closeDatabase(prisma: Database): Promise<void> {
  const writes = driverWrites.get(prisma);
  driverWrites.delete(prisma);
  await Promise.all([
    prisma.$disconnect(),
    writes &&
      (async () => {
        await Promise.all([writes.ingest.drain(), writes.outcomes.drain(), writes.claims.drain()]);
        await closeDriver(writes.driver);
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
    const adapter = new PrismaPg(
      // Fail fast rather than hang when the database does not answer: the webhook route must answer
      // Shopify (503, so it retries) well inside its 5 s, and a query on a half-dead connection must
      // not hold a worker's delivery forever (the app's queries take milliseconds).
      { connectionString: target.url, max: 10, connectionTimeoutMillis: 3_000, query_timeout: 10_000 },
      target.schema ? { schema: target.schema } : undefined,
    );
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
