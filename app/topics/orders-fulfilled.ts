/** orders/fulfilled: every item of the order has shipped (once per order; one parcel or many). */
import type { JsonValue } from "~/shopify/json";
import { defineTopic, type JsonObject, historyFromReconciliation } from "./entry";
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

export const ordersFulfilled = defineTopic({
  topic: "orders/fulfilled",
  label: "Order fulfilled",
  description: "Every item of the order has shipped: once per order, however many parcels.",
  stage: "shipped",
  scope: "read_orders",
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
  defaults: [
    {
      eventType: "Order Fulfilled",
      enabled: true,
      properties: {
        orderName: "{{ name }}",
        orderNumber: "{{ order_number }}",
        firstName: "{{ customer.first_name | default: shipping_address.first_name }}",
        totalPrice: "{{ total_price }}",
        currency: "{{ currency }}",
        itemTitles: "{{ line_items | map: 'title' | join: ', ' }}",
        itemCount: "{{ line_items | map: 'quantity' | sum }}",
        trackingNumber: "{{ fulfillments.last.tracking_number }}",
        trackingUrl: "{{ fulfillments.last.tracking_url }}",
        trackingCompany: "{{ fulfillments.last.tracking_company }}",
        orderStatusUrl: "{{ order_status_url }}",
      },
    },
  ],
  sample: "orders_fulfilled.json",
  reconciliation: fulfilledOrdersReconciliation,
  history: historyFromReconciliation(fulfilledOrdersReconciliation),
});
