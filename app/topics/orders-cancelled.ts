/** orders/cancelled: the order was cancelled (by the customer, the merchant, fraud, or inventory). */
import { defineTopic, historyFromReconciliation } from "./entry";
import { firstDate } from "./fields";
import { ORDER_CONTEXT_FIELDS, ORDER_PROPERTIES, orderIdentity } from "./order-topic";
import { cancelledOrdersReconciliation } from "./orders-cancelled.reconcile";

export const ordersCancelled = defineTopic({
  topic: "orders/cancelled",
  label: "Order cancelled",
  description: "The order was cancelled; cancel_reason says why (customer, fraud, inventory, declined, staff, other).",
  stage: "cancelled",
  scope: "read_orders",
  subject: "order",
  orderNoun: "the order",
  identify: orderIdentity,
  occurredAt: (body) => firstDate(body, "cancelled_at", "updated_at"),
  needs: { order: "body" },
  identitySource: (body) => body,
  context: () => ({}),
  contextFields: ORDER_CONTEXT_FIELDS,
  defaults: [
    {
      eventType: "Order Cancelled",
      enabled: true,
      properties: { ...ORDER_PROPERTIES, cancelReason: "{{ cancel_reason }}", cancelledAt: "{{ cancelled_at }}" },
    },
  ],
  sample: "orders_cancelled.json",
  reconciliation: cancelledOrdersReconciliation,
  history: historyFromReconciliation(cancelledOrdersReconciliation),
});
