/**
 * A shop's history backfill as the merchant handles it (docs/decisions/016-history-backfill.md): which mappings can be
 * backfilled, starting one, its progress, pausing, resuming and cancelling. The runner that does the work is
 * app/backfill/runner.server.ts; both read and write the Backfill row, which is the backfill's whole state.
 */
import {
  ACTIVE_BACKFILL_STATUSES,
  ALL_ORDERS_SCOPE,
  BACKFILL_SETTLE_MS,
  RECENT_ORDERS_DAYS,
  type BackfillStatus,
} from "~/backfill/constants";
import type { Database } from "~/db.server";
import { grantedScopeSet } from "~/mapping/access-scopes";
import type { AdminGraphqlClient } from "~/shopify/order-lookup.server";
import { historySearch } from "~/topics/history-order";
import { CATALOG, isMappableTopic, MAPPABLE_TOPICS, type MappableTopic } from "~/topics/catalog";
import { wakeBackfills, wakeWorkers } from "~/delivery/wake.server";

const DAY_MS = 24 * 60 * 60_000;

/** A mapping the merchant can include, or a topic that cannot be rebuilt from history and why. */
export interface BackfillChoices {
  mappings: Array<{ id: string; topic: MappableTopic; topicLabel: string; eventType: string; enabled: boolean }>;
  unavailable: Array<{ topic: MappableTopic; label: string; why: string }>;
}

/** The shop's mappings whose topic has a history, in the catalog's order, and the topics without one. */
export async function backfillChoices(prisma: Database, shop: string): Promise<BackfillChoices> {
  const rows = await prisma.mapping.findMany({ where: { shop }, orderBy: { position: "asc" }, select: { id: true, topic: true, eventType: true, enabled: true } });
  const mappings: BackfillChoices["mappings"] = [];
  for (const topic of MAPPABLE_TOPICS) {
    if (CATALOG[topic].history.kind !== "bulk") continue;
    for (const row of rows) if (row.topic === topic) mappings.push({ id: row.id, topic, topicLabel: CATALOG[topic].label, eventType: row.eventType, enabled: row.enabled });
  }
  const unavailable = MAPPABLE_TOPICS.flatMap((topic) => {
    const history = CATALOG[topic].history;
    return history.kind === "none" ? [{ topic, label: CATALOG[topic].label, why: history.why }] : [];
  });
  return { mappings, unavailable };
}

export interface BackfillRequest {
  shop: string;
  since: Date;
  /** Defaults to now; never later than now less BACKFILL_SETTLE_MS. */
  until?: Date;
  mappingIds: readonly string[];
  /** The session's granted scopes (comma-separated), or null when not known. */
  grantedScope: string | null;
  now?: Date;
}

export type StartAnswer = { ok: true; id: string } | { ok: false; field: "since" | "until" | "mappings" | "backfill"; message: string };

/** Whether orders created at `since` are older than read_orders shows. */
export function needsAllOrders(since: Date, now = new Date()): boolean {
  return since.getTime() < now.getTime() - RECENT_ORDERS_DAYS * DAY_MS;
}

/** Checks a request and records the backfill (status queued); the runner takes it from there. */
export async function startBackfill(prisma: Database, request: BackfillRequest): Promise<StartAnswer> {
  const now = request.now ?? new Date();
  const latest = new Date(now.getTime() - BACKFILL_SETTLE_MS);
  const until = request.until && request.until < latest ? request.until : latest;
  if (Number.isNaN(request.since.getTime())) return { ok: false, field: "since", message: "Enter the first day to send, as a date (2026-09-01)." };
  if (request.until && Number.isNaN(request.until.getTime())) return { ok: false, field: "until", message: "Enter the last day to send, as a date, or leave it empty for up to now." };
  if (request.since >= until) return { ok: false, field: "since", message: "The first day must come before the last day (and before the last 10 minutes, which live webhooks cover)." };
  if (needsAllOrders(request.since, now)) {
    const granted = grantedScopeSet(request.grantedScope);
    if (granted !== null && !granted.has(ALL_ORDERS_SCOPE)) {
      return {
        ok: false,
        field: "since",
        message: `Shopify shows apps the last ${RECENT_ORDERS_DAYS} days of orders. To send older ones, grant access to all orders (read_all_orders) first, or start at most ${RECENT_ORDERS_DAYS} days back.`,
      };
    }
  }
  const ids = [...new Set(request.mappingIds)];
  if (ids.length === 0) return { ok: false, field: "mappings", message: "Choose at least one mapping to send past events for." };
  const mappings = await prisma.mapping.findMany({ where: { shop: request.shop, id: { in: ids } }, select: { id: true, topic: true, enabled: true, eventType: true } });
  if (mappings.length !== ids.length) return { ok: false, field: "mappings", message: "A chosen mapping no longer exists: reload the page and choose again." };
  for (const mapping of mappings) {
    if (!isMappableTopic(mapping.topic) || CATALOG[mapping.topic].history.kind !== "bulk") {
      return { ok: false, field: "mappings", message: `${mapping.eventType} cannot be sent from history (${mapping.topic}): leave it out.` };
    }
    if (!mapping.enabled) return { ok: false, field: "mappings", message: `${mapping.eventType} is turned off: turn it on in Mappings, or leave it out.` };
  }
  const topics = MAPPABLE_TOPICS.filter((topic) => mappings.some((mapping) => mapping.topic === topic));
  try {
    const row = await prisma.backfill.create({
      data: {
        shop: request.shop,
        activeShop: request.shop,
        status: "queued",
        since: request.since,
        until,
        mappingIds: JSON.stringify(mappings.map((mapping) => mapping.id)),
        topics: JSON.stringify(topics),
        nextRunAt: now,
        createdAt: now,
      },
      select: { id: true },
    });
    wakeBackfills();
    return { ok: true, id: row.id };
  } catch (error) {
    if (typeof error === "object" && error !== null && "code" in error && error.code === "P2002") {
      return { ok: false, field: "backfill", message: "A backfill is already under way for this shop: wait for it to finish, or cancel it first." };
    }
    throw error;
  }
}

