import { ORDER_IDENTITY_FIELDS } from "./admin-order";

/** Who placed the refunded order, for refunds/create (whose body has no customer). */
export const REFUND_ORDER_QUERY = `#graphql
  query RefundOrderIdentity($id: ID!) {
    order(id: $id) {
      ${ORDER_IDENTITY_FIELDS}
    }
  }
`;
