/**
 * When the thing an event reports actually happened. Shopify can deliver a webhook hours after the fact, and
 * Attentive judges staleness by occurredAt, so the webhook's arrival time is only a last resort.
 */
import { isJsonObject, type JsonValue } from "./json";

function dateFrom(value: JsonValue | undefined): Date | null {
  if (typeof value !== "string" || value.trim() === "") return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

function fieldOf(body: JsonValue, key: string): JsonValue | undefined {
  return isJsonObject(body) && Object.hasOwn(body, key) ? body[key] : undefined;
}

/** Latest by time rather than array position: Shopify does not promise the array's order. */
function latestFulfillment(body: JsonValue): Date | null {
  const fulfillments = fieldOf(body, "fulfillments");
  if (!Array.isArray(fulfillments)) return null;
  let latest: Date | null = null;
  for (const fulfillment of fulfillments) {
    const created = dateFrom(fieldOf(fulfillment, "created_at"));
    if (created !== null && (latest === null || created.getTime() > latest.getTime())) latest = created;
  }
  return latest;
}

/** Any Shopify topic: those this knows a time field for get it, the rest the fallback. */
export function occurredAtFor(topic: string, body: JsonValue, fallback: Date): Date {
  switch (topic) {
    case "orders/fulfilled":
      return latestFulfillment(body) ?? dateFrom(fieldOf(body, "closed_at")) ?? dateFrom(fieldOf(body, "updated_at")) ?? fallback;
    case "refunds/create":
      return dateFrom(fieldOf(body, "created_at")) ?? dateFrom(fieldOf(body, "processed_at")) ?? fallback;
    default:
      return fallback;
  }
}
