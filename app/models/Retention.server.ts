import type { Database } from "~/db.server";

/** Deliveries that are finished; one still pending or sending is never pruned, whatever its age. */
const FINISHED = ["delivered", "skipped", "failed"];

export async function shopsWithRetention(prisma: Database): Promise<Array<{ domain: string; logRetentionDays: number }>> {
  return prisma.shop.findMany({ select: { domain: true, logRetentionDays: true }, orderBy: { domain: "asc" } });
}

/** Deletes up to `limit` finished deliveries (and their attempts) created before `before`; returns how many. */
export async function deleteExpiredDeliveries(prisma: Database, shop: string, before: Date, limit: number): Promise<number> {
  const rows = await prisma.delivery.findMany({
    where: { shop, createdAt: { lt: before }, status: { in: FINISHED } },
    select: { id: true },
    take: limit,
  });
  if (rows.length === 0) return 0;
  const ids = rows.map((row) => row.id);
  // Attempts first: SQLite enforces the cascade only when foreign keys are switched on.
  const [, deleted] = await prisma.$transaction([
    prisma.deliveryAttempt.deleteMany({ where: { deliveryId: { in: ids } } }),
    prisma.delivery.deleteMany({ where: { id: { in: ids }, status: { in: FINISHED } } }),
  ]);
  return deleted.count;
}

/** Deletes up to `limit` webhooks received before `before` that no delivery refers to any more. */
export async function deleteExpiredWebhooks(prisma: Database, shop: string, before: Date, limit: number): Promise<number> {
  const rows = await prisma.webhook.findMany({
    where: { shop, receivedAt: { lt: before }, deliveries: { none: {} } },
    select: { id: true },
    take: limit,
  });
  if (rows.length === 0) return 0;
  const deleted = await prisma.webhook.deleteMany({ where: { id: { in: rows.map((row) => row.id) }, deliveries: { none: {} } } });
  return deleted.count;
}
