/**
 * A delivery outcome's values and SQL (decision 007), apart from the store so that the SQLite writer thread can
 * load them without the rest of the app (decision 021). outcome-store.server.ts has the why.
 */
import type Sqlite from "better-sqlite3";
import { sqliteDate } from "~/db/sql-values";
import { timeOrderedId } from "~/db/time-ordered-id";

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

/**
 * The SET list, one CASE per column an outcome may leave alone. An event rendered ahead is for the first send only
 * (decision 054): any outcome clears it, so a retry renders again and the customer's data is not kept twice.
 */
export const SET_OUTCOME = `
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
  prerendered = NULL,
  "updatedAt" = :at`;

export const OWNED = `id = :deliveryId AND "leaseOwner" = :workerId AND status = 'sending'`;

export const ATTEMPT_COLUMNS = `id, "deliveryId", number, "startedAt", "durationMs", outcome, "httpStatus", error, response`;

/** The outbox row's kind for a failed delivery. */
export const DELIVERY_FAILED_TRIGGER = "delivery_failed";

export const TRIGGER_COLUMNS = `id, shop, kind, "deliveryId", "dedupeKey", status, attempts, "nextAttemptAt", "createdAt"`;

/**
 * The failure's identity: the delivery and the ordinal of its failing attempt in its attempt log,
 * which only grows (a merchant's Retry resets `attempts` to 0, so `attempts` would repeat and a
 * second failure after a Retry would go unannounced). `priorAttempts` counts the attempt rows
 * already in the log; the failing attempt is the next one when it is logged.
 */
export const dedupeKey = (deliveryId: string, priorAttempts: string) =>
  `'delivery:' || ${deliveryId} || ':' || CAST((${priorAttempts}) + (CASE WHEN :logAttempt THEN 1 ELSE 0 END) AS TEXT)`;

export function parameters(write: OutcomeWrite, date: (value: Date | null) => string | null, flag: (value: boolean) => unknown) {
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
    attemptId: timeOrderedId(),
    number: write.attempt?.number ?? 0,
    startedAt: date(write.attempt?.startedAt ?? write.at),
    durationMs: write.attempt?.durationMs ?? 0,
    outcome: write.attempt?.outcome ?? "",
    httpStatus: write.attempt?.httpStatus ?? null,
    error: write.attempt?.error ?? null,
    attemptResponse: write.attempt?.response ?? null,
    triggerId: timeOrderedId(),
    triggerKind: DELIVERY_FAILED_TRIGGER,
  };
}

/** SQLite: prepares the statements on `db` and returns the write of one outcome, to run inside a transaction. */
export function prepareSqliteOutcome(db: Sqlite.Database): (write: OutcomeWrite) => boolean {
  // better-sqlite3 names parameters with @; the shared SQL uses :name, which SQLite accepts too.
  const update: Sqlite.Statement<[Record<string, unknown>]> = db.prepare(`UPDATE "Delivery" SET ${SET_OUTCOME} WHERE ${OWNED}`);
  const insertAttempt: Sqlite.Statement<[Record<string, unknown>]> = db.prepare(
    `INSERT INTO "DeliveryAttempt" (${ATTEMPT_COLUMNS})
     VALUES (:attemptId, :deliveryId, :number, :startedAt, :durationMs, :outcome, :httpStatus, :error, :attemptResponse)`,
  );
  // Runs before the attempt row is inserted, so the count is of the attempts before this one.
  // The WHERE keeps SQLite from reading ON CONFLICT as part of the SELECT's join.
  const insertTrigger: Sqlite.Statement<[Record<string, unknown>]> = db.prepare(
    `INSERT INTO "FlowTrigger" (${TRIGGER_COLUMNS})
     SELECT :triggerId, d.shop, :triggerKind, d.id,
            ${dedupeKey("d.id", `SELECT count(*) FROM "DeliveryAttempt" a WHERE a."deliveryId" = d.id`)},
            'pending', 0, :at, :at
     FROM "Delivery" d WHERE d.id = :deliveryId
     ON CONFLICT (shop, "dedupeKey") DO NOTHING`,
  );
  return (write) => {
    const values = parameters(write, sqliteDate, (value) => (value ? 1 : 0));
    const { changes } = update.run(pick(values, UPDATE_NAMES));
    if (changes !== 1) return false;
    if (write.status === "failed") insertTrigger.run(pick(values, TRIGGER_NAMES));
    if (write.attempt !== null) insertAttempt.run(pick(values, ATTEMPT_NAMES));
    return true;
  };
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

