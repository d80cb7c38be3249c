/** refunds/create: money (or items) given back on an order. The body has the order's id, not its customer. */
import { historyFromReconciliation, type TopicHandlers } from "./entry";
import { refundTransactionsOf } from "./history-order";
import { fieldOf, firstDate, gidOf, idString, resourceId } from "./fields";
import { LOOKED_UP_ORDER_FIELD } from "./order-topic";
import { refundsReconciliation } from "./refunds-create.reconcile";

export const refundsCreate: TopicHandlers = {
  subject: "refund",
  orderNoun: "the refunded order",
  identify: (body) => ({ subjectId: gidOf("Refund", resourceId(body)), orderId: idString(fieldOf(body, "order_id")) }),
  occurredAt: (body) => firstDate(body, "created_at", "processed_at"),
  needs: { order: "lookup" },
  identitySource: (_body, related) => related.order,
  context: (_body, related) => ({ order: related.order }),
  contextFields: [
    { name: "(the refund's own fields)", description: "transactions, refund_line_items, note, created_at, …" },
    LOOKED_UP_ORDER_FIELD,
  ],
  sample: "refunds_create.json",
  reconciliation: refundsReconciliation,
  // A bulk query cannot also read each refund's transactions (history-order.ts): the refund's total stands for them.
  history: historyFromReconciliation(refundsReconciliation, (order) => ({
    ...order,
    refunds: order.refunds.map((refund) => ({ ...refund, transactions: refundTransactionsOf(refund) })),
  })),
};
