/**
 * What the order topics' reconciliations share (orders/create, orders/fulfilled, orders/cancelled): the order's
 * fields as the Admin API has them, and the order as an order webhook's body, for the fields the topics' default
 * mappings, identity defaults and event times read. The webhook has more; templates that read other fields render
 * them empty for an event the reconciliation found (docs/mapping-format.md says so).
 */
import { z } from "zod";
import { adminOrderIdentity, ORDER_IDENTITY_FIELDS, orderIdentityBody } from "~/shopify/admin-order";
import type { JsonObject, ReconcileWindow } from "./entry";

/**
 * More line items than almost any order has; an order with more renders only these in `line_items`. Each costs a
 * point of the query's requested cost, which Shopify caps at 1,000, so pages hold fewer orders the more this is.
 */
const LINE_ITEMS = 50;

/** The order's own fields beyond its identity, as `reconciledOrder` reads them (the history's bulk query too). */
export const RECONCILED_ORDER_SCALARS = `
  number
  createdAt
  updatedAt
  processedAt
  closedAt
  cancelledAt
  cancelReason
  presentmentCurrencyCode
`;

export const RECONCILED_ORDER_FIELDS = `
  ${ORDER_IDENTITY_FIELDS}
  ${RECONCILED_ORDER_SCALARS}
  lineItems(first: ${LINE_ITEMS}) { nodes { title name quantity } }
`;

/** Fields Shopify always sends are optional here too, so an answer missing one still makes a body. */
export const reconciledOrder = adminOrderIdentity.extend({
  number: z.number().nullish(),
  createdAt: z.string(),
  updatedAt: z.string(),
  processedAt: z.string().nullish(),
  closedAt: z.string().nullish(),
  cancelledAt: z.string().nullish(),
  cancelReason: z.string().nullish(),
  presentmentCurrencyCode: z.string().nullish(),
  lineItems: z.object({ nodes: z.array(z.object({ title: z.string(), name: z.string().nullish(), quantity: z.number() })) }),
});
export type ReconciledOrder = z.infer<typeof reconciledOrder>;

/** The order as an orders/* webhook has it; `source` marks it as rebuilt by the reconciliation. */
export function reconciledOrderBody(order: ReconciledOrder): JsonObject {
  return {
    ...orderIdentityBody(order),
    order_number: order.number ?? null,
    created_at: order.createdAt,
    updated_at: order.updatedAt,
    processed_at: order.processedAt ?? null,
    closed_at: order.closedAt ?? null,
    cancelled_at: order.cancelledAt ?? null,
    // Webhooks spell enum values in lower case ("customer"); the Admin API in upper case.
    cancel_reason: order.cancelReason?.toLowerCase() ?? null,
    presentment_currency: order.presentmentCurrencyCode ?? null,
    line_items: order.lineItems.nodes.map((item) => ({ title: item.title, name: item.name ?? item.title, quantity: item.quantity })),
    source: "reconciliation",
  };
}

/** Shopify's search syntax for orders changed since the window began (fulfilling, refunding, cancelling all change it). */
export function updatedSince(window: ReconcileWindow): string {
  return `updated_at:>='${window.from.toISOString()}'`;
}
