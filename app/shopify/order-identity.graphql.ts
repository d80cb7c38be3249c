import { ORDER_IDENTITY_FIELDS } from "./admin-order";

/**
 * Who placed an order, and its parcels, for topics whose body is not the order (refunds, fulfillments, fulfillment
 * events, returns). The operation keeps its first name, which Shopify's logs and the tests' Admin API fake know it by.
 */
export const ORDER_IDENTITY_QUERY = `#graphql
  query RefundOrderIdentity($id: ID!) {
    order(id: $id) {
      ${ORDER_IDENTITY_FIELDS}
      fulfillments(first: 20) {
        id
        legacyResourceId
        name
        status
        createdAt
        trackingInfo(first: 1) { number url company }
      }
    }
  }
`;
