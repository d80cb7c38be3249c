import type { Database } from "~/db.server";
import { wakeWorkers } from "~/delivery/wake.server";

import { FLOW_MAPPING_ID, isFlowTopic, type LoggedBySource, type SentBySource } from "./delivery-sources";
import type { DeliveryStatus } from "./delivery-statuses";

export { DELIVERY_STATUSES, isDeliveryStatus, type DeliveryStatus } from "./delivery-statuses";

export interface DeliveryListFilter {
  status?: DeliveryStatus;
  limit?: number;
}

/** The newest deliveries of a shop (the CLI's list): the first page of the delivery log. */
export async function listDeliveries(prisma: Database, shop: string, filter: DeliveryListFilter = {}) {
  const page = await deliveryLogPage(prisma, shop, filter.status ? { status: filter.status } : {}, null, filter.limit ?? 50);
  return page.deliveries;
}

/** A failed delivery made due again with a fresh retry budget; its externalEventId stays. */
function requeued(now: Date) {
  return { status: "pending", nextAttemptAt: now, attempts: 0, errorKind: null, finishedAt: null, leaseOwner: null, leaseExpiresAt: null };
}

export type RetryRequest = { id: string } | { allFailed: true };

/**
 * Puts failed deliveries of the shop back in the queue, keeping their
 * externalEventId. Only failed ones: a delivered event is never sent again. A single
 * delivery that is pending but waiting for its next attempt (after a retryable failure or a
 * long Retry-After) is made due now, with the attempts it has left.
 */
export async function retryDeliveries(prisma: Database, shop: string, request: RetryRequest, now = new Date()): Promise<number> {
  if ("id" in request) return (await retryDelivery(prisma, shop, request.id, now)).ok ? 1 : 0;
  const result = await prisma.delivery.updateMany({ where: { shop, status: "failed" }, data: requeued(now) });
  if (result.count > 0) wakeWorkers();
  return result.count;
}

export type RetryAnswer = { ok: true; message: string } | { ok: false; message: string };

/** A merchant's Retry of one delivery, with what happened in plain words either way. */
export async function retryDelivery(prisma: Database, shop: string, id: string, now = new Date()): Promise<RetryAnswer> {
  const failed = await prisma.delivery.updateMany({ where: { shop, id, status: "failed" }, data: requeued(now) });
  if (failed.count === 1) {
    wakeWorkers();
    return { ok: true, message: "Delivery queued for another attempt" };
  }
  const waiting = await prisma.delivery.updateMany({ where: { shop, id, status: "pending", nextAttemptAt: { gt: now } }, data: { nextAttemptAt: now } });
  if (waiting.count === 1) {
    wakeWorkers();
    return { ok: true, message: "Delivery will be sent now instead of waiting for its next attempt" };
  }
  const row = await prisma.delivery.findFirst({ where: { shop, id }, select: { status: true } });
  return { ok: false, message: whyNotRetried(row?.status ?? null) };
}

function whyNotRetried(status: string | null): string {
  switch (status) {
    case null:
      return "This delivery no longer exists.";
    case "pending":
      return "This delivery is already due: it will be sent within moments.";
    case "sending":
      return "This delivery is being sent right now: its result will show here in a moment.";
    case "delivered":
      return "This delivery was already delivered: Attentive has the event, so it is not sent again.";
    case "skipped":
      return "This delivery was skipped on purpose (the reason is shown above), so there is nothing to retry.";
    default:
      return "Only a failed or waiting delivery can be retried.";
  }
}

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

export interface DeliveryStats {
  delivered24h: number;
  failed24h: number;
  delivered7d: number;
  failed7d: number;
  /** Delivered / (delivered + failed) over 7 days, or null when nothing finished. */
  successRate7d: number | null;
  stale24h: number;
  oldestPendingAt: Date | null;
  pending: number;
}

/** The home page's status at a glance; each figure is one indexed count. */
export async function deliveryStats(prisma: Database, shop: string, now = new Date()): Promise<DeliveryStats> {
  const since24h = new Date(now.getTime() - DAY_MS);
  const since7d = new Date(now.getTime() - 7 * DAY_MS);
  const count = (status: string, since: Date) => prisma.delivery.count({ where: { shop, status, createdAt: { gte: since } } });
  const [delivered24h, failed24h, delivered7d, failed7d, stale24h, pending, oldest] = await Promise.all([
    count("delivered", since24h),
    count("failed", since24h),
    count("delivered", since7d),
    count("failed", since7d),
    // Late live events only: a backfill's past events are stale by design (the Past orders page says so).
    prisma.delivery.count({ where: { shop, stale: true, backfillId: null, createdAt: { gte: since24h } } }),
    prisma.delivery.count({ where: { shop, status: { in: ["pending", "sending"] } } }),
    prisma.delivery.findFirst({
      where: { shop, status: { in: ["pending", "sending"] } },
      orderBy: { createdAt: "asc" },
      select: { createdAt: true },
    }),
  ]);
  const finished = delivered7d + failed7d;
  return {
    delivered24h,
    failed24h,
    delivered7d,
    failed7d,
    successRate7d: finished === 0 ? null : delivered7d / finished,
    stale24h,
    pending,
    oldestPendingAt: oldest?.createdAt ?? null,
  };
}

