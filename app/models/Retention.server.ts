import type pg from "pg";
import { driverOf, type Database } from "~/db.server";
import { pgTimestamp } from "~/db/sql-values";

/** Deliveries that are finished; one still pending or sending is never pruned, whatever its age. */
const FINISHED = ["delivered", "skipped", "failed"];

export async function shopsWithRetention(prisma: Database): Promise<Array<{ domain: string; logRetentionDays: number }>> {
  return prisma.shop.findMany({ select: { domain: true, logRetentionDays: true }, orderBy: { domain: "asc" } });
}

/**
 * One batch of the retention job. `found` is how many rows matched (the batch was the last when it is under the
 * limit); `deleted` how many went (fewer when a row changed between the read and the delete); `from` is where the
 * next batch starts reading.
 */
export interface PruneStep {
  found: number;
  deleted: number;
  from: Date | undefined;
}

/**
 * Deletes up to `limit` finished deliveries (and their attempts) created before `before`, reading from `from` on
 * (the last batch's latest `createdAt`). Starting there rather than at the shop's oldest row matters on PostgreSQL:
 * the rows earlier batches deleted stay in the index, dead, until a vacuum, and a read from the start walks every
 * one of them again, so each batch cost more than the last (decision 046). The rows at `from` itself are read
 * again; those deleted are gone, and those still unfinished do not match.
 */
export async function deleteExpiredDeliveries(prisma: Database, shop: string, before: Date, limit: number, from?: Date): Promise<PruneStep> {
  const driver = driverOf(prisma);
  if (driver.provider === "postgresql") return deleteExpiredDeliveriesPg(driver.pool, shop, before, limit, from);
  const rows = await prisma.delivery.findMany({
    where: { shop, createdAt: { lt: before, ...(from ? { gte: from } : {}) }, status: { in: FINISHED } },
    select: { id: true, createdAt: true },
    orderBy: { createdAt: "asc" },
    take: limit,
  });
  if (rows.length === 0) return { found: 0, deleted: 0, from };
  const ids = rows.map((row) => row.id);
  // Attempts first: SQLite enforces the cascade only when foreign keys are switched on.
  const [, deleted] = await prisma.$transaction([
    prisma.deliveryAttempt.deleteMany({ where: { deliveryId: { in: ids } } }),
    prisma.delivery.deleteMany({ where: { id: { in: ids }, status: { in: FINISHED } } }),
  ]);
  return { found: rows.length, deleted: deleted.count, from: rows[rows.length - 1]!.createdAt };
}

/** Where the webhook pass of the retention job reads on from: the last webhook it read, by time, then id. */
export interface WebhookCursor {
  receivedAt: Date;
  id: string;
}

export interface WebhookPruneStep {
  found: number;
  deleted: number;
  from: WebhookCursor | undefined;
}

/**
 * Reads the next `limit` webhooks received before `before` (after `from`, in time then id order) and deletes those no
 * delivery refers to any more. `found` counts every webhook read, deletable or not, so each batch moves the cursor by
 * `limit` rows and a run of webhooks that must stay (their deliveries unfinished) cannot hold it in place, even when
 * they share one instant (a backfill records a page of orders at once).
 *
 * On SQLite, which of them have deliveries is a second, separate read by id; PostgreSQL does the batch in one
 * statement (deleteExpiredWebhooksPg), with the read in a step of its own. With the NOT EXISTS inside the read,
 * PostgreSQL's planner, whose statistics say nearly every webhook has a delivery, expected a handful of matches and
 * chose to read the shop's whole expired day and sort it, for every batch: 50 ms a batch of ten (decision 046).
 */
export async function deleteExpiredWebhooks(
  prisma: Database,
  shop: string,
  before: Date,
  limit: number,
  from?: WebhookCursor,
): Promise<WebhookPruneStep> {
  const driver = driverOf(prisma);
  if (driver.provider === "postgresql") return deleteExpiredWebhooksPg(driver.pool, shop, before, limit, from);
  const rows = await prisma.webhook.findMany({
    where: {
      shop,
      receivedAt: { lt: before, ...(from ? { gte: from.receivedAt } : {}) },
      ...(from ? { OR: [{ receivedAt: { gt: from.receivedAt } }, { id: { gt: from.id } }] } : {}),
    },
    select: { id: true, receivedAt: true },
    orderBy: [{ receivedAt: "asc" }, { id: "asc" }],
    take: limit,
  });
  const last = rows.at(-1);
  if (!last) return { found: 0, deleted: 0, from };
  const referred = await prisma.delivery.findMany({
    where: { webhookRecordId: { in: rows.map((row) => row.id) } },
    select: { webhookRecordId: true },
  });
  const kept = new Set(referred.map((row) => row.webhookRecordId));
  const free = rows.filter((row) => !kept.has(row.id)).map((row) => row.id);
  // The guard stays on the delete: a delivery made for one of them since the read keeps it (the delete cascades).
  const deleted = free.length === 0 ? 0 : (await prisma.webhook.deleteMany({ where: { id: { in: free }, deliveries: { none: {} } } })).count;
  return { found: rows.length, deleted, from: { receivedAt: last.receivedAt, id: last.id } };
}

