/** orders/create found through the Admin API: orders created in the window. */
import { queryReconciliation } from "./entry";
import { RECONCILED_ORDER_FIELDS, reconciledOrder, reconciledOrderBody } from "./reconcile-order";

/** Each order costs about 60 points of the 1,000 a query may ask for (mostly its line items). */
const PAGE = 15;

export const createdOrdersReconciliation = queryReconciliation({
  description: "Orders created in the window (created_at).",
  document: `#graphql
    query ReconcileCreatedOrders($query: String!, $after: String) {
      orders(first: ${PAGE}, after: $after, query: $query, sortKey: CREATED_AT) {
        pageInfo { hasNextPage endCursor }
        nodes {
          ${RECONCILED_ORDER_FIELDS}
        }
      }
    }
  `,
  pageSize: PAGE,
  reads: ["read_orders"],
  search: (window) => `created_at:>='${window.from.toISOString()}'`,
  node: reconciledOrder,
  events: (order) => [{ subjectId: order.id, at: order.createdAt, body: reconciledOrderBody(order) }],
});
