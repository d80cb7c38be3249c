/**
 * One order's whole life as Shopify would send it (placed, paid, shipped, three carrier updates, fulfilled,
 * refunded, returned), built from the derived fixtures, plus a second order of another customer that is placed and
 * cancelled. Bodies are edited as text so ids above 2^53 stay exact numbers, as Shopify writes them.
 */
import { randomUUID } from "node:crypto";
import { db } from "~/db.server";
import { processDueDeliveries, type WorkerOptions } from "~/delivery/worker.server";
import { catalogMappings } from "~/mapping/defaults";
import { replaceMappings } from "~/models/Mapping.server";
import { isJsonObject, parseShopifyJson, type JsonValue } from "~/shopify/json";
import type { MappableTopic } from "~/topics/catalog";
import { postWebhook } from "./pipeline";
import { fixtureText, TEST_SHOP } from "./webhooks";

/** The derived fixtures' order, exactly (its `id` field is the rounded 820982911946154500). */
export const ORDER_ID = "820982911946154508";
export const PARCEL_ID = "4451825467446";
export const TRACKING_NUMBER = "1Z999AA10123456784";

/** The second order: another id, another customer (ids above 2^53 again). */
export const OTHER_ORDER_ID = "9007199254740995";
export const OTHER_CUSTOMER_ID = "9007199254740997";

/** Who the first order's events are about: the order's email and its customer's id (the sample's phone is not valid). */
export const CUSTOMER = { email: "jon@example.com", externalIdentifiers: { clientUserId: "115310627314723954" } };
export const OTHER_CUSTOMER = { email: "ada@example.net", phone: "+16135550135", externalIdentifiers: { clientUserId: OTHER_CUSTOMER_ID } };

const SCALAR = String.raw`(?:null|true|false|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\]|\\.)*")`;

/**
 * Sets `key` to `json` (JSON text: a number is written as digits, however long) where the body has it exactly once
 * with a scalar value; throws otherwise, so an edit cannot silently miss or hit the wrong field.
 */
export function setField(text: string, key: string, json: string): string {
  const pattern = new RegExp(String.raw`("${key}":\s*)${SCALAR}`, "g");
  const count = text.match(pattern)?.length ?? 0;
  if (count !== 1) throw new Error(`"${key}" appears ${count} times with a scalar value; setField needs exactly one`);
  return text.replace(pattern, (_match, prefix: string) => `${prefix}${json}`);
}

/** `from` replaced by `to` where the text has it exactly once. */
export function replaceOnce(text: string, from: string, to: string): string {
  const count = text.split(from).length - 1;
  if (count !== 1) throw new Error(`${JSON.stringify(from)} appears ${count} times; replaceOnce needs exactly one`);
  return text.replace(from, to);
}

export function bodyObject(text: string): { [key: string]: JsonValue } {
  const body = parseShopifyJson(text);
  if (!isJsonObject(body)) throw new Error("not a JSON object");
  return body;
}

/** A carrier update about the parcel: the derived one (out for delivery) with another id, status and time. */
export function deliveryUpdate(id: string, status: string, happenedAt: string, message: string): string {
  let text = fixtureText("fulfillment_events_create.derived.json");
  text = setField(text, "id", id);
  text = setField(text, "admin_graphql_api_id", JSON.stringify(`gid://shopify/FulfillmentEvent/${id}`));
  text = setField(text, "status", JSON.stringify(status));
  text = setField(text, "message", JSON.stringify(message));
  text = setField(text, "happened_at", JSON.stringify(happenedAt));
  return text;
}

/** The derived order body (orders_create / orders_cancelled) made into the second order, with checks. */
function otherOrder(fixture: string): string {
  let text = fixtureText(fixture)
    .replaceAll("820982911946154508", OTHER_ORDER_ID)
    .replaceAll("820982911946154500", OTHER_ORDER_ID)
    .replaceAll("115310627314723954", OTHER_CUSTOMER_ID)
    .replaceAll("115310627314723950", OTHER_CUSTOMER_ID)
    .replaceAll("jon@example.com", OTHER_CUSTOMER.email)
    .replaceAll("john@example.com", OTHER_CUSTOMER.email)
    .replaceAll('"first_name": "John"', '"first_name": "Ada"')
    .replaceAll("123456abcd", "98765zyxw");
  text = replaceOnce(text, '"name": "#9999"', '"name": "#10001"');
  text = setField(text, "order_number", "10001");
  // The order's own phone is the first `"phone": null` (top level, before the addresses and the customer).
  text = text.replace('"phone": null', `"phone": ${JSON.stringify(OTHER_CUSTOMER.phone)}`);
  const body = bodyObject(text);
  const customer = body.customer;
  if (
    body.id !== OTHER_ORDER_ID ||
    body.phone !== OTHER_CUSTOMER.phone ||
    !isJsonObject(customer ?? null) ||
    (customer as { id?: JsonValue }).id !== OTHER_CUSTOMER_ID ||
    text.includes("820982911946154") ||
    text.includes("jon@") ||
    text.includes("john@")
  ) {
    throw new Error(`${fixture}: the second order's body was not derived as intended`);
  }
  return text;
}

