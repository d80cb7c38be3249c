/**
 * The worker's claim on the database driver (decision 007): due deliveries taken under
 * this worker's lease and read with their webhooks, in one statement.
 *
 * A delivery is due when it is pending and its next attempt has come, or when it is
 * still `sending` under a lease that expired (its worker died). On SQLite the claim is
 * one UPDATE … RETURNING (SQLite has one writer, so two workers never take the same
 * row). On PostgreSQL the candidates are locked with FOR UPDATE SKIP LOCKED, so
 * concurrent workers take different rows instead of waiting on each other.
 *
 * Live deliveries come first: a history backfill's (backfillId set) are taken only when no live one is due, and a
 * paused backfill's not at all (docs/decisions/016).
 */
import type pg from "pg";
import { storeOn, type Database } from "~/db.server";
import type { Driver } from "~/db/driver.server";
import { pgTimestamp } from "~/db/sql-values";
import { sqliteWriterOf, type SqliteWriter } from "~/db/sqlite-writer.server";
import { earliestFirst, toClaimed, type ClaimedDelivery, type ClaimRequest, type Row } from "./claim-sql";

export type { ClaimedDelivery, ClaimRequest } from "./claim-sql";

export interface ClaimStore {
  /** Claims up to `limit` due deliveries, earliest due first. */
  claim(request: ClaimRequest): Promise<ClaimedDelivery[]>;
  drain(): Promise<void>;
}

/** A claim may wait this long for SQLite's lock; the worker simply claims later. */
const SQLITE_LOCK_WAIT_MS = 10_000;

/** The driver-level claim of due deliveries, for the same database as this client. */
export function claimStoreOf(prisma: Database): ClaimStore {
  return storeOn(prisma, openClaimStore);
}

export function openClaimStore(driver: Driver): ClaimStore {
  return driver.provider === "sqlite" ? new SqliteClaimStore(sqliteWriterOf(driver)) : new PostgresClaimStore(driver.pool);
}

/** SQLite: claims of one event-loop turn share one transaction, committed by the SQLite writer (decision 018). */
class SqliteClaimStore implements ClaimStore {
  constructor(private readonly writer: SqliteWriter) {}

  claim(request: ClaimRequest): Promise<ClaimedDelivery[]> {
    return this.writer.write("claim", request, SQLITE_LOCK_WAIT_MS);
  }

  drain() {
    return this.writer.drain();
  }
}

class PostgresClaimStore implements ClaimStore {
  constructor(private readonly pool: pg.Pool) {}

  async claim(request: ClaimRequest): Promise<ClaimedDelivery[]> {
    const leaseExpiresAt = new Date(request.now.getTime() + request.leaseMs);
    const due = (condition: string) =>
      `SELECT id, "backfillId" IS NOT NULL AS background, "nextAttemptAt" FROM "Delivery"
       WHERE ${condition} AND NOT (shop = ANY($4::text[]))
         AND ("backfillId" IS NULL OR NOT ("backfillId" = ANY($6::text[])))
       ORDER BY background, "nextAttemptAt" LIMIT $5 FOR UPDATE SKIP LOCKED`;
    const utc = (column: string) => `(c."${column}" AT TIME ZONE 'UTC') AS "${column}"`;
    const result = await this.pool.query<Row>({
      name: "delivery-claim",
      text: `WITH pending AS (${due(`status = 'pending' AND "nextAttemptAt" <= $3::timestamp(3)`)}),
                  expired AS (${due(`status = 'sending' AND "leaseExpiresAt" < $3::timestamp(3)`)}),
                  chosen AS (SELECT id FROM (SELECT * FROM pending UNION ALL SELECT * FROM expired) AS both_kinds ORDER BY background, "nextAttemptAt" LIMIT $5),
                  c AS (
                    UPDATE "Delivery" d
                    SET status = 'sending', "leaseOwner" = $1, "leaseExpiresAt" = $2::timestamp(3), attempts = d.attempts + 1, "updatedAt" = $3::timestamp(3)
                    FROM chosen WHERE d.id = chosen.id
                    RETURNING d.*
                  )
             SELECT c.id, c.shop, c."mappingId", c.topic, c."externalEventId", c.attempts, c."backfillId",
                    ${utc("occurredAt")}, ${utc("createdAt")}, ${utc("nextAttemptAt")},
                    w.body AS "webhookBody", w.topic AS "webhookTopic", w.shop AS "webhookShop"
             FROM c JOIN "Webhook" w ON w.id = c."webhookRecordId"`,
      values: [request.workerId, pgTimestamp(leaseExpiresAt), pgTimestamp(request.now), request.excludeShops, request.limit, request.excludeBackfills ?? []],
    });
    return earliestFirst(result.rows).map((row) => toClaimed(row, request, leaseExpiresAt));
  }

  async drain() {}
}
