/**
 * Shopify does not guarantee webhook delivery. Periodically, for each installed shop, this
 * job asks the Admin GraphQL API for the orders fulfilled and refunds created since its last
 * run and records any the app never received through the webhook path's own recordWebhook,
 * with the same event key (the resource gid). So a webhook that arrives later after all is a
 * duplicate, and a missed event is sent once like any other (docs/decisions/004).
 *
 * The window ends `settleMs` before now: webhooks normally arrive within seconds, and one that
 * does carries the full body, which the merchant's templates may need.
 */
import type { Logger } from "pino";
import { z } from "zod";
import type { Database } from "~/db.server";
import { startPeriodicJob, type PeriodicJob } from "~/jobs/periodic-job.server";
import { adminOrderIdentity, orderIdentityBody } from "~/shopify/admin-order";
import type { AdminForShop, AdminGraphqlClient } from "~/shopify/order-lookup.server";
import { RECONCILE_FULFILLED_ORDERS_QUERY } from "~/shopify/reconcile-fulfilled-orders.graphql";
import { RECONCILE_REFUNDS_QUERY } from "~/shopify/reconcile-refunds.graphql";
import type { JsonValue } from "~/shopify/json";
import { errorSummary, recordWebhook } from "~/webhooks/receive.server";

export interface ReconcileOptions {
  prisma: Database;
  adminForShop: AdminForShop;
  logger: Logger;
  /** The Admin API version the queries are written for (recorded like a webhook's). */
  apiVersion: string;
  settleMs?: number;
  /** How far back a shop's first run looks (never before the shop installed the app). */
  firstRunLookbackMs?: number;
  /** Pages of 50 orders per query and run; a run that would need more resumes next time. */
  maxPages?: number;
  onRecorded?: () => void;
  now?: () => Date;
}

export interface ShopReconciliation {
  shop: string;
  from: Date;
  until: Date;
  recorded: number;
  duplicates: number;
  error?: string;
}

const DEFAULT_SETTLE_MS = 10 * 60_000;
const DEFAULT_FIRST_RUN_LOOKBACK_MS = 24 * 60 * 60_000;
const DEFAULT_MAX_PAGES = 40;

const money = z.object({ amount: z.string(), currencyCode: z.string() });
const pageInfo = z.object({ hasNextPage: z.boolean(), endCursor: z.string().nullable() });
const fulfilledOrder = adminOrderIdentity.extend({
  createdAt: z.string(),
  updatedAt: z.string(),
  closedAt: z.string().nullish(),
  displayFulfillmentStatus: z.string(),
  fulfillments: z.array(
    z.object({
      id: z.string(),
      createdAt: z.string(),
      trackingInfo: z.array(z.object({ number: z.string().nullish(), url: z.string().nullish(), company: z.string().nullish() })).nullish(),
    }),
  ),
  lineItems: z.object({ nodes: z.array(z.object({ title: z.string(), quantity: z.number() })) }),
});
const fulfilledOrdersResponse = z.object({
  data: z.object({ orders: z.object({ pageInfo, nodes: z.array(fulfilledOrder) }) }),
});

const refund = z.object({
  id: z.string(),
  legacyResourceId: z.string(),
  createdAt: z.string(),
  note: z.string().nullish(),
  transactions: z.object({
    nodes: z.array(z.object({ kind: z.string(), status: z.string(), amountSet: z.object({ presentmentMoney: money }).nullish() })),
  }),
  refundLineItems: z.object({ nodes: z.array(z.object({ quantity: z.number(), lineItem: z.object({ title: z.string() }).nullish() })) }),
});
const refundsResponse = z.object({
  data: z.object({
    orders: z.object({ pageInfo, nodes: z.array(z.object({ id: z.string(), legacyResourceId: z.string(), refunds: z.array(refund) })) }),
  }),
});

type FulfilledOrder = z.infer<typeof fulfilledOrder>;
type Refund = z.infer<typeof refund>;