export interface LifecycleWebhook {
  /** Unique within the lifecycle: how tests name it. */
  label: string;
  topic: MappableTopic;
  body: string;
  /** X-Shopify-Triggered-At; return bodies carry no time, so for them it is the event's time. */
  triggeredAt: string;
  webhookId: string;
  eventId: string;
}

function webhook(label: string, topic: MappableTopic, body: string, triggeredAt: string): LifecycleWebhook {
  return { label, topic, body, triggeredAt, webhookId: randomUUID(), eventId: randomUUID() };
}

/**
 * Every webhook of the lifecycle in the order Shopify would send them. Topics whose bodies carry a time get a
 * triggeredAt far from it, so an event dated by its arrival instead of its body shows.
 */
export function lifecycleWebhooks(): LifecycleWebhook[] {
  const late = "2022-03-01T12:00:00.000Z";
  return [
    webhook("order placed", "orders/create", fixtureText("orders_create.derived.json"), late),
    webhook("order paid", "orders/paid", fixtureText("orders_paid.derived.json"), late),
    webhook("parcel shipped", "fulfillments/create", fixtureText("fulfillments_create.derived.json"), late),
    webhook("in transit", "fulfillment_events/create", deliveryUpdate("1234565", "in_transit", "2022-01-04T09:00:00-05:00", "In transit"), late),
    webhook("out for delivery", "fulfillment_events/create", fixtureText("fulfillment_events_create.derived.json"), late),
    webhook("delivered", "fulfillment_events/create", deliveryUpdate("1234569", "delivered", "2022-01-05T14:32:00-05:00", "Delivered"), late),
    webhook("order fulfilled", "orders/fulfilled", fixtureText("orders_fulfilled.derived.json"), late),
    webhook("refund", "refunds/create", fixtureText("refunds_create.derived.json"), late),
    webhook("return requested", "returns/request", fixtureText("returns_request.derived.json"), "2022-01-12T15:00:00.000Z"),
    webhook("return closed", "returns/close", fixtureText("returns_close.derived.json"), "2022-01-20T16:30:00.000Z"),
    webhook("other order placed", "orders/create", otherOrder("orders_create.derived.json"), late),
    webhook("other order cancelled", "orders/cancelled", otherOrder("orders_cancelled.derived.json"), late),
  ];
}

export async function post(webhook: LifecycleWebhook, headers: { webhookId?: string; eventId?: string } = {}): Promise<void> {
  const response = await postWebhook({
    topic: webhook.topic,
    body: webhook.body,
    triggeredAt: webhook.triggeredAt,
    webhookId: headers.webhookId ?? webhook.webhookId,
    eventId: headers.eventId ?? webhook.eventId,
  });
  if (response.status !== 200) throw new Error(`${webhook.label}: answered ${response.status} ${await response.text()}`);
}

/** Every mapping the catalog offers, all turned on, so every topic and every delivery status has one. */
export async function enableWholeCatalog(shop = TEST_SHOP) {
  return replaceMappings(
    db(),
    shop,
    catalogMappings().map((mapping) => ({ ...mapping, enabled: true })),
  );
}

/**
 * A clock that runs with the real one plus however far the test moved it: webhooks are recorded at real time by
 * the real route, and the worker sees them as due at once, then as old as the test says.
 */
export function virtualClock() {
  let aheadMs = 0;
  return {
    now: () => new Date(Date.now() + aheadMs),
    advance(ms: number) {
      aheadMs += ms;
    },
  };
}

/** Worker options with the production wait for an order's webhook (the test helpers' 0 removed). */
export function withProductionWait(options: WorkerOptions): WorkerOptions {
  const { orderArrivalWaitMs: _ignored, ...rest } = options;
  return rest;
}

/** Worker passes until one finds nothing due (bounded, so a delivery claimed over and over fails the test). */
export async function runPasses(options: WorkerOptions, maxPasses = 20): Promise<void> {
  for (let pass = 0; pass < maxPasses; pass++) {
    if ((await processDueDeliveries(options)) === 0) return;
  }
  throw new Error(`still finding due deliveries after ${maxPasses} passes`);
}

/** Fisher-Yates with a seeded random source. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
