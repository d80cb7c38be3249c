/**
 * Finds the order a refund belongs to, shaped like an order webhook body so the same
 * templates and identity defaults work for it: first from an order webhook this app
 * already recorded for the shop, else from the Admin GraphQL API with the shop's
 * offline session.
 */
import { z } from "zod";
import type { Database } from "~/db.server";
import { adminOrderIdentity, orderIdentityBody } from "./admin-order";
import { parseShopifyJson, type JsonValue } from "./json";
import { REFUND_ORDER_QUERY } from "./refund-order.graphql";

export type OrderLookupResult =
  | { kind: "found"; order: JsonValue; source: "webhook" | "admin-api" }
  | { kind: "not-found"; reason: string }
  | { kind: "unavailable"; reason: string; retryable: boolean };

export type OrderLookup = (shop: string, orderId: string) => Promise<OrderLookupResult>;

/** The slice of shopify-app-remix's admin context we use. */
export interface AdminGraphqlClient {
  graphql(query: string, options: { variables: Record<string, unknown> }): Promise<Response>;
}
export type AdminForShop = (shop: string) => Promise<{ admin: AdminGraphqlClient }>;

const orderResponse = z.object({
  data: z.object({ order: adminOrderIdentity.nullable() }).nullable().optional(),
  errors: z.array(z.object({ message: z.string() })).optional(),
});

export function createOrderLookup(prisma: Database, adminForShop: AdminForShop): OrderLookup {
  return async (shop, orderId) => {
    const seen = await prisma.webhook.findFirst({
      where: { shop, orderId, topic: { startsWith: "orders/" } },
      orderBy: { receivedAt: "desc" },
      select: { body: true },
    });
    if (seen) return { kind: "found", order: parseShopifyJson(seen.body), source: "webhook" };
    return lookupWithAdminApi(adminForShop, shop, orderId);
  };
}

async function lookupWithAdminApi(adminForShop: AdminForShop, shop: string, orderId: string): Promise<OrderLookupResult> {
  let admin: AdminGraphqlClient;
  try {
    ({ admin } = await adminForShop(shop));
  } catch {
    return {
      kind: "unavailable",
      retryable: false,
      reason: "The app has no access to the shop's orders (no offline session): open the app in Shopify admin to reinstall it, then retry.",
    };
  }
  let payload: unknown;
  try {
    const response = await admin.graphql(REFUND_ORDER_QUERY, { variables: { id: `gid://shopify/Order/${orderId}` } });
    payload = await response.json();
  } catch (error) {
    const status = error instanceof Response ? error.status : undefined;
    const retryable = status === undefined || status === 429 || status >= 500;
    return {
      kind: "unavailable",
      retryable,
      reason: `Shopify's Admin API did not return the refunded order${status ? ` (HTTP ${status})` : ""}${retryable ? ": will retry" : ""}.`,
    };
  }
  const parsed = orderResponse.safeParse(payload);
  if (!parsed.success) return { kind: "unavailable", retryable: true, reason: "Shopify's Admin API answered with an unexpected order shape: will retry." };
  if (parsed.data.errors?.length) {
    return { kind: "unavailable", retryable: false, reason: `Shopify's Admin API refused the order look-up: ${parsed.data.errors.map((e) => e.message).join("; ")}` };
  }
  const order = parsed.data.data?.order;
  if (!order) return { kind: "not-found", reason: `Order ${orderId} was not found in the shop.` };
  return { kind: "found", order: orderIdentityBody(order), source: "admin-api" };
}
