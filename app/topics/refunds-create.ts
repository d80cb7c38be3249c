/** refunds/create: money (or items) given back on an order. The body has the order's id, not its customer. */
import { defineTopic, historyFromReconciliation } from "./entry";
import { refundTransactionsOf } from "./history-order";
import { fieldOf, firstDate, gidOf, idString, resourceId } from "./fields";
import { LOOKED_UP_ORDER_FIELD } from "./order-topic";
import { refundsReconciliation } from "./refunds-create.reconcile";

/** Refunds can also record failed or pending attempts; only money actually returned counts. */
const REFUNDED_TRANSACTIONS = "transactions | where: 'kind', 'refund' | where: 'status', 'success'";

export const refundsCreate = defineTopic({
  topic: "refunds/create",
  label: "Refund created",
  description: "A refund was issued on an order (money back, with or without items).",
  stage: "refunded",
  scope: "read_orders",
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
  defaults: [
    {
      eventType: "Order Refunded",
      enabled: true,
      properties: {
        orderName: "{{ order.name }}",
        firstName: "{{ order.customer.first_name | default: order.shipping_address.first_name }}",
        // Rounded because summing decimal strings in floating point leaves tails like 85.00000000000001.
        refundAmount: `{{ ${REFUNDED_TRANSACTIONS} | map: 'amount' | sum | round: 2 }}`,
        currency: "{{ transactions.first.currency | default: order.presentment_currency | default: order.currency }}",
        refundedItemTitles: "{{ refund_line_items | map: 'line_item' | map: 'title' | join: ', ' }}",
        note: "{{ note }}",
        orderStatusUrl: "{{ order.order_status_url }}",
      },
    },
  ],
  sample: "refunds_create.json",
  reconciliation: refundsReconciliation,
  // A bulk query cannot also read each refund's transactions (history-order.ts): the refund's total stands for them.
  history: historyFromReconciliation(refundsReconciliation, (order) => ({
    ...order,
    refunds: order.refunds.map((refund) => ({ ...refund, transactions: refundTransactionsOf(refund) })),
  })),
});
