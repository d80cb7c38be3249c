/**
 * What a webhook is about, from its exact body: the key that identifies the Shopify
 * event for de-duplication, and the order it concerns. Each topic's catalog entry
 * (app/topics/) says which resource is its subject.
 *
 * For commerce topics the key is the subject resource (the fulfilled order, the
 * refund, the parcel, the return): Shopify may redeliver one event under new webhook
 * ids, and a reconciliation that finds a missed event by asking the Admin API knows
 * the resource but not the webhook ids. One order is "fulfilled" once for our
 * purposes: a second orders/fulfilled for it must not text the customer again.
 * Webhooks are unique per shop, topic and key, so one return's request and its
 * closing are two events.
 */
import { CATALOG, isMappableTopic } from "~/topics/catalog";
import { isJsonObject, type JsonValue } from "./json";

export interface EventIdentity {
  eventKey: string;
  orderId: string | null;
}

export function eventIdentity(
  topic: string,
  body: JsonValue,
  headers: { eventId?: string | null; webhookId: string },
): EventIdentity {
  const fallback = headers.eventId ? `event:${headers.eventId}` : `webhook:${headers.webhookId}`;
  if (!isJsonObject(body) || !isMappableTopic(topic)) return { eventKey: fallback, orderId: null };
  const { subjectId, orderId } = CATALOG[topic].identify(body);
  return { eventKey: subjectId ?? fallback, orderId };
}
