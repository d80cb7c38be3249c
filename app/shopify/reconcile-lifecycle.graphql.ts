import { ORDER_IDENTITY_FIELDS } from "./admin-order";

/** Orders created since the reconciliation's last run: orders/create events no webhook brought. */
export const RECONCILE_CREATED_ORDERS_QUERY = `#graphql
  query ReconcileCreatedOrders($query: String!, $after: String) {
    orders(first: 50, after: $after, query: $query, sortKey: CREATED_AT) {
      pageInfo { hasNextPage endCursor }
      nodes {
        ${ORDER_IDENTITY_FIELDS}
        createdAt
        lineItems(first: 100) { nodes { title quantity } }
      }
    }
  }
`;

/** Cancelled orders updated since the last run: orders/cancelled events whose cancelledAt falls in the window. */
export const RECONCILE_CANCELLED_ORDERS_QUERY = `#graphql
  query ReconcileCancelledOrders($query: String!, $after: String) {
    orders(first: 50, after: $after, query: $query, sortKey: UPDATED_AT) {
      pageInfo { hasNextPage endCursor }
      nodes {
        ${ORDER_IDENTITY_FIELDS}
        createdAt
        cancelledAt
        cancelReason
        lineItems(first: 100) { nodes { title quantity } }
      }
    }
  }
`;

/** Orders updated since the last run, with their parcels: fulfillments/create events created in the window. */
export const RECONCILE_FULFILLMENTS_QUERY = `#graphql
  query ReconcileFulfillments($query: String!, $after: String) {
    orders(first: 50, after: $after, query: $query, sortKey: UPDATED_AT) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id
        legacyResourceId
        email
        fulfillments(first: 20) {
          id
          legacyResourceId
          name
          status
          createdAt
          trackingInfo(first: 1) { number url company }
          fulfillmentLineItems(first: 100) { nodes { quantity lineItem { title } } }
        }
      }
    }
  }
`;
