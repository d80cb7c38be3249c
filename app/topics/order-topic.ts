/** What the order topics (orders/*) share: the body is the order, and the order is the subject. */
import type { ContextField, JsonObject, TopicIdentity } from "./entry";
import { gidOf, resourceId } from "./fields";

export function orderIdentity(body: JsonObject): TopicIdentity {
  const orderId = resourceId(body);
  return { subjectId: gidOf("Order", orderId), orderId };
}

export const ORDER_CONTEXT_FIELDS: readonly ContextField[] = [
  { name: "(the order's own fields)", description: "name, order_number, email, customer, line_items, total_price, currency, order_status_url, …" },
];

/** For topics whose body is not the order: the order's fields under `order`. */
export const LOOKED_UP_ORDER_FIELD: ContextField = {
  name: "order",
  description:
    "The order, from the order webhook the app recorded (all its fields), else from the Admin API (name, email, phone, customer, addresses, total, status page URL, fulfillments).",
};
