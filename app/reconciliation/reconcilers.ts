/**
 * How the reconciliation finds each topic's events that no webhook brought, for the catalog topics whose entry says
 * the Admin API can (`reconciliation.kind === "query"`; test/reliability/reconciliation.test.ts holds the two
 * together). Each reconciler names a paged orders query, the search that finds the orders which may hold events of
 * a window, and turns one order into that topic's events in the window, each with its body rebuilt in the shape of
 * the topic's webhook so the same templates and identity defaults work on it.
 *
 * Kept apart from the topic modules (app/topics/) because these carry zod schemas and GraphQL documents the
 * browser bundle and render threads, which load the catalog, have no use for.
 */
import { z } from "zod";
import { adminOrderIdentity, fulfillmentBody, orderIdentityBody } from "~/shopify/admin-order";
import type { JsonValue } from "~/shopify/json";
import { RECONCILE_FULFILLED_ORDERS_QUERY } from "~/shopify/reconcile-fulfilled-orders.graphql";
import { RECONCILE_CANCELLED_ORDERS_QUERY, RECONCILE_CREATED_ORDERS_QUERY, RECONCILE_FULFILLMENTS_QUERY } from "~/shopify/reconcile-lifecycle.graphql";
import { RECONCILE_REFUNDS_QUERY } from "~/shopify/reconcile-refunds.graphql";
import type { MappableTopic } from "~/topics/catalog";

type Body = { [key: string]: JsonValue };

/** One event found: the subject's GraphQL id (the webhook's event key), when it happened, its rebuilt body. */
export interface FoundEvent {
  subjectId: string;
  at: string;
  body: Body;
}

export interface Reconciler<Node = unknown> {
  /** A paged `orders(first, after, query)` query taking `$query` and `$after`. */
  document: string;
  /** Shopify's search for the orders that may hold events after `from`. */
  search(from: Date): string;
  node: z.ZodType<Node>;
  /** The topic's events in the order that fall in the window (`inWindow` says whether a time does). */
  events(node: Node, inWindow: (at: string) => boolean): FoundEvent[];
}

function reconciler<Node>(spec: Reconciler<Node>): Reconciler {
  return spec as unknown as Reconciler;
}

const since = (from: Date) => `updated_at:>='${from.toISOString()}'`;
const lineItems = z.object({ nodes: z.array(z.object({ title: z.string(), quantity: z.number() })) });
const lineItemsBody = (items: z.infer<typeof lineItems>): JsonValue => items.nodes.map((item) => ({ title: item.title, quantity: item.quantity }));
const money = z.object({ amount: z.string(), currencyCode: z.string() });
const tracking = z.array(z.object({ number: z.string().nullish(), url: z.string().nullish(), company: z.string().nullish() })).nullish();

// orders/fulfilled -------------------------------------------------------------------------------------------------

const fulfilledOrder = adminOrderIdentity.extend({
  createdAt: z.string(),
  updatedAt: z.string(),
  closedAt: z.string().nullish(),
  displayFulfillmentStatus: z.string(),
  fulfillments: z.array(z.object({ id: z.string(), createdAt: z.string(), trackingInfo: tracking })),
  lineItems,
});
type FulfilledOrder = z.infer<typeof fulfilledOrder>;

