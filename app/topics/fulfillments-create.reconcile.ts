/** fulfillments/create found through the Admin API: parcels created in the window, read from the orders changed in it. */
import { z } from "zod";
import { adminFulfillment, fulfillmentBody } from "~/shopify/admin-order";
import { queryReconciliation, type JsonObject } from "./entry";
import { updatedSince } from "./reconcile-order";

/**
 * Each order costs about 80 points of the 1,000 a query may ask for: up to 3 parcels created since the window began
 * (Shopify filters them by created_at), each with 3 tracking numbers and 10 lines.
 */
const PAGE = 11;

const parcelOrder = z.object({
  id: z.string(),
  legacyResourceId: z.string(),
  email: z.string().nullish(),
  shippingAddress: z
    .object({ firstName: z.string().nullish(), lastName: z.string().nullish(), phone: z.string().nullish(), countryCodeV2: z.string().nullish() })
    .nullish(),
  fulfillments: z.array(
    adminFulfillment.extend({
      createdAt: z.string(),
      updatedAt: z.string().nullish(),
      fulfillmentLineItems: z.object({
        nodes: z.array(z.object({ quantity: z.number(), lineItem: z.object({ title: z.string(), name: z.string().nullish() }).nullish() })),
      }),
    }),
  ),
});

/** A parcel that was cancelled or failed is no shipment to tell the customer about. */
const NOT_SHIPPED = new Set(["CANCELLED", "ERROR", "FAILURE"]);

export const fulfillmentsReconciliation = queryReconciliation({
  description: "Fulfillments created in the window, read from the orders updated in it.",
  document: `#graphql
    query ReconcileFulfillments($query: String!, $after: String, $fulfillmentSearch: String!) {
      orders(first: ${PAGE}, after: $after, query: $query, sortKey: UPDATED_AT) {
        pageInfo { hasNextPage endCursor }
        nodes {
          id
          legacyResourceId
          email
          shippingAddress { firstName lastName phone countryCodeV2 }
          fulfillments(first: 3, query: $fulfillmentSearch) {
            id
            legacyResourceId
            name
            status
            createdAt
            updatedAt
            trackingInfo(first: 3) { number url company }
            fulfillmentLineItems(first: 10) { nodes { quantity lineItem { title name } } }
          }
        }
      }
    }
  `,
  pageSize: PAGE,
  // Fulfillments are readable with read_orders; the topic's own read_fulfillments is what its webhooks need.
  reads: ["read_orders"],
  search: updatedSince,
  // Only the parcels created since the window began, so an order's older ones do not crowd out the new.
  variables: (window) => ({ fulfillmentSearch: `created_at:>='${window.from.toISOString()}'` }),
  node: parcelOrder,
  events(order) {
    const address = order.shippingAddress;
    const destination: JsonObject | null = address
      ? { first_name: address.firstName ?? null, last_name: address.lastName ?? null, phone: address.phone ?? null, country_code: address.countryCodeV2 ?? null }
      : null;
    return order.fulfillments
      .filter((fulfillment) => !NOT_SHIPPED.has(fulfillment.status ?? ""))
      .map((fulfillment) => {
        const tracking = fulfillment.trackingInfo ?? [];
        // The parcel in the fulfillments/create webhook's shape.
        const body: JsonObject = {
          ...fulfillmentBody(fulfillment, order.legacyResourceId),
          updated_at: fulfillment.updatedAt ?? fulfillment.createdAt,
          email: order.email ?? null,
          destination,
          tracking_numbers: tracking.flatMap((info) => (info.number ? [info.number] : [])),
          tracking_urls: tracking.flatMap((info) => (info.url ? [info.url] : [])),
          line_items: fulfillment.fulfillmentLineItems.nodes.map((line) => ({
            title: line.lineItem?.title ?? null,
            name: line.lineItem?.name ?? line.lineItem?.title ?? null,
            quantity: line.quantity,
          })),
          source: "reconciliation",
        };
        return { subjectId: fulfillment.id, at: fulfillment.createdAt, body };
      });
  },
});
