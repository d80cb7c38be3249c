/**
 * When the thing an event reports actually happened. Shopify can deliver a webhook hours after the fact, and
 * Attentive judges staleness by occurredAt, so the webhook's arrival time is only a last resort. Each topic's
 * catalog entry (app/topics/) says which of its body's fields tell the time.
 */
import { CATALOG, isMappableTopic } from "~/topics/catalog";
import { isJsonObject, type JsonValue } from "./json";

/** Any Shopify topic: catalog topics get their body's time, the rest the fallback. */
export function occurredAtFor(topic: string, body: JsonValue, fallback: Date): Date {
  if (!isJsonObject(body) || !isMappableTopic(topic)) return fallback;
  return CATALOG[topic].occurredAt(body) ?? fallback;
}
