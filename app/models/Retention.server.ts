import type { Database } from "~/db.server";

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
 * Which of them have deliveries is a second, separate read by id. With the NOT EXISTS inside the first read,
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
