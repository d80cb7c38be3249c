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
import { PrismaClient } from "./generated/prisma/sqlite/index.js";
import { PrismaClient as PostgresPrismaClient } from "./generated/prisma/postgresql/index.js";
import { databaseTarget, type DatabaseTarget } from "./db/database-url";

export type Database = PrismaClient;
export type { DatabaseTarget };

export interface DatabaseHandle {
  prisma: Database;
  target: DatabaseTarget;
}

export function openDatabase(databaseUrl: string | undefined): DatabaseHandle {
  const target = databaseTarget(databaseUrl);
  if (target.provider === "postgresql") {
    const adapter = new PrismaPg(
      { connectionString: target.url, max: 10 },
      target.schema ? { schema: target.schema } : undefined,
    );
    const client = new PostgresPrismaClient({ adapter });
    // Same data model, other provider: structurally the same client API.
    return { prisma: client as unknown as Database, target };
  }
  const adapter = new PrismaBetterSQLite3({ url: target.file, timeout: 10_000 });
  return { prisma: new PrismaClient({ adapter }), target };
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