/** The order in the orders/fulfilled webhook's shape, for the fields templates and defaults read. */
export function fulfilledOrderBody(order: FulfilledOrder): { [key: string]: JsonValue } {
  const fulfillments = [...order.fulfillments].sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt));
  return {
    ...orderIdentityBody(order),
    created_at: order.createdAt,
    updated_at: order.updatedAt,
    closed_at: order.closedAt ?? null,
    fulfillment_status: "fulfilled",
    line_items: order.lineItems.nodes.map((item) => ({ title: item.title, quantity: item.quantity })),
    fulfillments: fulfillments.map((fulfillment) => ({
      admin_graphql_api_id: fulfillment.id,
      created_at: fulfillment.createdAt,
      tracking_number: fulfillment.trackingInfo?.[0]?.number ?? null,
      tracking_url: fulfillment.trackingInfo?.[0]?.url ?? null,
      tracking_company: fulfillment.trackingInfo?.[0]?.company ?? null,
    })),
    // Marks the body as rebuilt from the Admin API rather than sent by Shopify.
    source: "reconciliation",
  };
}

/** The refund in the refunds/create webhook's shape. */
export function refundBody(orderId: string, item: Refund): { [key: string]: JsonValue } {
  return {
    id: item.legacyResourceId,
    admin_graphql_api_id: item.id,
    order_id: orderId,
    created_at: item.createdAt,
    note: item.note ?? null,
    transactions: item.transactions.nodes.map((transaction) => ({
      kind: transaction.kind.toLowerCase(),
      status: transaction.status.toLowerCase(),
      amount: transaction.amountSet?.presentmentMoney.amount ?? null,
      currency: transaction.amountSet?.presentmentMoney.currencyCode ?? null,
    })),
    refund_line_items: item.refundLineItems.nodes.map((line) => ({ quantity: line.quantity, line_item: { title: line.lineItem?.title ?? null } })),
    source: "reconciliation",
  };
}

class ReconcileError extends Error {
  override name = "ReconcileError";
}

async function query(admin: AdminGraphqlClient, document: string, variables: Record<string, unknown>): Promise<unknown> {
  let response: Response;
  try {
    response = await admin.graphql(document, { variables });
  } catch (error) {
    const status = error instanceof Response ? ` (HTTP ${error.status})` : "";
    throw new ReconcileError(`the Admin API did not answer${status}: ${error instanceof Error ? error.message : "request failed"}`);
  }
  return response.json();
}

function inWindow(at: string, from: Date, until: Date): boolean {
  const time = Date.parse(at);
  return time > from.getTime() && time <= until.getTime();
}

async function* pages<T extends { data: { orders: { pageInfo: z.infer<typeof pageInfo>; nodes: unknown[] } } }>(
  admin: AdminGraphqlClient,
  document: string,
  search: string,
  schema: z.ZodType<T>,
  maxPages: number,
): AsyncGenerator<T["data"]["orders"]["nodes"]> {
  let after: string | null = null;
  for (let page = 0; page < maxPages; page++) {
    const payload = schema.safeParse(await query(admin, document, { query: search, after }));
    if (!payload.success) throw new ReconcileError("the Admin API answered with an unexpected shape");
    yield payload.data.data.orders.nodes;
    const info = payload.data.data.orders.pageInfo;
    if (!info.hasNextPage || !info.endCursor) return;
    after = info.endCursor;
  }
  throw new ReconcileError(`more than ${maxPages * 50} orders changed in the window; the next run continues from the same point`);
}

