// First: on Node older than 22, stop here with one line saying what to do.
import "../../app/node-version";
import pg from "pg";
import { testPostgresUrl } from "../support/test-database";

/** Fail fast, with what to do, when the PostgreSQL run has no server to talk to. */
export default async function checkServices(): Promise<void> {
  if (process.env.TEST_DATABASE !== "postgresql") return;
  const client = new pg.Client({ connectionString: testPostgresUrl, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.end();
  } catch (error) {
    throw new Error(
      `TEST_DATABASE=postgresql but ${testPostgresUrl} is not reachable (${(error as Error).message}). ` +
        "Start PostgreSQL or set TEST_POSTGRES_URL.",
    );
  }
}
