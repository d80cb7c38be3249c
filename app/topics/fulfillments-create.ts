/** fulfillments/create: one parcel of an order left (one event per parcel, with its tracking). */
import type { JsonValue } from "~/shopify/json";
import { historyFromReconciliation, type TopicHandlers } from "./entry";
import { fieldOf, firstDate, gidOf, idString, resourceId } from "./fields";
import { LOOKED_UP_ORDER_FIELD } from "./order-topic";
import { fulfillmentsReconciliation } from "./fulfillments-create.reconcile";

export const fulfillmentsCreate: TopicHandlers = {
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
  sample: "fulfillments_create.json",
  reconciliation: fulfillmentsReconciliation,
  history: historyFromReconciliation(fulfillmentsReconciliation),
};

/** The parcel's own contact details, shaped like an order's, for when the order cannot be found. */
function parcelContact(body: { [key: string]: JsonValue }): JsonValue {
  return { email: fieldOf(body, "email") ?? null, shipping_address: fieldOf(body, "destination") ?? null };
}