export interface HourlyDeliveries {
  hour: Date;
  delivered: number;
  failed: number;
  other: number;
}

/** Deliveries per hour over the last 24 hours, by outcome (for the home page chart). */
export async function hourlyDeliveries(prisma: Database, shop: string, now = new Date()): Promise<HourlyDeliveries[]> {
  const end = new Date(Math.ceil(now.getTime() / HOUR_MS) * HOUR_MS);
  const hours = Array.from({ length: 24 }, (_, i) => new Date(end.getTime() - (24 - i) * HOUR_MS));
  return Promise.all(
    hours.map(async (hour) => {
      const groups = await prisma.delivery.groupBy({
        by: ["status"],
        where: { shop, createdAt: { gte: hour, lt: new Date(hour.getTime() + HOUR_MS) } },
        _count: { _all: true },
      });
      const of = (status: string) => groups.find((group) => group.status === status)?._count._all ?? 0;
      const total = groups.reduce((sum, group) => sum + group._count._all, 0);
      return { hour, delivered: of("delivered"), failed: of("failed"), other: total - of("delivered") - of("failed") };
    }),
  );
}

export interface DeliveryLogFilter {
  /** One status, or any of several (the log's Waiting view: pending or sending). */
  status?: DeliveryStatus | readonly DeliveryStatus[];
  topic?: string;
  eventType?: string;
  from?: Date;
  to?: Date;
  /** An order name ("#1001" or "1001") or an email address. */
  search?: string;
  /** Only the events history backfills recorded (deliveries with a backfillId). */
  backfill?: boolean;
  /**
   * Only events sent more than 12 hours after they happened. Live ones only, unless `backfill` is set too: a
   * backfill's past events are stale by design and would bury the late live events (Home counts those the same way).
   */
  stale?: boolean;
}

export interface DeliveryCursor {
  createdAt: Date;
  id: string;
}

export function encodeCursor(cursor: DeliveryCursor): string {
  return Buffer.from(`${cursor.createdAt.toISOString()}|${cursor.id}`, "utf8").toString("base64url");
}

export function decodeCursor(value: string | null | undefined): DeliveryCursor | null {
  if (!value) return null;
  const [iso, id] = Buffer.from(value, "base64url").toString("utf8").split("|");
  const createdAt = new Date(iso ?? "");
  if (!id || Number.isNaN(createdAt.getTime())) return null;
  return { createdAt, id };
}

function logWhere(shop: string, filter: DeliveryLogFilter) {
  const search = filter.search?.trim();
  let searchWhere = {};
  if (search) {
    if (search.includes("@")) searchWhere = { email: search.toLowerCase() };
    else if (/^#?\d+$/.test(search)) searchWhere = { orderName: { in: [`#${search.replace(/^#/, "")}`, search.replace(/^#/, "")] } };
    else searchWhere = { orderName: search };
  }
  const statuses = typeof filter.status === "string" ? [filter.status] : (filter.status ?? []);
  return {
    shop,
    ...(statuses.length === 1 ? { status: statuses[0] } : statuses.length > 1 ? { status: { in: [...statuses] } } : {}),
    ...(filter.topic ? { topic: filter.topic } : {}),
    ...(filter.eventType ? { eventType: filter.eventType } : {}),
    ...(filter.backfill ? { backfillId: { not: null } } : filter.stale ? { backfillId: null } : {}),
    ...(filter.stale ? { stale: true } : {}),
    ...(filter.from || filter.to
      ? { createdAt: { ...(filter.from ? { gte: filter.from } : {}), ...(filter.to ? { lt: filter.to } : {}) } }
      : {}),
    ...searchWhere,
  };
}

/** Where a page of the log starts: after a row (older ones) or before it (newer ones); null for the newest. */
export type DeliveryLogPosition = { after: DeliveryCursor } | { before: DeliveryCursor } | null;

/**
 * One page of the delivery log, newest first, by keyset (createdAt, id): the cost of
 * a page does not grow with the size of the log, unlike OFFSET. `nextCursor` leads to older rows,
 * `previousCursor` to newer ones (null on the newest page).
 */
export async function deliveryLogPage(
  prisma: Database,
  shop: string,
  filter: DeliveryLogFilter,
  position: DeliveryLogPosition,
  pageSize = 50,
) {
  const after = position && "after" in position ? position.after : null;
  const before = position && "before" in position ? position.before : null;
  const rows = await prisma.delivery.findMany({
    where: {
      ...logWhere(shop, filter),
      ...(after
        ? { OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] }
        : before
          ? { OR: [{ createdAt: { gt: before.createdAt } }, { createdAt: before.createdAt, id: { gt: before.id } }] }
          : {}),
    },
    // Newer rows than a cursor are read upwards from it, then put back newest first.
    orderBy: before ? [{ createdAt: "asc" }, { id: "asc" }] : [{ createdAt: "desc" }, { id: "desc" }],
    take: pageSize + 1,
    select: {
      id: true,
      topic: true,
      eventType: true,
      status: true,
      attempts: true,
      externalEventId: true,
      stale: true,
      errorKind: true,
      lastError: true,
      orderName: true,
      email: true,
      occurredAt: true,
      createdAt: true,
      finishedAt: true,
      backfillId: true,
      // A Flow delivery is told apart by its action run, which is its webhook row's event key.
      webhook: { select: { eventKey: true } },
    },
  });
  const more = rows.length > pageSize;
  const slice = rows.slice(0, pageSize);
  if (before) slice.reverse();
  const page = slice.map(({ webhook, backfillId, ...row }) => ({ ...row, flowRunId: isFlowTopic(row.topic) ? webhook.eventKey : null, pastOrder: backfillId !== null }));
  const first = page.at(0);
  const last = page.at(-1);
  // Past the cursor's own row there is always something the other way (an emptied page points back at the cursor).
  const nextCursor = before ? encodeCursor(last ?? before) : more && last ? encodeCursor(last) : null;
  const previousCursor = after ? encodeCursor(first ?? after) : before && more && first ? encodeCursor(first) : null;
  return { deliveries: page, nextCursor, previousCursor };
}

