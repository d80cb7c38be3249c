/**
 * What a webhook is about, from its exact body: the key that identifies the Shopify
 * event for de-duplication, and the order it concerns.
 *
 * For commerce topics the key is the subject resource (the fulfilled order, the
 * refund): Shopify may redeliver one event under new webhook ids, and a
 * reconciliation that finds a missed event by asking the Admin API knows the
 * resource but not the webhook ids. One order is "fulfilled" once for our purposes:
 * a second orders/fulfilled for it must not text the customer again.
 */
import { isJsonObject, type JsonValue } from "./json";

export interface EventIdentity {
  eventKey: string;
  orderId: string | null;
}

function gidNumber(gid: JsonValue | undefined): string | null {
  if (typeof gid !== "string") return null;
  const match = /^gid:\/\/shopify\/[A-Za-z]+\/(\d+)$/.exec(gid);
  return match ? match[1]! : null;
}

function idString(value: JsonValue | undefined): string | null {
  if (typeof value === "string" && /^\d+$/.test(value)) return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
  return null;
}

export function eventIdentity(
  topic: string,
  body: JsonValue,
  headers: { eventId?: string | null; webhookId: string },
): EventIdentity {
  const fallback = headers.eventId ? `event:${headers.eventId}` : `webhook:${headers.webhookId}`;
  if (!isJsonObject(body)) return { eventKey: fallback, orderId: null };
  if (topic.startsWith("orders/")) {
    const orderId = gidNumber(body.admin_graphql_api_id) ?? idString(body.id);
    return { eventKey: orderId ? `gid://shopify/Order/${orderId}` : fallback, orderId };
  }
  if (topic === "refunds/create") {
    const refundId = gidNumber(body.admin_graphql_api_id) ?? idString(body.id);
    return { eventKey: refundId ? `gid://shopify/Refund/${refundId}` : fallback, orderId: idString(body.order_id) };
  }
  return { eventKey: fallback, orderId: null };
}