export async function reconcileShop(options: ReconcileOptions, shop: string): Promise<ShopReconciliation> {
  const { prisma } = options;
  const now = options.now?.() ?? new Date();
  const until = new Date(now.getTime() - (options.settleMs ?? DEFAULT_SETTLE_MS));
  const [state, shopRow] = await Promise.all([
    prisma.reconciliation.findUnique({ where: { shop } }),
    prisma.shop.findUnique({ where: { domain: shop }, select: { installedAt: true } }),
  ]);
  // A first run never reaches before the install: those events were not the app's to send.
  const firstFrom = new Date(Math.max(now.getTime() - (options.firstRunLookbackMs ?? DEFAULT_FIRST_RUN_LOOKBACK_MS), shopRow?.installedAt.getTime() ?? 0));
  const from = state?.checkedUntil ?? firstFrom;
  const result: ShopReconciliation = { shop, from, until, recorded: 0, duplicates: 0 };
  if (until <= from) return result;

  const receive = { prisma, authenticate: () => Promise.reject(new Error("not used")), now: () => now, ...(options.onRecorded ? { onRecorded: options.onRecorded } : {}) };
  const record = async (topic: "orders/fulfilled" | "refunds/create", gid: string, at: string, body: JsonValue) => {
    const outcome = await recordWebhook(receive, {
      shop,
      topic,
      webhookId: `reconciliation:${gid}`,
      apiVersion: options.apiVersion,
      triggeredAt: at,
      text: JSON.stringify(body),
      body,
    });
    if (outcome.kind === "recorded") {
      result.recorded += 1;
      if (outcome.deliveries > 0) options.onRecorded?.();
    } else {
      result.duplicates += 1;
    }
  };

  try {
    const { admin } = await options.adminForShop(shop).catch(() => {
      throw new ReconcileError("the app has no offline session for the shop (open the app in Shopify admin to reinstall it)");
    });
    // Shopify's search syntax; updated_at moves whenever an order is fulfilled or refunded.
    const since = `updated_at:>='${from.toISOString()}'`;
    const maxPages = options.maxPages ?? DEFAULT_MAX_PAGES;
    for await (const orders of pages(admin, RECONCILE_FULFILLED_ORDERS_QUERY, `${since} fulfillment_status:shipped`, fulfilledOrdersResponse, maxPages)) {
      for (const order of orders) {
        if (order.displayFulfillmentStatus !== "FULFILLED") continue;
        const latest = order.fulfillments.map((f) => f.createdAt).sort((a, b) => Date.parse(a) - Date.parse(b)).at(-1);
        if (latest && inWindow(latest, from, until)) await record("orders/fulfilled", order.id, latest, fulfilledOrderBody(order));
      }
    }
    for await (const orders of pages(admin, RECONCILE_REFUNDS_QUERY, since, refundsResponse, maxPages)) {
      for (const order of orders) {
        for (const item of order.refunds) {
          if (inWindow(item.createdAt, from, until)) await record("refunds/create", item.id, item.createdAt, refundBody(order.legacyResourceId, item));
        }
      }
    }
  } catch (error) {
    // The cursor stays where it was: the next run covers this window again (duplicates are harmless).
    result.error = error instanceof ReconcileError ? error.message : errorSummary(error).message;
    await prisma.reconciliation.upsert({
      where: { shop },
      create: { shop, checkedUntil: from, lastRunAt: now, lastError: result.error, recorded: result.recorded },
      update: { lastRunAt: now, lastError: result.error, recorded: { increment: result.recorded } },
    });
    options.logger.warn({ shop, err: result.error, recorded: result.recorded }, "reconciliation stopped early; will retry the same window");
    return result;
  }
  await prisma.reconciliation.upsert({
    where: { shop },
    create: { shop, checkedUntil: until, lastRunAt: now, lastError: null, recorded: result.recorded },
    update: { checkedUntil: until, lastRunAt: now, lastError: null, recorded: { increment: result.recorded } },
  });
  if (result.recorded > 0) options.logger.warn({ shop, recorded: result.recorded }, "reconciliation recorded events no webhook brought");
  return result;
}

/** Every installed shop that has an offline session (the Admin API needs one). */
export async function reconcileAllShops(options: ReconcileOptions): Promise<ShopReconciliation[]> {
  const sessions = await options.prisma.session.findMany({ where: { isOnline: false }, select: { shop: true }, distinct: ["shop"] });
  const installed = await options.prisma.shop.findMany({
    where: { domain: { in: sessions.map((session) => session.shop) }, uninstalledAt: null },
    select: { domain: true },
    orderBy: { domain: "asc" },
  });
  const results: ShopReconciliation[] = [];
  for (const { domain } of installed) results.push(await reconcileShop(options, domain));
  return results;
}

export function startReconciliationJob(options: ReconcileOptions & { intervalMs: number }): PeriodicJob {
  return startPeriodicJob("reconciliation", options.logger, options.intervalMs, async () => {
    const results = await reconcileAllShops(options);
    const recorded = results.reduce((sum, result) => sum + result.recorded, 0);
    options.logger.info({ shops: results.length, recorded, failed: results.filter((r) => r.error).length }, "reconciliation run finished");
  });
}
