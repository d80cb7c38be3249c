/** orders/fulfilled found through the Admin API: orders fully fulfilled whose latest parcel left in the window. */
import { z } from "zod";
import { queryReconciliation } from "./entry";
import { RECONCILED_ORDER_FIELDS, reconciledOrder, reconciledOrderBody, updatedSince } from "./reconcile-order";

/** Each order costs about 80 points of the 1,000 a query may ask for (its line items and parcels). */
const PAGE = 12;

const fulfilledOrder = reconciledOrder.extend({
  displayFulfillmentStatus: z.string(),
  fulfillments: z.array(
    z.object({
      id: z.string(),
      legacyResourceId: z.string().nullish(),
      name: z.string().nullish(),
      status: z.string().nullish(),
      createdAt: z.string(),
      trackingInfo: z.array(z.object({ number: z.string().nullish(), url: z.string().nullish(), company: z.string().nullish() })).nullish(),
    }),
  ),
});

export const fulfilledOrdersReconciliation = queryReconciliation({
  description: "Orders updated in the window whose status is fulfilled and whose latest fulfillment falls in it.",
  document: `#graphql
    query ReconcileFulfilledOrders($query: String!, $after: String) {
      orders(first: ${PAGE}, after: $after, query: $query, sortKey: UPDATED_AT) {
        pageInfo { hasNextPage endCursor }
        nodes {
          ${RECONCILED_ORDER_FIELDS}
          displayFulfillmentStatus
          fulfillments(first: 10) {
            id
            legacyResourceId
            name
            status
            createdAt
            trackingInfo(first: 1) { number url company }
          }
        }
      }
    }
  `,
  pageSize: PAGE,
  reads: ["read_orders"],
  search: (window) => `${updatedSince(window)} fulfillment_status:shipped`,
  node: fulfilledOrder,
  events(order) {
    if (order.displayFulfillmentStatus !== "FULFILLED") return [];
    // The order is fulfilled when its last parcel leaves: that parcel's time is the event's.
    const fulfillments = [...order.fulfillments].sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt));
    const latest = fulfillments.at(-1);
    if (!latest) return [];
    const body = {
      ...reconciledOrderBody(order),
      fulfillment_status: "fulfilled",
      fulfillments: fulfillments.map((fulfillment) => ({
        id: fulfillment.legacyResourceId ?? null,
        admin_graphql_api_id: fulfillment.id,
        name: fulfillment.name ?? null,
        status: fulfillment.status?.toLowerCase() ?? null,
        created_at: fulfillment.createdAt,
        tracking_number: fulfillment.trackingInfo?.[0]?.number ?? null,
        tracking_url: fulfillment.trackingInfo?.[0]?.url ?? null,
        tracking_company: fulfillment.trackingInfo?.[0]?.company ?? null,
      })),
    };
    return [{ subjectId: order.id, at: latest.createdAt, body }];
  },
});
