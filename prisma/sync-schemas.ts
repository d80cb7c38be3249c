/**
 * prisma/schema.prisma (SQLite) is the one data model we edit. Prisma fixes the
 * datasource provider per schema file, so the PostgreSQL twin is generated from it.
 *
 *   tsx prisma/sync-schemas.ts            write prisma/postgresql/schema.prisma
 *   tsx prisma/sync-schemas.ts --check    exit 1 when the twin is out of date
 *   tsx prisma/sync-schemas.ts --generate write it, then `prisma generate` both clients
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const sqliteSchemaPath = join(here, "schema.prisma");
export const postgresSchemaPath = join(here, "postgresql", "schema.prisma");

export function postgresSchemaFrom(sqliteSchema: string): string {
  const replaced = sqliteSchema
    .replace(/^\/\/ Source of truth[\s\S]*?\n\n/, "")
    .replace('provider = "sqlite"', 'provider = "postgresql"')
    .replace('url      = "file:./dev.sqlite"', 'url      = env("DATABASE_URL")')
    .replace('output          = "../app/generated/prisma/sqlite"', 'output          = "../../app/generated/prisma/postgresql"');
  return `// GENERATED from prisma/schema.prisma by prisma/sync-schemas.ts. Do not edit.\n\n${replaced}`;
}

function main() {
  const expected = postgresSchemaFrom(readFileSync(sqliteSchemaPath, "utf8"));
  if (process.argv.includes("--check")) {
    const actual = readFileSync(postgresSchemaPath, "utf8");
    if (actual !== expected) {
      console.error("prisma/postgresql/schema.prisma is out of date: run `npm run prisma:schemas`.");
      process.exit(1);
    }
    return;
  }
  mkdirSync(dirname(postgresSchemaPath), { recursive: true });
  writeFileSync(postgresSchemaPath, expected);
  if (process.argv.includes("--generate")) {
    // prisma.config.ts picks the JS engine for the provider in DATABASE_URL; a provider
    // that does not match the schema makes the CLI try to download a native engine.
    const runs: Array<[string, string]> = [
      [sqliteSchemaPath, "file:prisma/dev.sqlite"],
      [postgresSchemaPath, "postgresql://localhost/generate-only"],
    ];
    for (const [schema, databaseUrl] of runs) {
      execFileSync("prisma", ["generate", "--schema", schema], {
        stdio: "inherit",
        env: { ...process.env, DATABASE_URL: databaseUrl, PRISMA_HIDE_UPDATE_MESSAGE: "1" },
      });
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
