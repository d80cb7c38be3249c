/** orders/cancelled found through the Admin API: orders changed in the window whose cancellation falls in it. */
import { queryReconciliation } from "./entry";
import { RECONCILED_ORDER_FIELDS, reconciledOrder, reconciledOrderBody, updatedSince } from "./reconcile-order";

/** Each order costs about 60 points of the 1,000 a query may ask for (mostly its line items). */
const PAGE = 15;

export const cancelledOrdersReconciliation = queryReconciliation({
  description: "Orders updated in the window whose cancellation (cancelled_at) falls in it.",
  document: `#graphql
    query ReconcileCancelledOrders($query: String!, $after: String) {
      orders(first: ${PAGE}, after: $after, query: $query, sortKey: UPDATED_AT) {
        pageInfo { hasNextPage endCursor }
        nodes {
          ${RECONCILED_ORDER_FIELDS}
        }
      }
    }
  `,
  pageSize: PAGE,
  reads: ["read_orders"],
  // Cancelling changes the order, so its updated_at is in the window; most orders found are not cancelled.
  search: updatedSince,
  node: reconciledOrder,
  events: (order) => (order.cancelledAt ? [{ subjectId: order.id, at: order.cancelledAt, body: reconciledOrderBody(order) }] : []),
});
