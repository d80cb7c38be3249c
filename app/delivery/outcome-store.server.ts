/**
 * The worker's most frequent write, on the database driver (decision 007, as for the
 * webhook write): a delivery's outcome, guarded by its lease, and the attempt's log row,
 * together. On SQLite the outcomes of one event-loop turn share a commit.
 *
 * A failed outcome also queues its Flow trigger call ("Attentive event failed") in the
 * same transaction: a FlowTrigger outbox row that the trigger sender sends later
 * (docs/decisions/015-shopify-flow.md, "The trigger"). So no failure is announced that was
 * not recorded, and none recorded is lost to a crash before the call.
 */
import type pg from "pg";
import { storeOn, type Database } from "~/db.server";
import type { Driver } from "~/db/driver.server";
import { pgTimestamp } from "~/db/sql-values";
import { sqliteWriterOf, type SqliteWriter } from "~/db/sqlite-writer.server";
import { ATTEMPT_COLUMNS, dedupeKey, OWNED, parameters, SET_OUTCOME, TRIGGER_COLUMNS, type OutcomeWrite } from "./outcome-sql";
import { wakeFlowTriggerSender } from "./wake.server";

export { DELIVERY_FAILED_TRIGGER, type OutcomeWrite } from "./outcome-sql";

export interface OutcomeStore {
  /** Writes the outcome and its attempt row; false when the lease was no longer this worker's (nothing written). */
  finish(write: OutcomeWrite): Promise<boolean>;
  drain(): Promise<void>;
}

/** A lease is a minute: an outcome may wait this long for SQLite's lock before the write is given up. */
const SQLITE_LOCK_WAIT_MS = 30_000;

/** The driver-level write of delivery outcomes, for the same database as this client. */
export function outcomeStoreOf(prisma: Database): OutcomeStore {
  return storeOn(prisma, openOutcomeStore);
}

export function openOutcomeStore(driver: Driver): OutcomeStore {
  return driver.provider === "sqlite" ? new SqliteOutcomeStore(sqliteWriterOf(driver)) : new PostgresOutcomeStore(driver.pool);
}

/** After the commit, so the sender it wakes finds the outbox row already there. */
function notifyFailure(write: OutcomeWrite, written: boolean): boolean {
  if (written && write.status === "failed") wakeFlowTriggerSender();
  return written;
}

/**
 * SQLite: the outcomes of one event-loop turn share one transaction, committed by the SQLite writer (off the
 * event loop, decision 021).
 */
class SqliteOutcomeStore implements OutcomeStore {
  constructor(private readonly writer: SqliteWriter) {}

  async finish(write: OutcomeWrite): Promise<boolean> {
    return notifyFailure(write, await this.writer.write("outcome", write, SQLITE_LOCK_WAIT_MS));
  }

  drain() {
    return this.writer.drain();
  }
}

/**
 * PostgreSQL: the guarded update, the attempt row and (for a failure) the Flow trigger's
 * outbox row in one statement, so they commit together; the statement answers how many
 * deliveries it updated (0 or 1). The CTEs all see the table as it was before the statement,
 * so the trigger's count of earlier attempts does not include the one logged beside it.
 */
class PostgresOutcomeStore implements OutcomeStore {
  private readonly text: string;
  private readonly order: readonly string[];

  constructor(private readonly pool: pg.Pool) {
    const order: string[] = [];
    const typed: Record<string, string> = {
      setFinishedAt: "boolean",
      finishedAt: "timestamp(3)",
      setNextAttemptAt: "boolean",
      nextAttemptAt: "timestamp(3)",
      setResponse: "boolean",
      sent: "boolean",
      stale: "boolean",
      givesBack: "boolean",
      logAttempt: "boolean",
      at: "timestamp(3)",
      startedAt: "timestamp(3)",
      number: "integer",
      durationMs: "integer",
      httpStatus: "integer",
    };
    const positional = (sql: string) =>
      sql.replace(/:([A-Za-z]+)/g, (_, name: string) => {
        let index = order.indexOf(name);
        if (index === -1) index = order.push(name) - 1;
        return `$${index + 1}::${typed[name] ?? "text"}`;
      });
    this.text = positional(
      `WITH updated AS (UPDATE "Delivery" SET ${SET_OUTCOME} WHERE ${OWNED} RETURNING id, shop),
       logged AS (
         INSERT INTO "DeliveryAttempt" (${ATTEMPT_COLUMNS})
         SELECT :attemptId, updated.id, :number, :startedAt, :durationMs, :outcome, :httpStatus, :error, :attemptResponse
         FROM updated WHERE :logAttempt
         RETURNING 1
       ),
       triggered AS (
         INSERT INTO "FlowTrigger" (${TRIGGER_COLUMNS})
         SELECT :triggerId, updated.shop, :triggerKind, updated.id,
                ${dedupeKey("updated.id", `SELECT count(*) FROM "DeliveryAttempt" a WHERE a."deliveryId" = updated.id`)},
                'pending', 0, :at, :at
         FROM updated WHERE :status = 'failed'
         ON CONFLICT (shop, "dedupeKey") DO NOTHING
         RETURNING 1
       )
       SELECT CAST(count(*) AS integer) AS updated FROM updated`,
    );
    this.order = order;
  }

  async finish(write: OutcomeWrite): Promise<boolean> {
    const values: Record<string, unknown> = parameters(write, pgTimestamp, (value) => value);
    const result = await this.pool.query<{ updated: number }>({
      name: "delivery-outcome",
      text: this.text,
      values: this.order.map((name) => values[name]),
    });
    return notifyFailure(write, result.rows[0]?.updated === 1);
  }

  async drain() {}
}