export interface BackfillCounts {
  /** Deliveries the backfill recorded, and where they are. */
  recorded: number;
  pending: number;
  delivered: number;
  failed: number;
  skipped: number;
}

export interface BackfillView {
  id: string;
  status: BackfillStatus;
  since: string;
  until: string;
  topics: MappableTopic[];
  mappingIds: string[];
  /** Objects Shopify's bulk operation has collected so far (orders and their parts). */
  objectCount: number;
  ordersRead: number;
  linesRead: number;
  badLines: number;
  badLineSamples: Array<{ line: number; reason: string }>;
  lastError: string | null;
  createdAt: string;
  finishedAt: string | null;
  counts: BackfillCounts;
  /** Whole percent: Shopify's collecting is the first 10, reading the next 40, sending the rest. */
  percent: number;
}

function parseList<T>(text: string): T[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? (value as T[]) : [];
  } catch {
    return [];
  }
}

export async function backfillCounts(prisma: Database, backfillId: string): Promise<BackfillCounts> {
  const groups = await prisma.delivery.groupBy({ by: ["status"], where: { backfillId }, _count: { _all: true } });
  const counts: BackfillCounts = { recorded: 0, pending: 0, delivered: 0, failed: 0, skipped: 0 };
  for (const group of groups) {
    const n = group._count._all;
    counts.recorded += n;
    if (group.status === "pending" || group.status === "sending") counts.pending += n;
    else if (group.status === "delivered") counts.delivered += n;
    else if (group.status === "failed") counts.failed += n;
    else if (group.status === "skipped") counts.skipped += n;
  }
  return counts;
}

function percentOf(status: BackfillStatus, row: { objectCount: number; linesRead: number }, counts: BackfillCounts): number {
  if (status === "completed") return 100;
  if (status === "queued") return 0;
  if (status === "querying") return 5;
  const reading = row.objectCount > 0 ? Math.min(1, row.linesRead / row.objectCount) : status === "sending" ? 1 : 0;
  const sending = counts.recorded > 0 ? (counts.recorded - counts.pending) / counts.recorded : 0;
  return Math.min(99, Math.floor(10 + 40 * reading + 50 * sending * reading));
}

/** The shop's latest backfill (running or finished), or null when it never had one. */
export async function latestBackfill(prisma: Database, shop: string): Promise<BackfillView | null> {
  // The active one first: it is the latest by definition (one starts only once the one before finished), even when
  // both were created in the same millisecond, where ordering by createdAt alone answers either (PostgreSQL did).
  const row =
    (await prisma.backfill.findUnique({ where: { activeShop: shop } })) ??
    (await prisma.backfill.findFirst({ where: { shop }, orderBy: [{ createdAt: "desc" }, { finishedAt: "desc" }, { id: "desc" }] }));
  if (!row) return null;
  const counts = await backfillCounts(prisma, row.id);
  const status = row.status as BackfillStatus;
  return {
    id: row.id,
    status,
    since: row.since.toISOString(),
    until: row.until.toISOString(),
    topics: parseList<string>(row.topics).filter(isMappableTopic),
    mappingIds: parseList<string>(row.mappingIds),
    objectCount: row.objectCount,
    ordersRead: row.ordersRead,
    linesRead: row.linesRead,
    badLines: row.badLines,
    badLineSamples: parseList(row.badLineSamples),
    lastError: row.lastError,
    createdAt: row.createdAt.toISOString(),
    finishedAt: row.finishedAt?.toISOString() ?? null,
    counts,
    percent: percentOf(status, row, counts),
  };
}

