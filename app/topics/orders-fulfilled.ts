/** orders/fulfilled: every item of the order has shipped (once per order; one parcel or many). */
import type { JsonValue } from "~/shopify/json";
import { historyFromReconciliation, type JsonObject, type TopicHandlers } from "./entry";
import { dateFrom, fieldOf, firstDate } from "./fields";
import { ORDER_CONTEXT_FIELDS, orderIdentity } from "./order-topic";
import { fulfilledOrdersReconciliation } from "./orders-fulfilled.reconcile";

function createdTime(fulfillment: JsonValue): number {
  return dateFrom(fieldOf(fulfillment, "created_at"))?.getTime() ?? Number.NEGATIVE_INFINITY;
}

/**
 * The order's fulfillments oldest first by time rather than by array position, which Shopify does not promise; so
 * `fulfillments.last` and `fulfillment` are the parcel whose time is the event's occurredAt.
 */
export function fulfillmentsByTime(body: JsonValue): JsonValue[] {
  const fulfillments = fieldOf(body, "fulfillments");
  if (!Array.isArray(fulfillments)) return [];
  return fulfillments
    .map((fulfillment, index) => ({ fulfillment, index, at: createdTime(fulfillment) }))
    .sort((a, b) => (a.at === b.at ? a.index - b.index : a.at < b.at ? -1 : 1))
    .map((entry) => entry.fulfillment);
}

function latestFulfillmentTime(body: JsonValue): Date | null {
  let latest: number | null = null;
  for (const fulfillment of fulfillmentsByTime(body)) {
    const at = createdTime(fulfillment);
    if (Number.isFinite(at)) latest = at;
  }
  return latest === null ? null : new Date(latest);
}

export const ordersFulfilled: TopicHandlers = {
  subject: "order",
  orderNoun: "the order",
  identify: orderIdentity,
  occurredAt: (body) => latestFulfillmentTime(body) ?? firstDate(body, "closed_at", "updated_at"),
  needs: { order: "body" },
  identitySource: (body) => body,
  context(body) {
    const fulfillments = fulfillmentsByTime(body);
    const context: JsonObject = { fulfillment: fulfillments.at(-1) ?? null };
    if (Array.isArray(fieldOf(body, "fulfillments"))) context.fulfillments = fulfillments;
    return context;
  },
  contextFields: [
    ...ORDER_CONTEXT_FIELDS,
    { name: "fulfillments", description: "The order's fulfillments (parcels), oldest first by their created_at." },
    { name: "fulfillment", description: "The latest fulfillment: its tracking_number, tracking_url, tracking_company." },
  ],
  sample: "orders_fulfilled.json",
  reconciliation: fulfilledOrdersReconciliation,
  history: historyFromReconciliation(fulfilledOrdersReconciliation),
};
