/**
 * A fresh, migrated database for one test file: an SQLite file in the temp folder by
 * default, or a PostgreSQL schema of its own when TEST_DATABASE=postgresql
 * (server from TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test).
 * Migrations are the committed migration.sql files, so tests run what production runs.
 */
import Sqlite from "better-sqlite3";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

const root = new URL("../../", import.meta.url).pathname;

export function migrationSql(provider: "sqlite" | "postgresql"): string[] {
  const dir = provider === "sqlite" ? join(root, "prisma/migrations") : join(root, "prisma/postgresql/migrations");
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
    .map((name) => readFileSync(join(dir, name, "migration.sql"), "utf8"));
}

export const testPostgresUrl = process.env.TEST_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/test";

export interface TestDatabase {
  provider: "sqlite" | "postgresql";
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(provider = testProvider()): Promise<TestDatabase> {
  const name = `t_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  if (provider === "sqlite") {
    const file = join(tmpdir(), `attentive-${name}.sqlite`);
    const sqlite = new Sqlite(file);
    sqlite.pragma("journal_mode = WAL");
    for (const sql of migrationSql("sqlite")) sqlite.exec(sql);
    sqlite.close();
    return {
      provider,
      url: `file:${file}`,
      async drop() {
        for (const suffix of ["", "-wal", "-shm"]) rmSync(file + suffix, { force: true });
      },
    };
  }
  const client = new pg.Client({ connectionString: testPostgresUrl });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA "${name}"`);
    await client.query(`SET search_path TO "${name}"`);
    for (const sql of migrationSql("postgresql")) await client.query(sql);
  } finally {
    await client.end();
  }
  const url = new URL(testPostgresUrl);
  url.searchParams.set("schema", name);
  return {
    provider,
    url: url.toString(),
    async drop() {
      const dropper = new pg.Client({ connectionString: testPostgresUrl });
      await dropper.connect();
      try {
        await dropper.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
      } finally {
        await dropper.end();
      }
    },
  };
}

export function testProvider(): "sqlite" | "postgresql" {
  return process.env.TEST_DATABASE === "postgresql" ? "postgresql" : "sqlite";
}