export type ChangeAnswer = { ok: true; message: string } | { ok: false; message: string };

/** Stops reading and sending; what is recorded waits. */
export async function pauseBackfill(prisma: Database, shop: string, now = new Date()): Promise<ChangeAnswer> {
  const row = await prisma.backfill.findUnique({ where: { activeShop: shop }, select: { id: true, status: true } });
  if (!row) return { ok: false, message: "No backfill is under way for this shop." };
  if (row.status === "paused") return { ok: true, message: "The backfill is already paused." };
  const changed = await prisma.backfill.updateMany({ where: { id: row.id, status: row.status }, data: { status: "paused", pausedFrom: row.status, updatedAt: now } });
  if (changed.count === 0) return { ok: false, message: "The backfill changed meanwhile: reload and try again." };
  return { ok: true, message: "Backfill paused: nothing more is read or sent until you resume it." };
}

export async function resumeBackfill(prisma: Database, shop: string, now = new Date()): Promise<ChangeAnswer> {
  const row = await prisma.backfill.findUnique({ where: { activeShop: shop }, select: { id: true, status: true, pausedFrom: true } });
  if (!row || row.status !== "paused") return { ok: false, message: "No paused backfill for this shop." };
  const to = row.pausedFrom ?? "queued";
  await prisma.backfill.updateMany({ where: { id: row.id, status: "paused" }, data: { status: to, pausedFrom: null, nextRunAt: now, updatedAt: now } });
  wakeBackfills();
  // Its deliveries the pause held back are due again.
  wakeWorkers();
  return { ok: true, message: "Backfill resumed." };
}

/** The reason a cancelled backfill's unsent deliveries are skipped with. */
export const CANCELLED_REASON = "The backfill was cancelled before this past event was sent.";

/**
 * Finishes the shop's backfill as cancelled: its unsent deliveries are skipped (one already in flight may still go)
 * and, when `admin` is given, Shopify's bulk operation is asked to stop (best effort: it ends on its own anyway).
 */
export async function cancelBackfill(
  prisma: Database,
  shop: string,
  options: { reason?: string; admin?: AdminGraphqlClient | null; now?: Date } = {},
): Promise<ChangeAnswer> {
  const now = options.now ?? new Date();
  const row = await prisma.backfill.findUnique({ where: { activeShop: shop }, select: { id: true, status: true, bulkOperationId: true } });
  if (!row) return { ok: false, message: "No backfill is under way for this shop." };
  await prisma.$transaction([
    prisma.backfill.update({
      where: { id: row.id },
      data: { status: "cancelled", activeShop: null, pausedFrom: null, finishedAt: now, lastError: options.reason ?? null, leaseOwner: null, leaseExpiresAt: null },
    }),
    prisma.delivery.updateMany({
      where: { backfillId: row.id, status: "pending" },
      data: { status: "skipped", lastError: options.reason ? `${CANCELLED_REASON} ${options.reason}` : CANCELLED_REASON, errorKind: null, finishedAt: now },
    }),
  ]);
  if (options.admin && row.bulkOperationId && (row.status === "querying" || row.status === "queued")) {
    await options.admin
      .graphql(`#graphql
        mutation BackfillBulkOperationCancel($id: ID!) { bulkOperationCancel(id: $id) { bulkOperation { id status } userErrors { field message } } }`, { variables: { id: row.bulkOperationId } })
      .catch(() => undefined);
  }
  return { ok: true, message: "Backfill cancelled: events not yet sent will not be sent." };
}

/** The ids of backfills whose deliveries must not be sent now (paused), for the worker's claim. */
export async function heldBackfillIds(prisma: Database): Promise<string[]> {
  const rows = await prisma.backfill.findMany({ where: { status: "paused" }, select: { id: true } });
  return rows.map((row) => row.id);
}

/** Whether a shop's backfill is still under way (for Home). */
export function isActive(status: BackfillStatus): boolean {
  return ACTIVE_BACKFILL_STATUSES.includes(status);
}

/** How many orders a range holds, as Shopify counts them (a count over 10,000 is "at least"). */
export async function countOrders(admin: AdminGraphqlClient, range: { since: Date; until: Date }): Promise<{ count: number; atLeast: boolean }> {
  const response = await admin.graphql(
    `#graphql
      query BackfillOrdersCount($query: String!) { ordersCount(query: $query) { count precision } }`,
    { variables: { query: historySearch(range) } },
  );
  const payload = (await response.json()) as { data?: { ordersCount?: { count?: unknown; precision?: unknown } | null } };
  const counted = payload.data?.ordersCount;
  if (!counted || typeof counted.count !== "number") throw new Error("Shopify's Admin API did not answer the orders count");
  return { count: counted.count, atLeast: counted.precision === "AT_LEAST" };
}
