/** orders/create: an order was placed (online, in person, or created by staff). */
import { defineTopic, historyFromReconciliation } from "./entry";
import { firstDate } from "./fields";
import { ORDER_CONTEXT_FIELDS, ORDER_PROPERTIES, orderIdentity } from "./order-topic";
import { createdOrdersReconciliation } from "./orders-create.reconcile";

export const ordersCreate = defineTopic({
  topic: "orders/create",
  label: "Order placed",
  description: "An order was placed: online, at a point of sale, or created by staff.",
  stage: "placed",
  scope: "read_orders",
  subject: "order",
  orderNoun: "the order",
  identify: orderIdentity,
  occurredAt: (body) => firstDate(body, "created_at", "processed_at"),
  needs: { order: "body" },
  identitySource: (body) => body,
  context: () => ({}),
  contextFields: ORDER_CONTEXT_FIELDS,
  // Off for new shops: Attentive's own Shopify integration already reports purchases.
  defaults: [{ eventType: "Order Placed", enabled: false, properties: { ...ORDER_PROPERTIES } }],
  sample: "orders_create.json",
  reconciliation: createdOrdersReconciliation,
  history: historyFromReconciliation(createdOrdersReconciliation),
});
