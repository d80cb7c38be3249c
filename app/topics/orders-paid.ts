/** orders/paid: the order's payment was captured in full. */
import { defineTopic } from "./entry";
import { firstDate } from "./fields";
import { ORDER_CONTEXT_FIELDS, ORDER_PROPERTIES, orderIdentity } from "./order-topic";

export const ordersPaid = defineTopic({
  topic: "orders/paid",
  label: "Order paid",
  description: "The order is paid in full (at checkout, or later when payment is captured or marked as received).",
  stage: "paid",
  scope: "read_orders",
  subject: "order",
  orderNoun: "the order",
  identify: orderIdentity,
  // The body has no payment time; the order changes (updated_at) when it becomes paid.
  occurredAt: (body) => firstDate(body, "updated_at", "processed_at", "created_at"),
  needs: { order: "body" },
  identitySource: (body) => body,
  context: () => ({}),
  contextFields: ORDER_CONTEXT_FIELDS,
  defaults: [{ eventType: "Order Paid", enabled: false, properties: { ...ORDER_PROPERTIES, paymentGateways: "{{ payment_gateway_names | join: ', ' }}" } }],
  sample: "orders_paid.json",
  reconciliation: {
    kind: "none",
    why:
      "The Admin API keeps no time at which an order became paid: it would have to be worked out from the order's transactions (the successful sale or capture after which nothing was outstanding), which the job does not do.",
  },
  history: {
    kind: "none",
    why: "The Admin API keeps no time at which an order became paid, and an event dated by a guess would put customers in the wrong Segment Builder window.",
  },
});
