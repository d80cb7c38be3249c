/**
 * The claim's rows and its SQLite statements (decision 007), apart from the store so that the SQLite writer thread
 * can load them without the rest of the app (decision 018). claim-store.server.ts has the why.
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
  webhook: { body: string; topic: string; shop: string };
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
    webhook: { body: row.webhookBody, topic: row.webhookTopic, shop: row.webhookShop },
  };
}

/** Live before backfilled, then earliest due first. */
export function earliestFirst(rows: Row[]): Row[] {
  const rank = (row: Row) => (row.backfillId === null ? 0 : 1);
  return rows.sort((a, b) => rank(a) - rank(b) || new Date(a.nextAttemptAt).getTime() - new Date(b.nextAttemptAt).getTime());
}

export const RETURNED = `id, shop, "mappingId", topic, "externalEventId", "occurredAt", attempts, "createdAt", "nextAttemptAt", "webhookRecordId", "backfillId"`;

/** SQLite: prepares the statements on `db` and returns the claim, to run inside a transaction. */
export function prepareSqliteClaim(db: Sqlite.Database): (request: ClaimRequest) => ClaimedDelivery[] {
  const due = (condition: string) =>
    `SELECT id, "backfillId" IS NOT NULL AS background, "nextAttemptAt" AS due FROM "Delivery"
     WHERE ${condition} AND shop NOT IN (SELECT value FROM json_each(:excluded))
       AND ("backfillId" IS NULL OR "backfillId" NOT IN (SELECT value FROM json_each(:heldBackfills)))
     ORDER BY background, "nextAttemptAt" LIMIT :limit`;
  const update: Sqlite.Statement<[Record<string, unknown>], Omit<Row, "webhookBody" | "webhookTopic" | "webhookShop"> & { webhookRecordId: string }> = db.prepare(
    `UPDATE "Delivery"
     SET status = 'sending', "leaseOwner" = :workerId, "leaseExpiresAt" = :lease, attempts = attempts + 1, "updatedAt" = :now
     WHERE id IN (
       SELECT id FROM (
         SELECT * FROM (${due(`status = 'pending' AND "nextAttemptAt" <= :now`)})
         UNION ALL
         SELECT * FROM (${due(`status = 'sending' AND "leaseExpiresAt" < :now`)})
         ORDER BY background, due LIMIT :limit
       )
     )
     RETURNING ${RETURNED}`,
  );
  const webhooks: Sqlite.Statement<[string], { id: string; body: string; topic: string; shop: string }> = db.prepare(
    `SELECT id, body, topic, shop FROM "Webhook" WHERE id IN (SELECT value FROM json_each(?))`,
  );
  return (request) => {
    const leaseExpiresAt = new Date(request.now.getTime() + request.leaseMs);
    const claimed = update.all({
      workerId: request.workerId,
      lease: sqliteDate(leaseExpiresAt),
      now: sqliteDate(request.now),
      limit: request.limit,
      excluded: JSON.stringify(request.excludeShops),
      heldBackfills: JSON.stringify(request.excludeBackfills ?? []),
    });
    if (claimed.length === 0) return [];
    const bodies = new Map(webhooks.all(JSON.stringify([...new Set(claimed.map((row) => row.webhookRecordId))])).map((w) => [w.id, w]));
    const rows: Row[] = claimed.map((row) => {
      const webhook = bodies.get(row.webhookRecordId);
      if (!webhook) throw new Error(`Delivery ${row.id} has no webhook ${row.webhookRecordId}`);
      return { ...row, webhookBody: webhook.body, webhookTopic: webhook.topic, webhookShop: webhook.shop };
    });
    return earliestFirst(rows).map((row) => toClaimed(row, request, leaseExpiresAt));
  };
}
