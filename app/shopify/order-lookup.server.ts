/**
 * Finds the order a webhook belongs to when its body is not the order (refunds, fulfillments, fulfillment events,
 * returns), shaped like an order webhook body so the same templates and identity defaults work for it: first from
 * an order webhook this app recorded for the shop, else from the Admin GraphQL API with the shop's offline
 * session, one query per order (answers are kept for a while, and concurrent look-ups of one order share one query).
 */
import { z } from "zod";
import { BACKFILL_ORDER_TOPIC } from "~/backfill/constants";
import type { Database } from "~/db.server";
import { adminFulfillment, adminOrderIdentity, fulfillmentBody, orderIdentityBody } from "./admin-order";
import { parseShopifyJson, type JsonValue } from "./json";
import { ORDER_IDENTITY_QUERY } from "./order-identity.graphql";

export type OrderLookupResult =
  | { kind: "found"; order: JsonValue; source: "webhook" | "admin-api" }
  | { kind: "not-found"; reason: string }
  | { kind: "unavailable"; reason: string; retryable: boolean }
  /** Only with `adminApi: false`: no order webhook of this order is recorded (yet). */
  | { kind: "not-recorded" };

export interface OrderLookupOptions {
  /**
   * Where to look: "recorded" only among recorded order webhooks, "admin-api" only the Admin API (for fields a
   * recorded webhook lacked), "any" (the default) recorded webhooks, then the Admin API.
   */
  from?: "recorded" | "admin-api" | "any";
}

export type OrderLookup = (shop: string, orderId: string, options?: OrderLookupOptions) => Promise<OrderLookupResult>;

/** The slice of shopify-app-remix's admin context we use. */
export interface AdminGraphqlClient {
  graphql(query: string, options: { variables: Record<string, unknown>; signal?: AbortSignal }): Promise<Response>;
}
export type AdminForShop = (shop: string) => Promise<{ admin: AdminGraphqlClient }>;

const orderResponse = z.object({
  data: z.object({ order: adminOrderIdentity.extend({ fulfillments: z.array(adminFulfillment).nullish() }).nullable() }).nullable().optional(),
  errors: z.array(z.object({ message: z.string() })).optional(),
});

/** How long an Admin API answer is reused, and how many are kept. */
export const ORDER_CACHE_MS = 10 * 60_000;
const ORDER_CACHE_SIZE = 1_000;

/**
 * The longest an Admin API look-up may take, answer read included. A delivery waits for it with one of the worker's
 * lanes, so one that never ends would keep that lane for good (and every later look-up of that order with it).
 */
export const ADMIN_LOOKUP_TIMEOUT_MS = 10_000;

export interface OrderLookupConfig {
  now?: () => number;
  /** ADMIN_LOOKUP_TIMEOUT_MS by default. */
  timeoutMs?: number;
}

export function createOrderLookup(prisma: Database, adminForShop: AdminForShop, config: OrderLookupConfig = {}): OrderLookup {
  const now = config.now ?? Date.now;
  const timeoutMs = config.timeoutMs ?? ADMIN_LOOKUP_TIMEOUT_MS;
  const cache = new Map<string, { at: number; answer: Promise<OrderLookupResult> }>();

  const fromAdminApi = (shop: string, orderId: string): Promise<OrderLookupResult> => {
    const key = `${shop} ${orderId}`;
    const hit = cache.get(key);
    if (hit !== undefined && now() - hit.at < ORDER_CACHE_MS) return hit.answer;
    const answer = lookupWithAdminApi(adminForShop, shop, orderId, timeoutMs);
    cache.set(key, { at: now(), answer });
    if (cache.size > ORDER_CACHE_SIZE) cache.delete(cache.keys().next().value!);
    // Only a found order is worth keeping: a failure is asked again next time.
    void answer.then((result) => {
      if (result.kind !== "found" && cache.get(key)?.answer === answer) cache.delete(key);
    });
    return answer;
  };

  return async (shop, orderId, options = {}) => {
    const from = options.from ?? "any";
    if (from !== "admin-api") {
      const seen = await prisma.webhook.findFirst({
        // An order webhook, or the order as a history backfill read it (docs/decisions/016).
        where: { shop, orderId, OR: [{ topic: { startsWith: "orders/" } }, { topic: BACKFILL_ORDER_TOPIC }] },
        orderBy: { receivedAt: "desc" },
        select: { body: true },
      });
      if (seen) return { kind: "found", order: parseShopifyJson(seen.body), source: "webhook" };
      if (from === "recorded") return { kind: "not-recorded" };
    }
    return fromAdminApi(shop, orderId);
  };
}

async function lookupWithAdminApi(adminForShop: AdminForShop, shop: string, orderId: string, timeoutMs: number): Promise<OrderLookupResult> {
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
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  // The signal ends the request where the client honours it; the race ends the wait whether or not it does.
  const deadline = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => {
      abort.abort(new Error(`no answer within ${timeoutMs} ms`));
      resolve("timeout");
    }, timeoutMs);
  });
  try {
    const read = (async () => {
      const response = await admin.graphql(ORDER_IDENTITY_QUERY, { variables: { id: `gid://shopify/Order/${orderId}` }, signal: abort.signal });
      return { payload: (await response.json()) as unknown };
    })();
    read.catch(() => undefined); // settled after the deadline: nobody waits for it any more
    const first = await Promise.race([read, deadline]);
    if (first === "timeout") {
      return {
        kind: "unavailable",
        retryable: true,
        reason: `Shopify's Admin API did not answer the order look-up within ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`}: will retry.`,
      };
    }
    payload = first.payload;
  } catch (error) {
    const status = httpStatusOf(error);
    const retryable = status === undefined || status === 429 || status >= 500;
    return {
      kind: "unavailable",
      retryable,
      reason: `Shopify's Admin API did not return the order${status ? ` (HTTP ${status})` : ""}${retryable ? ": will retry" : ""}.`,
    };
  } finally {
    clearTimeout(timer);
  }
  const parsed = orderResponse.safeParse(payload);
  if (!parsed.success) return { kind: "unavailable", retryable: true, reason: "Shopify's Admin API answered with an unexpected order shape: will retry." };
  if (parsed.data.errors?.length) {
    return { kind: "unavailable", retryable: false, reason: `Shopify's Admin API refused the order look-up: ${parsed.data.errors.map((e) => e.message).join("; ")}` };
  }
  const order = parsed.data.data?.order;
  if (!order) return { kind: "not-found", reason: `Order ${orderId} was not found in the shop.` };
  const body = orderIdentityBody(order);
  if (order.fulfillments) body.fulfillments = order.fulfillments.map((fulfillment) => fulfillmentBody(fulfillment, order.legacyResourceId));
  return { kind: "found", order: body, source: "admin-api" };
}

/** The HTTP status of a failed Admin API call: a thrown Response, or shopify-api's HttpResponseError (`response.code`). */
export function httpStatusOf(error: unknown): number | undefined {
  if (error instanceof Response) return error.status;
  if (typeof error !== "object" || error === null || !("response" in error)) return undefined;
  const response: unknown = error.response;
  if (typeof response !== "object" || response === null || !("code" in response)) return undefined;
  return typeof response.code === "number" && Number.isInteger(response.code) ? response.code : undefined;
}
