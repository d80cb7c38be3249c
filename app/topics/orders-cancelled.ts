/** orders/cancelled: the order was cancelled (by the customer, the merchant, fraud, or inventory). */
import { historyFromReconciliation, type TopicHandlers } from "./entry";
import { firstDate } from "./fields";
import { ORDER_CONTEXT_FIELDS, orderIdentity } from "./order-topic";
import { cancelledOrdersReconciliation } from "./orders-cancelled.reconcile";

export const ordersCancelled: TopicHandlers = {
  subject: "order",
  orderNoun: "the order",
  identify: orderIdentity,
  occurredAt: (body) => firstDate(body, "cancelled_at", "updated_at"),
  needs: { order: "body" },
  identitySource: (body) => body,
  context: () => ({}),
  contextFields: ORDER_CONTEXT_FIELDS,
  sample: "orders_cancelled.json",
  reconciliation: cancelledOrdersReconciliation,
  history: historyFromReconciliation(cancelledOrdersReconciliation),
};
