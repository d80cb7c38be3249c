/**
 * The worker's most frequent write, on the database driver (decision 007, as for the
 * webhook write): a delivery's outcome, guarded by its lease, and the attempt's log row,
 * together. The outcomes of up to OUTCOME_GATHER_MS share a commit (decisions 035 and 051).
 *
 * A failed outcome also queues its Flow trigger call ("Attentive event failed") in the
 * same transaction: a FlowTrigger outbox row that the trigger sender sends later
 * (docs/decisions/015-shopify-flow.md, "The trigger"). So no failure is announced that was
 * not recorded, and none recorded is lost to a crash before the call.
 */
import type pg from "pg";
import { storeOn, type Database } from "~/db.server";
import type { Driver } from "~/db/driver.server";
import { PgGroupCommit } from "~/db/pg-group-commit";
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

/**
 * How long an outcome may wait for others to share its SQLite commit (decision 035). Nothing waits on it to send; at
 * the fifty-shop micro-benchmark's 1,100 events/s about 11 gather, under the worker's bound on outcomes written
 * outside their lanes (settlingOutsideLanes: 16 with the default 64 lanes), so no lane waits on one.
 */
export const OUTCOME_GATHER_MS = 10;

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
 * SQLite: the outcomes of up to OUTCOME_GATHER_MS (and any webhook or claim written meanwhile) share one
 * transaction, committed by the SQLite writer (off the event loop, decision 021; gathering, decision 035).
 */
class SqliteOutcomeStore implements OutcomeStore {
  constructor(private readonly writer: SqliteWriter) {}

  async finish(write: OutcomeWrite): Promise<boolean> {
    return notifyFailure(write, await this.writer.write("outcome", write, SQLITE_LOCK_WAIT_MS, { gatherMs: OUTCOME_GATHER_MS }));
  }

  drain() {
    return this.writer.drain();
  }
}

/** PostgreSQL: outcome statements in flight at once; more wait and go together in the next one. */
export const PG_OUTCOME_STATEMENTS_IN_FLIGHT = 2;
/** PostgreSQL: the most outcomes one statement carries. */
export const PG_OUTCOME_BATCH = 64;

/** The parameters' types; every other one is text. */
const PG_TYPES: Record<string, string> = {
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

/**
 * PostgreSQL: outcomes go in groups (PgGroupCommit, decision 026), gathered for up to OUTCOME_GATHER_MS (decision
 * 051): per outcome, a statement and a commit each cost the server more than the rows themselves
 * (`bench/micro/delivery-cpu.ts --postgresql`). A delivery is the key, so its outcomes are written in the order given.
 *
 * One statement does, for every outcome in it, the guarded update, the attempt row and (for a failure) the Flow
 * trigger's outbox row, so they commit together, and answers which deliveries it updated. Its CTEs all see the
 * tables as they were before it, so a trigger's count of earlier attempts does not include the one logged beside it.
 */
class PostgresOutcomeStore implements OutcomeStore {
  private readonly text: string;
  private readonly names: readonly string[];
  private readonly group: PgGroupCommit<OutcomeWrite, boolean>;

  constructor(private readonly pool: pg.Pool) {
    const names: string[] = [];
    // Every parameter is a column of `v` (one row per outcome); the columns are prefixed so that none shares a
    // name with a column of "Delivery", which the SET list reads unqualified.
    const column = (name: string) => {
      if (!names.includes(name)) names.push(name);
      return `"p_${name}"`;
    };
    const bind = (sql: string, table: string) => sql.replace(/:([A-Za-z]+)/g, (_, name: string) => `${table}.${column(name)}`);
    const update = `UPDATE "Delivery" SET ${bind(SET_OUTCOME, "v")} FROM v WHERE ${bind(OWNED, "v")} RETURNING "Delivery".id, "Delivery".shop, v.*`;
    const logged = `INSERT INTO "DeliveryAttempt" (${ATTEMPT_COLUMNS})
       SELECT ${bind(":attemptId", "u")}, u.id, ${bind(":number, :startedAt, :durationMs, :outcome, :httpStatus, :error, :attemptResponse", "u")}
       FROM updated u WHERE ${bind(":logAttempt", "u")}
       RETURNING 1`;
    const triggered = `INSERT INTO "FlowTrigger" (${TRIGGER_COLUMNS})
       SELECT ${bind(":triggerId", "u")}, u.shop, ${bind(":triggerKind", "u")}, u.id,
              ${bind(dedupeKey("u.id", `SELECT count(*) FROM "DeliveryAttempt" a WHERE a."deliveryId" = u.id`), "u")},
              'pending', 0, ${bind(":at, :at", "u")}
       FROM updated u WHERE ${bind(":status", "u")} = 'failed'
       ON CONFLICT (shop, "dedupeKey") DO NOTHING
       RETURNING 1`;
    const arrays = names.map((name, index) => `$${index + 1}::${PG_TYPES[name] ?? "text"}[]`).join(", ");
    this.text = `WITH v AS (SELECT * FROM unnest(${arrays}) AS v(${names.map((name) => `"p_${name}"`).join(", ")})),
       updated AS (${update}),
       logged AS (${logged}),
       triggered AS (${triggered})
       SELECT id FROM updated`;
    this.names = names;
    this.group = new PgGroupCommit({
      write: (writes) => this.run(writes),
      keyOf: (write) => write.deliveryId,
      maxGroup: PG_OUTCOME_BATCH,
      maxInFlight: PG_OUTCOME_STATEMENTS_IN_FLIGHT,
      // As on SQLite: nothing waits on an outcome to send, and a statement for every two or three outcomes cost the
      // server 1.7 times the CPU per delivery (decision 051).
      gatherMs: OUTCOME_GATHER_MS,
    });
  }

  async finish(write: OutcomeWrite): Promise<boolean> {
    return notifyFailure(write, await this.group.submit(write));
  }

  drain(): Promise<void> {
    return this.group.drain();
  }

  /** Whether each outcome was written (false: its lease was no longer this worker's). */
  private async run(writes: readonly OutcomeWrite[]): Promise<boolean[]> {
    const rows = writes.map((write) => parameters(write, pgTimestamp, (value) => value) as Record<string, unknown>);
    const result = await this.pool.query<{ id: string }>({
      name: "delivery-outcomes",
      text: this.text,
      values: this.names.map((name) => rows.map((row) => row[name])),
    });
    const updated = new Set(result.rows.map((row) => row.id));
    return writes.map((write) => updated.has(write.deliveryId));
  }
}
