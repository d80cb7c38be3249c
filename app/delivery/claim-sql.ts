/**
 * The claim's rows and its SQLite statements (decision 007), apart from the store so that the SQLite writer thread
 * can load them without the rest of the app (decision 021). claim-store.server.ts has the why.
 */
import type Sqlite from "better-sqlite3";
import { sqliteDate } from "~/db/sql-values";

export interface ClaimRequest {
  workerId: string;
  limit: number;
  leaseMs: number;
  now: Date;
  excludeShops: string[];
  /** Backfills whose deliveries wait (paused). */
  excludeBackfills?: string[];
  /**
   * At most this many deliveries of one shop in this claim (default: `limit`), so that one shop's backlog cannot
   * fill a claim while other shops have deliveries due (docs/decisions/022).
   */
  perShopLimit?: number;
}

/** How many candidates a claim reads: more than it takes when a shop's share is capped, to see other shops. */
export function candidatesToRead(request: ClaimRequest): number {
  return (request.perShopLimit ?? request.limit) < request.limit ? request.limit * CANDIDATE_FACTOR : request.limit;
}

/** Candidates read per delivery taken when the claim caps each shop's share. */
const CANDIDATE_FACTOR = 2;

/**
 * The candidates a claim takes, in the order given: at most `perShopLimit` per shop and `limit` in all.
 */
export function fairShare<T extends { shop: string }>(ordered: T[], request: ClaimRequest): T[] {
  const perShop = request.perShopLimit ?? request.limit;
  const taken = new Map<string, number>();
  const chosen: T[] = [];
  for (const row of ordered) {
    if (chosen.length >= request.limit) break;
    const n = taken.get(row.shop) ?? 0;
    if (n >= perShop) continue;
    taken.set(row.shop, n + 1);
    chosen.push(row);
  }
  return chosen;
}

export interface ClaimedDelivery {
  id: string;
  shop: string;
  mappingId: string;
  topic: string;
  externalEventId: string;
  occurredAt: Date | null;
  /** Attempts including this claim's. */
  attempts: number;
  createdAt: Date;
  /** The history backfill that recorded it, or null for live traffic. */
  backfillId: string | null;
  leaseOwner: string;
  leaseExpiresAt: Date;
  /** `id` lets the worker parse a body once for all the claim's deliveries of one webhook. */
  webhook: { id: string; body: string; topic: string; shop: string };
}

export interface Row {
  id: string;
  shop: string;
  mappingId: string;
  topic: string;
  externalEventId: string;
  occurredAt: string | Date | null;
  attempts: number;
  createdAt: string | Date;
  nextAttemptAt: string | Date;
  backfillId: string | null;
  webhookId: string;
  webhookBody: string;
  webhookTopic: string;
  webhookShop: string;
}

export function toClaimed(row: Row, request: ClaimRequest, leaseExpiresAt: Date): ClaimedDelivery {
  return {
    id: row.id,
    shop: row.shop,
    mappingId: row.mappingId,
    topic: row.topic,
    externalEventId: row.externalEventId,
    occurredAt: row.occurredAt === null ? null : new Date(row.occurredAt),
    attempts: Number(row.attempts),
    createdAt: new Date(row.createdAt),
    backfillId: row.backfillId ?? null,
    leaseOwner: request.workerId,
    leaseExpiresAt,
    webhook: { id: row.webhookId, body: row.webhookBody, topic: row.webhookTopic, shop: row.webhookShop },
  };
}

/** Live before backfilled, then earliest due first. */
export function earliestFirst(rows: Row[]): Row[] {
  const rank = (row: Row) => (row.backfillId === null ? 0 : 1);
  return rows.sort((a, b) => rank(a) - rank(b) || new Date(a.nextAttemptAt).getTime() - new Date(b.nextAttemptAt).getTime());
}

export const RETURNED = `id, shop, "mappingId", topic, "externalEventId", "occurredAt", attempts, "createdAt", "nextAttemptAt", "webhookRecordId", "backfillId"`;

type Candidate = { id: string; shop: string; background: number; due: string };

