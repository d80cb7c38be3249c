/**
 * Every test file gets its own migrated database (see test/support/test-database.ts),
 * exposed as DATABASE_URL before any app module opens it.
 */
import { afterAll } from "vitest";
import { closeDatabase, database } from "~/db.server";
import { createTestDatabase } from "../support/test-database";

const testDatabase = await createTestDatabase();
process.env.DATABASE_URL = testDatabase.url;

afterAll(async () => {
  await closeDatabase(database().prisma);
  await testDatabase.drop();
});
