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

interface QueuedOutcome {
  write: OutcomeWrite;
  resolve(written: boolean): void;
  reject(error: unknown): void;
}

/**
 * PostgreSQL: the outcomes that arrive while earlier ones are being written go together, in one statement and one
 * commit (group commit, as SQLite's writer does per turn): per outcome, a statement and a commit each cost the
 * server more than the rows themselves (`bench/micro/delivery-cpu.ts --postgresql`). At most
 * PG_OUTCOME_STATEMENTS_IN_FLIGHT statements run at once; an outcome waits at most for one of them to end.
 *
 * One statement does, for every outcome in it, the guarded update, the attempt row and (for a failure) the Flow
 * trigger's outbox row, so they commit together, and answers which deliveries it updated. Its CTEs all see the
 * tables as they were before it, so a trigger's count of earlier attempts does not include the one logged beside it.
 * When the statement fails, each outcome in it is written alone, so only the one that fails is refused.
 */
class PostgresOutcomeStore implements OutcomeStore {
  private readonly text: string;
  private readonly names: readonly string[];
  private queue: QueuedOutcome[] = [];
  private inFlight = 0;
  /** The deliveries whose outcomes are in the statements in flight. */
  private readonly writing = new Set<string>();
  private scheduled = false;
  private idle: Array<() => void> = [];

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
  }

  finish(write: OutcomeWrite): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ write, resolve, reject });
      this.pump();
    }).then((written) => notifyFailure(write, written));
  }

  drain(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Starts a statement after this turn (so that the turn's outcomes go together) when one may start. */
  private pump() {
    if (this.scheduled || this.queue.length === 0 || this.inFlight >= PG_OUTCOME_STATEMENTS_IN_FLIGHT) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.send();
    });
  }

  private send() {
    if (this.queue.length === 0 || this.inFlight >= PG_OUTCOME_STATEMENTS_IN_FLIGHT) return;
    const batch = this.takeBatch();
    if (batch.length === 0) return;
    this.inFlight++;
    // What did not fit in PG_OUTCOME_BATCH may go in the other slot.
    this.pump();
    this.writeBatch(batch).finally(() => {
      this.inFlight--;
      for (const queued of batch) this.writing.delete(queued.write.deliveryId);
      if (this.queue.length > 0) this.pump();
      else if (this.inFlight === 0) for (const resolve of this.idle.splice(0)) resolve();
    });
  }

  /**
   * Up to PG_OUTCOME_BATCH outcomes, at most one per delivery, and none of a delivery whose earlier outcome is being
   * written: a delivery's outcomes are written in the order given.
   */
  private takeBatch(): QueuedOutcome[] {
    const batch: QueuedOutcome[] = [];
    const rest: QueuedOutcome[] = [];
    for (const queued of this.queue) {
      const id = queued.write.deliveryId;
      if (batch.length < PG_OUTCOME_BATCH && !this.writing.has(id)) {
        this.writing.add(id);
        batch.push(queued);
      } else {
        rest.push(queued);
      }
    }
    this.queue = rest;
    return batch;
  }

  private async writeBatch(batch: QueuedOutcome[]): Promise<void> {
    let updated: Set<string>;
    try {
      updated = await this.run(batch.map((queued) => queued.write));
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      await Promise.all(batch.map((queued) => this.writeBatch([queued])));
      return;
    }
    for (const queued of batch) queued.resolve(updated.has(queued.write.deliveryId));
  }

  private async run(writes: OutcomeWrite[]): Promise<Set<string>> {
    const rows = writes.map((write) => parameters(write, pgTimestamp, (value) => value) as Record<string, unknown>);
    const result = await this.pool.query<{ id: string }>({
      name: "delivery-outcomes",
      text: this.text,
      values: this.names.map((name) => rows.map((row) => row[name])),
    });
    return new Set(result.rows.map((row) => row.id));
  }
}
