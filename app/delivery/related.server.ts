/**
 * Finds what a webhook's templates and identity need beyond its body, as its topic's catalog entry says: the order
 * (for refunds, parcels, delivery updates, returns) and the fulfillment (for delivery updates).
 *
 * Shopify does not promise the order webhooks arrive in: a return or a delivery update can come before the order
 * webhook the app would read its customer from. While a delivery is young, a missing order or fulfillment makes it
 * wait (a few checks, each logged on the delivery) rather than fail or spend an Admin API query; after that the
 * Admin API is asked, and only its answer can fail the delivery (decision 014).
 */
import type { Database } from "~/db.server";
import { isJsonObject, parseShopifyJson, type JsonValue } from "~/shopify/json";
import type { OrderLookup, OrderLookupResult } from "~/shopify/order-lookup.server";
import type { JsonObject, Related, TopicEntry } from "~/topics/entry";
import { fieldOf, gidOf, idString, resourceId } from "~/topics/fields";

/** How long after its arrival a delivery waits for its order's webhook before asking the Admin API. */
export const DEFAULT_ORDER_ARRIVAL_WAIT_MS = 90_000;
/** Time between two checks while it waits. */
export const ORDER_ARRIVAL_CHECK_MS = 15_000;

export type RelatedOutcome =
  | { kind: "ready"; related: Related; problem: { reason: string; retryable: boolean } | null }
  | { kind: "waiting"; reason: string; until: Date };

export interface RelatedDeps {
  prisma: Database;
  orderLookup: OrderLookup;
  /** DEFAULT_ORDER_ARRIVAL_WAIT_MS unless a test says otherwise. */
  orderArrivalWaitMs: number;
}

const NOTHING: Related = { order: null, fulfillment: null };

export async function findRelated(
  deps: RelatedDeps,
  entry: TopicEntry,
  delivery: { shop: string; createdAt: Date },
  body: JsonValue,
  now: Date,
): Promise<RelatedOutcome> {
  if (entry.needs.order === "body" && entry.needs.fulfillment !== true) return { kind: "ready", related: NOTHING, problem: null };
  const object: JsonObject = isJsonObject(body) ? body : {};
  const { orderId } = entry.identify(object);
  if (orderId === null) {
    return { kind: "ready", related: NOTHING, problem: { reason: `The ${entry.subject} has no order id, so its customer cannot be found.`, retryable: false } };
  }
  const waitLeftMs = delivery.createdAt.getTime() + deps.orderArrivalWaitMs - now.getTime();
  const waiting = (what: string): RelatedOutcome => ({
    kind: "waiting",
    until: new Date(now.getTime() + Math.min(ORDER_ARRIVAL_CHECK_MS, Math.max(waitLeftMs, 0))),
    reason:
      `Waiting for ${what}: Shopify sent this ${entry.subject} first. ` +
      `The app checks again every ${ORDER_ARRIVAL_CHECK_MS / 1000} s, and ${Math.round(deps.orderArrivalWaitMs / 1000)} s after it arrived asks Shopify's Admin API instead.`,
  });

  let related: Related = NOTHING;
  let problem: { reason: string; retryable: boolean } | null = null;
  if (entry.needs.order === "lookup") {
    const lookup = await deps.orderLookup(delivery.shop, orderId, waitLeftMs > 0 ? { from: "recorded" } : {});
    if (lookup.kind === "not-recorded") return waiting(`the order's webhook (order ${orderId})`);
    if (lookup.kind === "found") related = { ...related, order: lookup.order };
    else problem = { reason: lookup.reason, retryable: lookup.kind === "unavailable" && lookup.retryable };
  }
  if (entry.needs.fulfillment === true) {
    const fulfillmentId = idString(fieldOf(object, "fulfillment_id"));
    if (fulfillmentId !== null) {
      // The order's look-up just failed: asking the Admin API again for its parcel would be the same query.
      const found = await findFulfillment(deps, delivery.shop, orderId, fulfillmentId, related.order, waitLeftMs > 0, problem === null);
      if (found === "wait") return waiting(`the parcel's webhook (fulfillment ${fulfillmentId})`);
      related = { ...related, fulfillment: found };
    }
  }
  return { kind: "ready", related, problem };
}

/**
 * A recorded fulfillments/create webhook, else the order's own list, else (once the wait is over, and unless the
 * order's own look-up failed) the Admin API's.
 */
async function findFulfillment(
  deps: RelatedDeps,
  shop: string,
  orderId: string,
  fulfillmentId: string,
  order: JsonValue | null,
  mayWait: boolean,
  mayAskAdminApi: boolean,
): Promise<JsonValue | "wait"> {
  const recorded = await deps.prisma.webhook.findUnique({
    where: { eventKey_topic_shop: { shop, topic: "fulfillments/create", eventKey: gidOf("Fulfillment", fulfillmentId)! } },
    select: { body: true },
  });
  if (recorded) return parseShopifyJson(recorded.body);
  const inOrder = fulfillmentIn(order, fulfillmentId);
  if (inOrder !== null) return inOrder;
  if (mayWait) return "wait";
  if (!mayAskAdminApi) return null;
  const fresh: OrderLookupResult = await deps.orderLookup(shop, orderId, { from: "admin-api" });
  return fresh.kind === "found" ? fulfillmentIn(fresh.order, fulfillmentId) : null;
}

function fulfillmentIn(order: JsonValue | null, fulfillmentId: string): JsonValue | null {
  const fulfillments = fieldOf(order, "fulfillments");
  if (!Array.isArray(fulfillments)) return null;
  return fulfillments.find((fulfillment) => resourceId(fulfillment) === fulfillmentId) ?? null;
}
