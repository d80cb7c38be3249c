/** orders/paid: the order's payment was captured in full. */
import type { TopicHandlers } from "./entry";
import { firstDate } from "./fields";
import { ORDER_CONTEXT_FIELDS, orderIdentity } from "./order-topic";

export const ordersPaid: TopicHandlers = {
  subject: "order",
  orderNoun: "the order",
  identify: orderIdentity,
  // The body has no payment time; the order changes (updated_at) when it becomes paid.
  occurredAt: (body) => firstDate(body, "updated_at", "processed_at", "created_at"),
  needs: { order: "body" },
  identitySource: (body) => body,
  context: () => ({}),
  contextFields: ORDER_CONTEXT_FIELDS,
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
};
