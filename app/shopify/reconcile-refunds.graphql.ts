/**
 * Orders updated since the reconciliation's last run, with their refunds: the job records a
 * refunds/create event for each refund created in its window that no webhook brought.
 */
export const RECONCILE_REFUNDS_QUERY = `#graphql
  query ReconcileRefunds($query: String!, $after: String) {
    orders(first: 50, after: $after, query: $query, sortKey: UPDATED_AT) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id
        legacyResourceId
        refunds(first: 50) {
          id
          legacyResourceId
          createdAt
          note
          transactions(first: 20) {
            nodes { kind status amountSet { presentmentMoney { amount currencyCode } } }
          }
          refundLineItems(first: 100) { nodes { quantity lineItem { title } } }
        }
      }
    }
  }
`;
