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
import type Sqlite from "better-sqlite3";
import { randomUUID } from "node:crypto";
import type pg from "pg";
import { storeOn, type Database } from "~/db.server";
import type { Driver } from "~/db/driver.server";
import { pgTimestamp, sqliteDate, SqliteGroupWriter } from "~/db/sqlite-group-writer.server";
import { wakeFlowTriggerSender } from "./wake.server";

export interface OutcomeWrite {
  deliveryId: string;
  /** Written only while this worker still holds the delivery's lease. */
  workerId: string;
  status: "delivered" | "skipped" | "pending" | "failed";
  /** Set for delivered, skipped and failed; left as it is when undefined. */
  finishedAt?: Date;
  /** Set for pending (the next attempt); left as it is when undefined. */
  nextAttemptAt?: Date;
  /** Attentive's answer; left as it is when undefined. */
  response?: string | null;
  lastError: string | null;
  errorKind: string | null;
  /** What was sent, when something was. */
  sent?: { request: string; stale: boolean; orderName: string | null; email: string | null; eventType: string };
  /** A rate limit: the attempt this claim counted is given back (attempts - 1). */
  givesBackAttempt?: boolean;
  at: Date;
  /** The attempt's log row; null when nothing was attempted (a delivery put back before its send). */
  attempt: {
    number: number;
    startedAt: Date;
    durationMs: number;
    outcome: string;
    httpStatus: number | null;
    error: string | null;
    response: string | null;
  } | null;
}

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
  return driver.provider === "sqlite" ? new SqliteOutcomeStore(driver.db) : new PostgresOutcomeStore(driver.pool);
}

/** The SET list, one CASE per column an outcome may leave alone. */
const SET_OUTCOME = `
  status = :status,
  "finishedAt" = CASE WHEN :setFinishedAt THEN :finishedAt ELSE "finishedAt" END,
  "nextAttemptAt" = CASE WHEN :setNextAttemptAt THEN :nextAttemptAt ELSE "nextAttemptAt" END,
  response = CASE WHEN :setResponse THEN :response ELSE response END,
  "lastError" = :lastError,
  "errorKind" = :errorKind,
  request = CASE WHEN :sent THEN :request ELSE request END,
  stale = CASE WHEN :sent THEN :stale ELSE stale END,
  "orderName" = CASE WHEN :sent THEN :orderName ELSE "orderName" END,
  email = CASE WHEN :sent THEN :email ELSE email END,
  "eventType" = CASE WHEN :sent THEN :eventType ELSE "eventType" END,
  attempts = CASE WHEN :givesBack THEN attempts - 1 ELSE attempts END,
  "leaseOwner" = NULL,
  "leaseExpiresAt" = NULL,
  "updatedAt" = :at`;

const OWNED = `id = :deliveryId AND "leaseOwner" = :workerId AND status = 'sending'`;

const ATTEMPT_COLUMNS = `id, "deliveryId", number, "startedAt", "durationMs", outcome, "httpStatus", error, response`;

/** The outbox row's kind for a failed delivery. */
export const DELIVERY_FAILED_TRIGGER = "delivery_failed";

const TRIGGER_COLUMNS = `id, shop, kind, "deliveryId", "dedupeKey", status, attempts, "nextAttemptAt", "createdAt"`;

/**
 * The failure's identity: the delivery and the ordinal of its failing attempt in its attempt log,
 * which only grows (a merchant's Retry resets `attempts` to 0, so `attempts` would repeat and a
 * second failure after a Retry would go unannounced). `priorAttempts` counts the attempt rows
 * already in the log; the failing attempt is the next one when it is logged.
 */
const dedupeKey = (deliveryId: string, priorAttempts: string) =>
  `'delivery:' || ${deliveryId} || ':' || CAST((${priorAttempts}) + (CASE WHEN :logAttempt THEN 1 ELSE 0 END) AS TEXT)`;

/** After the commit, so the sender it wakes finds the outbox row already there. */
function notifyFailure(write: OutcomeWrite, written: boolean): boolean {
  if (written && write.status === "failed") wakeFlowTriggerSender();
  return written;
}

