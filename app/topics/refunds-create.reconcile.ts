/** refunds/create found through the Admin API: refunds created in the window, read from the orders changed in it. */
import { z } from "zod";
import { queryReconciliation } from "./entry";
import { updatedSince } from "./reconcile-order";

/**
 * Sizes that keep the query's requested cost (each refund with its transactions and lines is about 34 points)
 * under Shopify's 1,000: a refund's fourth transaction or eleventh line, or an order's fourth refund, is not read.
 */
const PAGE = 9;

const money = z.object({ amount: z.string(), currencyCode: z.string() });
const refund = z.object({
  id: z.string(),
  legacyResourceId: z.string(),
  createdAt: z.string(),
  note: z.string().nullish(),
  transactions: z.object({
    nodes: z.array(z.object({ kind: z.string(), status: z.string(), amountSet: z.object({ presentmentMoney: money }).nullish() })),
  }),
  refundLineItems: z.object({ nodes: z.array(z.object({ quantity: z.number(), lineItem: z.object({ title: z.string() }).nullish() })) }),
});
const orderRefunds = z.object({ id: z.string(), legacyResourceId: z.string(), refunds: z.array(refund) });

export const refundsReconciliation = queryReconciliation({
  description: "Refunds created in the window, read from the orders updated in it.",
  document: `#graphql
    query ReconcileRefunds($query: String!, $after: String) {
      orders(first: ${PAGE}, after: $after, query: $query, sortKey: UPDATED_AT) {
        pageInfo { hasNextPage endCursor }
        nodes {
          id
          legacyResourceId
          refunds(first: 3) {
            id
            legacyResourceId
            createdAt
            note
            transactions(first: 3) {
              nodes { kind status amountSet { presentmentMoney { amount currencyCode } } }
            }
            refundLineItems(first: 10) { nodes { quantity lineItem { title } } }
          }
        }
      }
    }
  `,
  pageSize: PAGE,
  reads: ["read_orders"],
  search: updatedSince,
  node: orderRefunds,
  events: (order) =>
    order.refunds.map((item) => ({
      subjectId: item.id,
      at: item.createdAt,
      // The refund in the refunds/create webhook's shape.
      body: {
        id: item.legacyResourceId,
        admin_graphql_api_id: item.id,
        order_id: order.legacyResourceId,
        created_at: item.createdAt,
        note: item.note ?? null,
        transactions: item.transactions.nodes.map((transaction) => ({
          kind: transaction.kind.toLowerCase(),
          status: transaction.status.toLowerCase(),
          amount: transaction.amountSet?.presentmentMoney.amount ?? null,
          currency: transaction.amountSet?.presentmentMoney.currencyCode ?? null,
        })),
        refund_line_items: item.refundLineItems.nodes.map((line) => ({ quantity: line.quantity, line_item: { title: line.lineItem?.title ?? null } })),
        source: "reconciliation",
      },
    })),
});
