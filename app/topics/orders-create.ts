/** orders/create: an order was placed (online, in person, or created by staff). */
import { historyFromReconciliation, type TopicHandlers } from "./entry";
import { firstDate } from "./fields";
import { ORDER_CONTEXT_FIELDS, orderIdentity } from "./order-topic";
import { createdOrdersReconciliation } from "./orders-create.reconcile";

export const ordersCreate: TopicHandlers = {
  subject: "order",
  orderNoun: "the order",
  identify: orderIdentity,
  occurredAt: (body) => firstDate(body, "created_at", "processed_at"),
  needs: { order: "body" },
  identitySource: (body) => body,
  context: () => ({}),
  contextFields: ORDER_CONTEXT_FIELDS,
  sample: "orders_create.json",
  reconciliation: createdOrdersReconciliation,
  history: historyFromReconciliation(createdOrdersReconciliation),
};