function parameters(write: OutcomeWrite, date: (value: Date | null) => string | null, flag: (value: boolean) => unknown) {
  return {
    status: write.status,
    setFinishedAt: flag(write.finishedAt !== undefined),
    finishedAt: date(write.finishedAt ?? null),
    setNextAttemptAt: flag(write.nextAttemptAt !== undefined),
    nextAttemptAt: date(write.nextAttemptAt ?? null),
    setResponse: flag(write.response !== undefined),
    response: write.response ?? null,
    lastError: write.lastError,
    errorKind: write.errorKind,
    sent: flag(write.sent !== undefined),
    request: write.sent?.request ?? null,
    stale: flag(write.sent?.stale ?? false),
    orderName: write.sent?.orderName ?? null,
    email: write.sent?.email ?? null,
    eventType: write.sent?.eventType ?? null,
    givesBack: flag(write.givesBackAttempt ?? false),
    at: date(write.at),
    deliveryId: write.deliveryId,
    workerId: write.workerId,
    logAttempt: flag(write.attempt !== null),
    attemptId: randomUUID(),
    number: write.attempt?.number ?? 0,
    startedAt: date(write.attempt?.startedAt ?? write.at),
    durationMs: write.attempt?.durationMs ?? 0,
    outcome: write.attempt?.outcome ?? "",
    httpStatus: write.attempt?.httpStatus ?? null,
    error: write.attempt?.error ?? null,
    attemptResponse: write.attempt?.response ?? null,
    triggerId: randomUUID(),
    triggerKind: DELIVERY_FAILED_TRIGGER,
  };
}

class SqliteOutcomeStore implements OutcomeStore {
  private readonly update: Sqlite.Statement<[Record<string, unknown>]>;
  private readonly insertAttempt: Sqlite.Statement<[Record<string, unknown>]>;
  private readonly insertTrigger: Sqlite.Statement<[Record<string, unknown>]>;
  private readonly writer: SqliteGroupWriter<OutcomeWrite, boolean>;

  constructor(db: Sqlite.Database) {
    // better-sqlite3 names parameters with @; the shared SQL uses :name, which SQLite accepts too.
    this.update = db.prepare(`UPDATE "Delivery" SET ${SET_OUTCOME} WHERE ${OWNED}`);
    this.insertAttempt = db.prepare(
      `INSERT INTO "DeliveryAttempt" (${ATTEMPT_COLUMNS})
       VALUES (:attemptId, :deliveryId, :number, :startedAt, :durationMs, :outcome, :httpStatus, :error, :attemptResponse)`,
    );
    // Runs before the attempt row is inserted, so the count is of the attempts before this one.
    // The WHERE keeps SQLite from reading ON CONFLICT as part of the SELECT's join.
    this.insertTrigger = db.prepare(
      `INSERT INTO "FlowTrigger" (${TRIGGER_COLUMNS})
       SELECT :triggerId, d.shop, :triggerKind, d.id,
              ${dedupeKey("d.id", `SELECT count(*) FROM "DeliveryAttempt" a WHERE a."deliveryId" = d.id`)},
              'pending', 0, :at, :at
       FROM "Delivery" d WHERE d.id = :deliveryId
       ON CONFLICT (shop, "dedupeKey") DO NOTHING`,
    );
    this.writer = new SqliteGroupWriter(db, (write) => this.writeOne(write), SQLITE_LOCK_WAIT_MS);
  }

  async finish(write: OutcomeWrite): Promise<boolean> {
    return notifyFailure(write, await this.writer.write(write));
  }

  drain() {
    return this.writer.drain();
  }

  private writeOne(write: OutcomeWrite): boolean {
    const values = parameters(write, sqliteDate, (value) => (value ? 1 : 0));
    const { changes } = this.update.run(pick(values, UPDATE_NAMES));
    if (changes !== 1) return false;
    if (write.status === "failed") this.insertTrigger.run(pick(values, TRIGGER_NAMES));
    if (write.attempt !== null) this.insertAttempt.run(pick(values, ATTEMPT_NAMES));
    return true;
  }
}

const UPDATE_NAMES = [
  "status",
  "setFinishedAt",
  "finishedAt",
  "setNextAttemptAt",
  "nextAttemptAt",
  "setResponse",
  "response",
  "lastError",
  "errorKind",
  "sent",
  "request",
  "stale",
  "orderName",
  "email",
  "eventType",
  "givesBack",
  "at",
  "deliveryId",
  "workerId",
] as const;
const TRIGGER_NAMES = ["triggerId", "triggerKind", "logAttempt", "at", "deliveryId"] as const;
const ATTEMPT_NAMES = ["attemptId", "deliveryId", "number", "startedAt", "durationMs", "outcome", "httpStatus", "error", "attemptResponse"] as const;

function pick<T extends Record<string, unknown>>(values: T, names: readonly (keyof T & string)[]): Record<string, unknown> {
  return Object.fromEntries(names.map((name) => [name, values[name]]));
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
