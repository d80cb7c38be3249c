/**
 * A lane whose event Attentive took goes to the next delivery while the outcome is written (decision 030), on the
 * test file's real database. The outcome's write is held up by a lock the test holds, as a busy database would:
 * SQLite's write lock, taken the moment Attentive receives the first event; on PostgreSQL, a lock on the attempt
 * log, which the outcome's statement writes and the claim does not. With one lane, the second event reaches
 * Attentive while the first's outcome still waits, and both are recorded once the lock goes.
 */
import Sqlite from "better-sqlite3";
import pg from "pg";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { database, db } from "~/db.server";
import { startDeliveryWorker } from "~/delivery/worker.server";
import { loadOrderId, orderBody, waitUntil } from "../support/load";
import { postWebhook, usePipeline, workerOptions } from "../support/pipeline";

/** Holds up every outcome write until the returned function is called. */
interface OutcomeBlocker {
  /** Resolves once the lock is held. */
  held: Promise<void>;
  /**
   * The backends waiting for the lock now, where the database can tell (PostgreSQL); null where it cannot (SQLite,
   * whose outcome waits up to 30 s for the lock, far longer than this test holds it).
   */
  waiting(): Promise<string[] | null>;
  release(): Promise<void>;
}

function blockOutcomesOnSqlite(file: string): { takeNow(): void; blocker: OutcomeBlocker } {
  let other: Sqlite.Database | undefined;
  let taken!: () => void;
  const held = new Promise<void>((resolve) => (taken = resolve));
  return {
    // Synchronous, so it runs before the stand-in answers the request in whose listener it is called.
    takeNow() {
      other = new Sqlite(file);
      other.exec("BEGIN IMMEDIATE");
      taken();
    },
    blocker: {
      held,
      waiting: async () => null,
      async release() {
        other?.exec("COMMIT");
        other?.close();
      },
    },
  };
}

async function blockOutcomesOnPostgres(url: string, schema: string | undefined): Promise<OutcomeBlocker> {
  const connection = new URL(url);
  connection.searchParams.delete("schema");
  const client = new pg.Client({ connectionString: connection.toString() });
  await client.connect();
  if (schema) await client.query(`SET search_path TO "${schema}"`);
  await client.query("BEGIN");
  // Inserts take ROW EXCLUSIVE, which SHARE refuses; reads (and the claim, which writes only "Delivery") go on.
  await client.query(`LOCK TABLE "DeliveryAttempt" IN SHARE MODE`);
  return {
    held: Promise.resolve(),
    async waiting() {
      // pg_locks only: pg_stat_activity would be read once per transaction, and this client is in one (the lock's),
      // so backends the worker connects later would never show in it.
      const { rows } = await client.query<{ pid: number }>(`SELECT pid FROM pg_locks WHERE NOT granted AND relation = '"DeliveryAttempt"'::regclass`);
      return rows.map((row) => String(row.pid));
    },
    async release() {
      await client.query("COMMIT");
      await client.end();
    },
  };
}

describe("a lane whose event Attentive took", () => {
  const pipeline = usePipeline();

  it("sends the next delivery while the outcome is written", async () => {
    for (let i = 0; i < 2; i++) expect((await postWebhook({ topic: "orders/fulfilled", body: orderBody(loadOrderId(i)) })).status).toBe(200);
    const target = database().target;
    let blocker: OutcomeBlocker;
    let stopListening = () => {};
    if (target.provider === "sqlite") {
      const sqlite = blockOutcomesOnSqlite(target.file);
      // The claim (a write) has taken both deliveries by the time the first reaches Attentive: one lane and one
      // claimed ahead of it.
      stopListening = pipeline.standIn.onRequest((record) => {
        if (record.number === 1) sqlite.takeNow();
      });
      blocker = sqlite.blocker;
    } else {
      blocker = await blockOutcomesOnPostgres(target.url, target.schema);
    }

    // What the worker logs at warn and above: a write that failed (PostgreSQL gives a statement 4 s) is logged.
    const problems: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void problems.push(line) });
    const worker = startDeliveryWorker(workerOptions(pipeline.standIn, { concurrency: 1, logger }));
    let released = false;
    try {
      await blocker.held;
      // PostgreSQL: the first event's outcome statement is at the lock (so the test holds what it means to).
      if (target.provider === "postgresql") {
        await waitUntil("the first outcome to wait for the lock", async () => ((await blocker.waiting()) ?? []).length > 0, 10_000, 10);
      }
      await pipeline.standIn.waitForRequests(2, 10_000);
      // The second event went while the first's write was still waiting, not once it had failed: node-postgres
      // gives a statement 4 s, and a lane that waited for its outcome sent the second event after that failure
      // (and another, that of recording it), which the worker logs.
      expect(problems).toEqual([]);
      const rows = await db().delivery.findMany({ select: { status: true } });
      expect(rows.map((row) => row.status)).toEqual(["sending", "sending"]);
      stopListening();
      released = true;
      await blocker.release();
      await waitUntil("both outcomes written", async () => (await db().delivery.count({ where: { status: "delivered" } })) === 2, 10_000, 20);
    } finally {
      stopListening();
      if (!released) await blocker.release();
      await worker.stop();
    }

    expect(problems).toEqual([]);
    expect(pipeline.standIn.requests).toBe(2);
    expect(await db().deliveryAttempt.count()).toBe(2);
    expect(new Set(pipeline.standIn.received.map((event) => event.input.externalEventId)).size).toBe(2);
  });
});