/**
 * PostgreSQL does a batch in one statement (decision 047): the read of the next `limit` rows from the cursor, the
 * delete of those that may go, and what the loop needs back (how many were read, how many went, where the next batch
 * starts). Through Prisma a batch was three or four round trips, each planned and, in Prisma, compiled: 6 to 7 ms a
 * webhook batch whatever its size, which held the batches at their floor of 10 rows, so the prune spent most of its
 * time and the server's on round trips rather than rows.
 *
 * The batch is read in a MATERIALIZED step of its own, so the planner plans the keyset read apart from the delete's
 * check (decision 046 says what a NOT EXISTS inside the read made of it), and the delete keeps its conditions. A
 * delivery that another transaction changed while the batch waited for its row is re-checked on its new version, so
 * one retried meanwhile is no longer finished and stays. A webhook's NOT EXISTS sees the deliveries committed when the
 * statement began; that is enough because nothing adds a delivery to an existing webhook (ingest writes a webhook's
 * deliveries with it, in one transaction), and a webhook's delete cascades to its deliveries, so that must stay true.
 * Cascades do the rest (a delivery's attempts go with it). Times go in as UTC TIMESTAMP(3), as Prisma writes
 * them, and come back through AT TIME ZONE 'UTC' so that node-postgres does not read them as local time.
 */
const FINISHED_SQL = FINISHED.map((status) => `'${status}'`).join(", ");

/** The delivery batch's statement: $1 shop, $2 before, $3 limit, and with a cursor $4 its createdAt. */
export function deliveryBatchSql(withCursor: boolean): string {
  return `WITH batch AS MATERIALIZED (
       SELECT id, "createdAt" FROM "Delivery"
       WHERE shop = $1 AND "createdAt" < $2::timestamp(3) ${withCursor ? `AND "createdAt" >= $4::timestamp(3)` : ""}
         AND status IN (${FINISHED_SQL})
       ORDER BY "createdAt"
       LIMIT $3
     ), gone AS (
       DELETE FROM "Delivery" d WHERE d.id IN (SELECT id FROM batch) AND d.status IN (${FINISHED_SQL})
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM batch)::int AS found, (SELECT count(*) FROM gone)::int AS deleted,
            ((SELECT max("createdAt") FROM batch) AT TIME ZONE 'UTC') AS "lastAt"`;
}

async function deleteExpiredDeliveriesPg(pool: pg.Pool, shop: string, before: Date, limit: number, from: Date | undefined): Promise<PruneStep> {
  const result = await pool.query<{ found: number; deleted: number; lastAt: Date | null }>(deliveryBatchSql(from !== undefined), [
    shop,
    pgTimestamp(before),
    limit,
    ...(from ? [pgTimestamp(from)] : []),
  ]);
  const row = result.rows[0]!;
  return { found: row.found, deleted: row.deleted, from: row.lastAt ?? from };
}

/** The webhook batch's statement: $1 shop, $2 before, $3 limit, and with a cursor $4 its receivedAt and $5 its id. */
export function webhookBatchSql(withCursor: boolean): string {
  return `WITH batch AS MATERIALIZED (
       SELECT id, "receivedAt" FROM "Webhook"
       WHERE shop = $1 AND "receivedAt" < $2::timestamp(3)
         ${withCursor ? `AND "receivedAt" >= $4::timestamp(3) AND ("receivedAt" > $4::timestamp(3) OR id > $5)` : ""}
       ORDER BY "receivedAt", id
       LIMIT $3
     ), gone AS (
       DELETE FROM "Webhook" w
       WHERE w.id IN (SELECT id FROM batch) AND NOT EXISTS (SELECT 1 FROM "Delivery" d WHERE d."webhookRecordId" = w.id)
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM batch)::int AS found, (SELECT count(*) FROM gone)::int AS deleted,
            (last."receivedAt" AT TIME ZONE 'UTC') AS "lastAt", last.id AS "lastId"
     FROM (SELECT 1) AS one
     LEFT JOIN LATERAL (SELECT id, "receivedAt" FROM batch ORDER BY "receivedAt" DESC, id DESC LIMIT 1) AS last ON true`;
}

async function deleteExpiredWebhooksPg(pool: pg.Pool, shop: string, before: Date, limit: number, from: WebhookCursor | undefined): Promise<WebhookPruneStep> {
  const result = await pool.query<{ found: number; deleted: number; lastAt: Date | null; lastId: string | null }>(webhookBatchSql(from !== undefined), [
    shop,
    pgTimestamp(before),
    limit,
    ...(from ? [pgTimestamp(from.receivedAt), from.id] : []),
  ]);
  const row = result.rows[0]!;
  const next = row.lastAt !== null && row.lastId !== null ? { receivedAt: row.lastAt, id: row.lastId } : from;
  return { found: row.found, deleted: row.deleted, from: next };
}
