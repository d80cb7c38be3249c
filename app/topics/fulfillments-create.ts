/** fulfillments/create: one parcel of an order left (one event per parcel, with its tracking). */
import type { JsonValue } from "~/shopify/json";
import { defineTopic, historyFromReconciliation } from "./entry";
import { fieldOf, firstDate, gidOf, idString, resourceId } from "./fields";
import { LOOKED_UP_ORDER_FIELD } from "./order-topic";
import { fulfillmentsReconciliation } from "./fulfillments-create.reconcile";

export const fulfillmentsCreate = defineTopic({
  topic: "fulfillments/create",
  label: "Parcel shipped",
  description: "A fulfillment was created: one parcel of the order, with its tracking number. An order shipped in three parcels sends three.",
  stage: "shipped",
  scope: "read_fulfillments",
  subject: "parcel",
  orderNoun: "the shipped order",
  identify: (body) => ({ subjectId: gidOf("Fulfillment", resourceId(body)), orderId: idString(fieldOf(body, "order_id")) }),
  occurredAt: (body) => firstDate(body, "created_at", "updated_at"),
  needs: { order: "lookup" },
  // The parcel itself names an email and a destination; the order knows more (its customer, a phone).
  identitySource: (body, related) => related.order ?? parcelContact(body),
  context: (_body, related) => ({ order: related.order }),
  contextFields: [
    { name: "(the parcel's own fields)", description: "tracking_number, tracking_url, tracking_company, tracking_numbers, line_items, destination, name (like #1001.1), status, …" },
    LOOKED_UP_ORDER_FIELD,
  ],
  defaults: [
    {
      eventType: "Order Shipped",
      enabled: true,
      properties: {
        orderName: "{{ order.name }}",
        firstName: "{{ order.customer.first_name | default: destination.first_name }}",
        trackingNumber: "{{ tracking_number }}",
        trackingUrl: "{{ tracking_url }}",
        trackingCompany: "{{ tracking_company }}",
        itemTitles: "{{ line_items | map: 'title' | join: ', ' }}",
        itemCount: "{{ line_items | map: 'quantity' | sum }}",
        orderStatusUrl: "{{ order.order_status_url }}",
      },
    },
  ],
  sample: "fulfillments_create.json",
  reconciliation: fulfillmentsReconciliation,
  history: historyFromReconciliation(fulfillmentsReconciliation),
});

/** The parcel's own contact details, shaped like an order's, for when the order cannot be found. */
function parcelContact(body: { [key: string]: JsonValue }): JsonValue {
  return { email: fieldOf(body, "email") ?? null, shipping_address: fieldOf(body, "destination") ?? null };
}
