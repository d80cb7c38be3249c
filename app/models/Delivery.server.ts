import type { Database } from "~/db.server";

export const DELIVERY_STATUSES = ["pending", "sending", "delivered", "failed", "skipped"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export function isDeliveryStatus(value: string): value is DeliveryStatus {
  return (DELIVERY_STATUSES as readonly string[]).includes(value);
}

/**
 * Claims up to `limit` deliveries that are due (pending and due, or "sending" with
 * an expired lease: the worker that took it died). The claim is a conditional
 * update per row, so of several workers racing for one row exactly one wins, on
 * SQLite and on PostgreSQL alike.
 */
export async function claimDueDeliveries(
  prisma: Database,
  options: { workerId: string; limit: number; leaseMs: number; now: Date; excludeShops: string[] },
): Promise<string[]> {
  const { now } = options;
  const due = {
    OR: [
      { status: "pending", nextAttemptAt: { lte: now } },
      { status: "sending", leaseExpiresAt: { lt: now } },
    ],
    ...(options.excludeShops.length > 0 ? { shop: { notIn: options.excludeShops } } : {}),
  };
  const candidates = await prisma.delivery.findMany({
    where: due,
    orderBy: { nextAttemptAt: "asc" },
    take: options.limit,
    select: { id: true },
  });
  const claimed: string[] = [];
  for (const { id } of candidates) {
    const result = await prisma.delivery.updateMany({
      where: { id, ...due },
      data: {
        status: "sending",
        leaseOwner: options.workerId,
        leaseExpiresAt: new Date(now.getTime() + options.leaseMs),
        attempts: { increment: 1 },
      },
    });
    if (result.count === 1) claimed.push(id);
  }
  return claimed;
}

/** Earliest time a pending delivery becomes due, to sleep until then. */
export async function nextDueAt(prisma: Database, excludeShops: string[]): Promise<Date | null> {
  const next = await prisma.delivery.findFirst({
    where: { status: "pending", ...(excludeShops.length > 0 ? { shop: { notIn: excludeShops } } : {}) },
    orderBy: { nextAttemptAt: "asc" },
    select: { nextAttemptAt: true },
  });
  return next?.nextAttemptAt ?? null;
}

export interface DeliveryListFilter {
  status?: DeliveryStatus;
  limit?: number;
}

export async function listDeliveries(prisma: Database, shop: string, filter: DeliveryListFilter = {}) {
  return prisma.delivery.findMany({
    where: { shop, ...(filter.status ? { status: filter.status } : {}) },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: filter.limit ?? 50,
    select: {
      id: true,
      topic: true,
      eventType: true,
      status: true,
      attempts: true,
      externalEventId: true,
      occurredAt: true,
      stale: true,
      errorKind: true,
      lastError: true,
      orderName: true,
      createdAt: true,
      finishedAt: true,
    },
  });
}

export type RetryRequest = { id: string } | { allFailed: true };

/**
 * Puts failed deliveries of the shop back in the queue, keeping their
 * externalEventId. Only failed ones: a delivered event is never sent again.
 */
export async function retryDeliveries(prisma: Database, shop: string, request: RetryRequest, now = new Date()): Promise<number> {
  const where = "id" in request ? { shop, id: request.id, status: "failed" } : { shop, status: "failed" };
  const result = await prisma.delivery.updateMany({
    where,
    data: { status: "pending", nextAttemptAt: now, attempts: 0, errorKind: null, finishedAt: null, leaseOwner: null, leaseExpiresAt: null },
  });
  return result.count;
}
