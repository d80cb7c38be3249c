import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { postgresSchemaFrom, postgresSchemaPath, sqliteSchemaPath } from "../../prisma/sync-schemas";

describe("data model", () => {
  it("keeps the PostgreSQL schema generated from the SQLite one", () => {
    expect(readFileSync(postgresSchemaPath, "utf8")).toBe(postgresSchemaFrom(readFileSync(sqliteSchemaPath, "utf8")));
  });

  it("opens the per-file test database with every table migrated", async () => {
    await db().shop.create({ data: { domain: "schema-check.myshopify.com" } });
    expect(await db().shop.count()).toBe(1);
    expect(await db().delivery.count()).toBe(0);
  });
});