/** SQLite: prepares the statements on `db` and returns the claim, to run inside the writer's immediate transaction. */
export function prepareSqliteClaim(db: Sqlite.Database): (request: ClaimRequest) => ClaimedDelivery[] {
  // Pending deliveries are read live and backfilled apart, each in "nextAttemptAt" order alone: the
  // (status, nextAttemptAt) index then gives the order and the read stops at the limit. Ordered by
  // (background, nextAttemptAt) in one read, SQLite sorted every due delivery on each claim (4.5 ms with 6,000 due).
  const candidates = (condition: string, order: string) =>
    db.prepare<[Record<string, unknown>], Candidate>(
      `SELECT id, shop, "backfillId" IS NOT NULL AS background, "nextAttemptAt" AS due FROM "Delivery"
       WHERE ${condition} AND shop NOT IN (SELECT value FROM json_each(:excluded))
       ORDER BY ${order} LIMIT :fetch`,
    );
  const livePending = candidates(`status = 'pending' AND "nextAttemptAt" <= :now AND "backfillId" IS NULL`, `"nextAttemptAt"`);
  const backgroundPending = candidates(
    `status = 'pending' AND "nextAttemptAt" <= :now AND "backfillId" IS NOT NULL AND "backfillId" NOT IN (SELECT value FROM json_each(:heldBackfills))`,
    `"nextAttemptAt"`,
  );
  // Leases run out only for deliveries a worker had in hand: few rows, whatever the queue's length.
  const expiredLeases = candidates(
    `status = 'sending' AND "leaseExpiresAt" < :now AND ("backfillId" IS NULL OR "backfillId" NOT IN (SELECT value FROM json_each(:heldBackfills)))`,
    `background, "nextAttemptAt"`,
  );
  const take: Sqlite.Statement<[Record<string, unknown>], Omit<Row, "webhookId" | "webhookBody" | "webhookTopic" | "webhookShop"> & { webhookRecordId: string }> = db.prepare(
    // OR IGNORE: no value set here can break a constraint (none is NULL, and no UNIQUE index holds these columns),
    // but with the default ABORT, SQLite must be able to undo a multi-row UPDATE half-way, so it copied every page
    // the claim changed into a statement journal first: a fifth of the claim's CPU (bench/micro/sqlite-claim.ts).
    `UPDATE OR IGNORE "Delivery"
     SET status = 'sending', "leaseOwner" = :workerId, "leaseExpiresAt" = :lease, attempts = attempts + 1, "updatedAt" = :now
     WHERE id IN (SELECT value FROM json_each(:ids))
     RETURNING ${RETURNED}`,
  );
  const webhooks: Sqlite.Statement<[string], { id: string; body: string; topic: string; shop: string }> = db.prepare(
    `SELECT id, body, topic, shop FROM "Webhook" WHERE id IN (SELECT value FROM json_each(?))`,
  );
  // What is read here is taken before any other writer runs: the writer's transaction is immediate.
  return (request) => {
    const leaseExpiresAt = new Date(request.now.getTime() + request.leaseMs);
    const now = sqliteDate(request.now);
    const excluded = JSON.stringify(request.excludeShops);
    const heldBackfills = JSON.stringify(request.excludeBackfills ?? []);
    const fetch = candidatesToRead(request);
    const live = livePending.all({ now, excluded, fetch });
    const expired = expiredLeases.all({ now, excluded, heldBackfills, fetch });
    const liveCount = live.length + expired.filter((row) => row.background === 0).length;
    // A backfill's deliveries go only where live ones leave room (docs/decisions/016).
    const background = liveCount < request.limit ? backgroundPending.all({ now, excluded, heldBackfills, fetch }) : [];
    const chosen = fairShare(
      [...live, ...expired, ...background].sort((a, b) => a.background - b.background || new Date(a.due).getTime() - new Date(b.due).getTime()),
      request,
    );
    if (chosen.length === 0) return [];
    const claimed = take.all({
      workerId: request.workerId,
      lease: sqliteDate(leaseExpiresAt),
      now,
      ids: JSON.stringify(chosen.map((row) => row.id)),
    });
    if (claimed.length === 0) return [];
    const bodies = new Map(webhooks.all(JSON.stringify([...new Set(claimed.map((row) => row.webhookRecordId))])).map((w) => [w.id, w]));
    const rows: Row[] = claimed.map((row) => {
      const webhook = bodies.get(row.webhookRecordId);
      if (!webhook) throw new Error(`Delivery ${row.id} has no webhook ${row.webhookRecordId}`);
      return { ...row, webhookId: webhook.id, webhookBody: webhook.body, webhookTopic: webhook.topic, webhookShop: webhook.shop };
    });
    return earliestFirst(rows).map((row) => toClaimed(row, request, leaseExpiresAt));
  };
}
