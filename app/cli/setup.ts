/**
 * `npm run setup`: applies the migrations to the database in DATABASE_URL (SQLite
 * by default) with Prisma's JavaScript schema engine (prisma.config.ts).
 */
import Sqlite from "better-sqlite3";
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { databaseTarget } from "~/db/database-url";

function run(): number {
  let target;
  try {
    target = databaseTarget(process.env.DATABASE_URL);
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  if (target.provider === "sqlite") {
    mkdirSync(dirname(target.file), { recursive: true });
    // WAL lets the worker read while the webhook route writes; it is a property of the file.
    const sqlite = new Sqlite(target.file);
    sqlite.pragma("journal_mode = WAL");
    sqlite.close();
  }
  const result = spawnSync("prisma", ["migrate", "deploy"], {
    stdio: "inherit",
    env: { ...process.env, DATABASE_URL: target.url, PRISMA_HIDE_UPDATE_MESSAGE: "1" },
  });
  if (result.status !== 0) {
    console.error(`error: migrations could not be applied to the ${target.provider} database; see the message above.`);
    return result.status ?? 1;
  }
  return 0;
}

process.exitCode = run();