/** The order in the orders/fulfilled webhook's shape, for the fields templates and defaults read. */
export function fulfilledOrderBody(order: FulfilledOrder): Body {
  const fulfillments = [...order.fulfillments].sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt));
  return {
    ...orderIdentityBody(order),
    created_at: order.createdAt,
    updated_at: order.updatedAt,
    closed_at: order.closedAt ?? null,
    fulfillment_status: "fulfilled",
    line_items: lineItemsBody(order.lineItems),
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

const ordersFulfilled = reconciler({
  document: RECONCILE_FULFILLED_ORDERS_QUERY,
  // updated_at moves whenever an order is fulfilled.
  search: (from) => `${since(from)} fulfillment_status:shipped`,
  node: fulfilledOrder,
  events(order, inWindow) {
    if (order.displayFulfillmentStatus !== "FULFILLED") return [];
    const latest = order.fulfillments.map((f) => f.createdAt).sort((a, b) => Date.parse(a) - Date.parse(b)).at(-1);
    return latest && inWindow(latest) ? [{ subjectId: order.id, at: latest, body: fulfilledOrderBody(order) }] : [];
  },
});

// refunds/create ---------------------------------------------------------------------------------------------------

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
type Refund = z.infer<typeof refund>;

/** The refund in the refunds/create webhook's shape. */
export function refundBody(orderId: string, item: Refund): Body {
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

const refundsCreate = reconciler({
  document: RECONCILE_REFUNDS_QUERY,
  search: since,
  node: z.object({ id: z.string(), legacyResourceId: z.string(), refunds: z.array(refund) }),
  events: (order, inWindow) =>
    order.refunds.filter((item) => inWindow(item.createdAt)).map((item) => ({ subjectId: item.id, at: item.createdAt, body: refundBody(order.legacyResourceId, item) })),
});

// orders/create, orders/cancelled ----------------------------------------------------------------------------------

const createdOrder = adminOrderIdentity.extend({ createdAt: z.string(), lineItems });

const ordersCreate = reconciler({
  document: RECONCILE_CREATED_ORDERS_QUERY,
  search: (from) => `created_at:>='${from.toISOString()}'`,
  node: createdOrder,
  events: (order, inWindow) =>
    inWindow(order.createdAt)
      ? [{ subjectId: order.id, at: order.createdAt, body: { ...orderIdentityBody(order), created_at: order.createdAt, line_items: lineItemsBody(order.lineItems), source: "reconciliation" } }]
      : [],
});

const cancelledOrder = createdOrder.extend({ cancelledAt: z.string().nullish(), cancelReason: z.string().nullish() });

const ordersCancelled = reconciler({
  document: RECONCILE_CANCELLED_ORDERS_QUERY,
  // Cancelling an order updates it; the search narrows to cancelled ones, the window is checked on cancelledAt.
  search: (from) => `${since(from)} status:cancelled`,
  node: cancelledOrder,
  events(order, inWindow) {
    const at = order.cancelledAt;
    if (!at || !inWindow(at)) return [];
    const body: Body = {
      ...orderIdentityBody(order),
      created_at: order.createdAt,
      cancelled_at: at,
      // The webhook spells the reason in lower case (CUSTOMER -> customer).
      cancel_reason: order.cancelReason?.toLowerCase() ?? null,
      line_items: lineItemsBody(order.lineItems),
      source: "reconciliation",
    };
    return [{ subjectId: order.id, at, body }];
  },
});

// fulfillments/create ----------------------------------------------------------------------------------------------

const parcelOrder = z.object({
  id: z.string(),
  legacyResourceId: z.string(),
  email: z.string().nullish(),
  fulfillments: z.array(
    z.object({
      id: z.string(),
      legacyResourceId: z.string().nullish(),
      name: z.string().nullish(),
      status: z.string().nullish(),
      createdAt: z.string(),
      trackingInfo: tracking,
      fulfillmentLineItems: z.object({ nodes: z.array(z.object({ quantity: z.number(), lineItem: z.object({ title: z.string() }).nullish() })) }).nullish(),
    }),
  ),
});

const fulfillmentsCreate = reconciler({
  document: RECONCILE_FULFILLMENTS_QUERY,
  // A new parcel updates its order.
  search: since,
  node: parcelOrder,
  events: (order, inWindow) =>
    order.fulfillments
      .filter((fulfillment) => inWindow(fulfillment.createdAt))
      .map((fulfillment) => ({
        subjectId: fulfillment.id,
        at: fulfillment.createdAt,
        body: {
          ...fulfillmentBody(fulfillment, order.legacyResourceId),
          email: order.email ?? null,
          line_items: (fulfillment.fulfillmentLineItems?.nodes ?? []).map((line) => ({ title: line.lineItem?.title ?? null, quantity: line.quantity })),
          source: "reconciliation",
        },
      })),
});

/** Every topic whose catalog entry says the Admin API can find its missed events, in the catalog's order. */
export const RECONCILERS: Partial<Record<MappableTopic, Reconciler>> = {
  "orders/create": ordersCreate,
  "fulfillments/create": fulfillmentsCreate,
  "orders/fulfilled": ordersFulfilled,
  "orders/cancelled": ordersCancelled,
  "refunds/create": refundsCreate,
};
