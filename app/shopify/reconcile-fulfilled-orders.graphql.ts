import { ORDER_IDENTITY_FIELDS } from "./admin-order";

/**
 * Orders updated since the reconciliation's last run that are fully fulfilled: the job records
 * an orders/fulfilled event for any whose latest fulfillment falls in its window and that no
 * webhook brought. Fields are the ones the default mappings and identity defaults read.
 */
export const RECONCILE_FULFILLED_ORDERS_QUERY = `#graphql
  query ReconcileFulfilledOrders($query: String!, $after: String) {
    orders(first: 50, after: $after, query: $query, sortKey: UPDATED_AT) {
      pageInfo { hasNextPage endCursor }
      nodes {
        ${ORDER_IDENTITY_FIELDS}
        createdAt
        updatedAt
        closedAt
        displayFulfillmentStatus
        fulfillments(first: 20) {
          id
          createdAt
          trackingInfo(first: 1) { number url company }
        }
        lineItems(first: 100) { nodes { title quantity } }
      }
    }
  }
`;
