import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import { defineConfig } from "prisma/config";
import { databaseTarget } from "./app/db/database-url";
import { migrationPool } from "./prisma/postgres-migrate-pool";

// The CLI runs on the JavaScript schema engine through a driver adapter: no native
// engine is downloaded (see docs/decisions/002-prisma-without-native-engines.md).
const target = databaseTarget(process.env.DATABASE_URL);

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: target.provider === "postgresql" ? "prisma/postgresql/schema.prisma" : "prisma/schema.prisma",
  async adapter() {
    if (target.provider === "postgresql") {
      return new PrismaPg(await migrationPool(target.url, target.schema), target.schema ? { schema: target.schema } : undefined);
    }
    return new PrismaBetterSQLite3({ url: target.file });
  },
});