/**
 * Deliveries matching the log filter, from Shopify webhooks, from Flow and from backfilled past orders, in one
 * grouped count (a handful of groups: one per topic and backfill).
 */
export async function deliveriesBySource(prisma: Database, shop: string, filter: DeliveryLogFilter): Promise<LoggedBySource> {
  const groups = await prisma.delivery.groupBy({ by: ["topic", "backfillId"], where: logWhere(shop, filter), _count: { _all: true } });
  const counts: LoggedBySource = { webhooks: 0, flow: 0, backfill: 0 };
  for (const group of groups) {
    if (group.backfillId !== null) counts.backfill += group._count._all;
    else if (isFlowTopic(group.topic)) counts.flow += group._count._all;
    else counts.webhooks += group._count._all;
  }
  return counts;
}

/** Puts every failed delivery that matches the log filter back in the queue. */
export async function retryFailedMatching(prisma: Database, shop: string, filter: DeliveryLogFilter, now = new Date()): Promise<number> {
  const result = await prisma.delivery.updateMany({ where: logWhere(shop, { ...filter, status: "failed" }), data: requeued(now) });
  return result.count;
}

/** One delivery with its webhook and attempts, only if it belongs to the shop. */
export async function deliveryDetail(prisma: Database, shop: string, id: string) {
  return prisma.delivery.findFirst({
    where: { id, shop },
    include: {
      webhook: {
        select: { id: true, topic: true, webhookId: true, eventId: true, eventKey: true, apiVersion: true, triggeredAt: true, receivedAt: true, body: true },
      },
      attemptLog: { orderBy: { number: "asc" } },
    },
  });
}

/** Distinct event types in the shop's log, for the filter menu. */
export async function loggedEventTypes(prisma: Database, shop: string): Promise<string[]> {
  const rows = await prisma.delivery.findMany({ where: { shop }, distinct: ["eventType"], select: { eventType: true }, take: 200 });
  return rows.map((row) => row.eventType).filter((type) => type !== "").sort();
}

export interface MappingActivity {
  deliveries7d: number;
  delivered7d: number;
  failures7d: number;
  lastError: string | null;
}

/** Per mapping: deliveries and failures in the last 7 days and the latest failure's reason. */
export async function mappingActivity(prisma: Database, shop: string, now = new Date()): Promise<Map<string, MappingActivity>> {
  const since = new Date(now.getTime() - 7 * DAY_MS);
  const groups = await prisma.delivery.groupBy({
    by: ["mappingId", "status"],
    where: { shop, createdAt: { gte: since } },
    _count: { _all: true },
  });
  const activity = new Map<string, MappingActivity>();
  for (const group of groups) {
    const entry = activity.get(group.mappingId) ?? { deliveries7d: 0, delivered7d: 0, failures7d: 0, lastError: null };
    entry.deliveries7d += group._count._all;
    if (group.status === "delivered") entry.delivered7d += group._count._all;
    if (group.status === "failed") entry.failures7d += group._count._all;
    activity.set(group.mappingId, entry);
  }
  await Promise.all(
    [...activity.entries()]
      .filter(([, entry]) => entry.failures7d > 0)
      .map(async ([mappingId, entry]) => {
        const latest = await prisma.delivery.findFirst({
          where: { shop, mappingId, status: "failed" },
          orderBy: { createdAt: "desc" },
          select: { lastError: true },
        });
        entry.lastError = latest?.lastError ?? null;
      }),
  );
  return activity;
}

/**
 * Events delivered in the last 7 days from Shopify webhooks and from Flow, read from the activity the home page
 * already counts: every delivery has a mapping id, and a Flow delivery has the Flow one.
 */
export function sentBySource(activity: Map<string, MappingActivity>): SentBySource {
  const counts: SentBySource = { webhooks: 0, flow: 0 };
  for (const [mappingId, entry] of activity) {
    if (mappingId === FLOW_MAPPING_ID) counts.flow += entry.delivered7d;
    else counts.webhooks += entry.delivered7d;
  }
  return counts;
}
