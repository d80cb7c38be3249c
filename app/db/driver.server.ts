/**
 * A connection to the app's database through its driver, beside Prisma's, for the few
 * hot-path writes done without Prisma (decision 007): better-sqlite3 or a node-postgres
 * pool. Everything else goes through Prisma.
 */
import type Sqlite from "better-sqlite3";
import pg from "pg";
import type { DatabaseTarget } from "./database-url";
import { openSqliteConnection } from "./sqlite-connection";
import { closeSqliteWriterOf } from "./sqlite-writer.server";

/** `connection` and `schema` (PostgreSQL) let a caller open a connection of its own beside the pool (the wake listener). */
export type Driver =
  | { provider: "sqlite"; db: Sqlite.Database }
  | { provider: "postgresql"; pool: pg.Pool; connection: string; schema: string | undefined };

export function openDriver(target: DatabaseTarget): Driver {
  if (target.provider === "sqlite") {
    // The hot-path writes go through the SQLite writer (its thread opens its own connection the same way).
    return { provider: "sqlite", db: openSqliteConnection(target.file) };
  }
  const connection = new URL(target.url);
  connection.searchParams.delete("schema");
  const pool = new pg.Pool({
    connectionString: connection.toString(),
    max: 10,
    connectionTimeoutMillis: 3_000,
    // A query on a connection that went half-dead must not hold a webhook (Shopify waits 5 s) or a
    // worker's slot forever: it fails, the webhook is answered 503, the delivery's lease runs out.
    query_timeout: 4_000,
    // A CLI command that wrote through the driver must not wait for idle connections to exit.
    allowExitOnIdle: true,
    // No JIT compilation: every statement on this pool is a short one, and one whose estimates pass jit_above_cost
    // (the claim's recursive and lateral reads, decision 037, whose row counts the planner cannot know) was compiled
    // on each run: 100 ms of the server's CPU for a claim that ran in 3 ms.
    options: [`-c jit=off`, ...(target.schema ? [`-c search_path="${target.schema.replaceAll('"', '""')}"`] : [])].join(" "),
  });
  // An idle connection that the server closed must not crash the process.
  pool.on("error", () => {});
  return { provider: "postgresql", pool, connection: connection.toString(), schema: target.schema };
}

export async function closeDriver(driver: Driver): Promise<void> {
  if (driver.provider === "sqlite") {
    await closeSqliteWriterOf(driver);
    driver.db.close();
  }
  else await driver.pool.end();
}
