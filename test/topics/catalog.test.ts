/**
 * Every entry of the topic catalog (app/topics/) on its own sample and on bodies Shopify should not send: what the
 * webhook is about (identify), when it happened (occurredAt), the key that makes two webhooks one event, the names
 * its templates get (context), and the access scope it needs, held to shopify.app.toml.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { eventIdentity } from "~/shopify/event-identity";
import { isJsonObject, parseShopifyJson, type JsonValue } from "~/shopify/json";
import { CATALOG, MAPPABLE_TOPICS, type MappableTopic } from "~/topics/catalog";
import type { JsonObject, Related } from "~/topics/entry";
import { FULFILLMENT_EVENT_STATUSES } from "~/topics/meta";

const ORDER_ID = "820982911946154508";
const ORDER = `gid://shopify/Order/${ORDER_ID}`;
const RETURN = "gid://shopify/Return/123134564567890";
const HEADERS = { eventId: "evt-1", webhookId: "wh-1" };

function object(text: string): JsonObject {
  const value = parseShopifyJson(text);
  if (!isJsonObject(value)) throw new Error("not a JSON object");
  return value;
}

function sample(topic: MappableTopic): JsonObject {
  return object(readFileSync(new URL(`../../app/topics/samples/${CATALOG[topic].sample}`, import.meta.url), "utf8"));
}

/** What each sample (one order's life, order 820982911946154508) is about, and when it happened. */
const ON_SAMPLE: Record<MappableTopic, { subjectId: string; orderId: string; occurredAt: string | null }> = {
  "orders/create": { subjectId: ORDER, orderId: ORDER_ID, occurredAt: "2022-01-01T00:00:00.000Z" },
  "orders/paid": { subjectId: ORDER, orderId: ORDER_ID, occurredAt: "2022-01-01T00:00:00.000Z" },
  "fulfillments/create": { subjectId: "gid://shopify/Fulfillment/4451825467446", orderId: ORDER_ID, occurredAt: "2022-01-03T15:15:00.000Z" },
  "fulfillment_events/create": { subjectId: "gid://shopify/FulfillmentEvent/1234567", orderId: ORDER_ID, occurredAt: "2022-01-05T13:10:00.000Z" },
  // The latest parcel's time, not the order's.
  "orders/fulfilled": { subjectId: ORDER, orderId: ORDER_ID, occurredAt: "2022-01-03T15:15:00.000Z" },
  "orders/cancelled": { subjectId: ORDER, orderId: ORDER_ID, occurredAt: "2022-01-01T14:30:00.000Z" },
  "refunds/create": { subjectId: "gid://shopify/Refund/890088186047892319", orderId: ORDER_ID, occurredAt: "2022-01-01T00:00:00.000Z" },
  // Return bodies carry no time: the webhook's X-Shopify-Triggered-At stands for it.
  "returns/request": { subjectId: RETURN, orderId: ORDER_ID, occurredAt: null },
  "returns/approve": { subjectId: RETURN, orderId: ORDER_ID, occurredAt: null },
  "returns/decline": { subjectId: RETURN, orderId: ORDER_ID, occurredAt: null },
  "returns/close": { subjectId: RETURN, orderId: ORDER_ID, occurredAt: null },
};

const ORDER_TOPICS = MAPPABLE_TOPICS.filter((topic) => topic.startsWith("orders/"));
const RETURN_TOPICS = MAPPABLE_TOPICS.filter((topic) => topic.startsWith("returns/"));

describe("identify and occurredAt on each topic's sample", () => {
  it("covers exactly the catalog", () => {
    expect(Object.keys(ON_SAMPLE).sort()).toEqual([...MAPPABLE_TOPICS].sort());
  });

  it.each(MAPPABLE_TOPICS)("%s", (topic) => {
    const entry = CATALOG[topic];
    const body = sample(topic);
    const expected = ON_SAMPLE[topic];
    expect(entry.identify(body)).toEqual({ subjectId: expected.subjectId, orderId: expected.orderId });
    expect(entry.occurredAt(body)?.toISOString() ?? null).toBe(expected.occurredAt);
    expect(entry.topic).toBe(topic);
  });
});

/** Every field any entry reads an id or a time from, each given a value of the wrong type. */
const WRONG_TYPES: JsonObject = {
  id: "12a",
  admin_graphql_api_id: 42,
  order_id: { id: 1 },
  order: "820982911946154508",
  fulfillment_id: [1],
  created_at: 1641013200000,
  updated_at: "yesterday",
  processed_at: true,
  cancelled_at: [],
  closed_at: { at: "2022-01-01T00:00:00Z" },
  happened_at: "",
  fulfillments: "all of them",
};

describe("identify and occurredAt on bodies that lack or garble what they read", () => {
  it.each(MAPPABLE_TOPICS)("%s: nothing from an empty body, nothing from wrong types", (topic) => {
    const entry = CATALOG[topic];
    expect(entry.identify({})).toEqual({ subjectId: null, orderId: null });
    expect(entry.occurredAt({})).toBeNull();
    expect(entry.identify(WRONG_TYPES)).toEqual({ subjectId: null, orderId: null });
    expect(entry.occurredAt(WRONG_TYPES)).toBeNull();
  });

  it.each(MAPPABLE_TOPICS)("%s: ids that are not whole non-negative numbers, or not exact, are not ids", (topic) => {
    for (const id of [-5, 1.5, 2 ** 60, Number.MAX_VALUE, "", " 12", "1e3", "0x1f", null, false]) {
      const body: JsonObject = { id, order_id: id, order: { id } };
      expect(CATALOG[topic].identify(body), JSON.stringify(id)).toEqual({ subjectId: null, orderId: null });
    }
  });

  it.each(MAPPABLE_TOPICS)("%s: ids above 2^53, as the webhook's text has them, come out as exact strings", (topic) => {
    const huge = "18446744073709551617"; // 2^64 + 1
    const body = object(`{"id": ${huge}, "order_id": ${huge}3, "order": {"id": ${huge}3}, "fulfillment_id": ${huge}5}`);
    const expected = topic.startsWith("orders/")
      ? { subjectId: `gid://shopify/Order/${huge}`, orderId: huge }
      : { subjectId: `${ON_SAMPLE[topic].subjectId.replace(/\d+$/, "")}${huge}`, orderId: `${huge}3` };
    expect(CATALOG[topic].identify(body)).toEqual(expected);
  });

  it.each(MAPPABLE_TOPICS)("%s: the GraphQL id wins over a rounded numeric id", (topic) => {
    // Shopify's published samples print ids past 2^53 rounded; the GraphQL id keeps them exact, so it is read first.
    const subject = ON_SAMPLE[topic].subjectId;
    const body: JsonObject = { id: 5, admin_graphql_api_id: subject, order_id: ORDER_ID, order: { id: 1, admin_graphql_api_id: ORDER } };
    expect(CATALOG[topic].identify(body).subjectId).toBe(subject);
  });

  it("reads a return's order from `order` (request, approve, decline) or `order_id` (close)", () => {
    for (const topic of RETURN_TOPICS) {
      const entry = CATALOG[topic];
      expect(entry.identify({ id: 7, order: { id: 9, admin_graphql_api_id: "gid://shopify/Order/8" } }).orderId, topic).toBe("8");
      expect(entry.identify({ id: 7, order: { id: 9 } }).orderId, topic).toBe("9");
      expect(entry.identify({ id: 7, order_id: 10 }).orderId, topic).toBe("10");
      expect(entry.identify({ id: 7, order: null }), topic).toEqual({ subjectId: "gid://shopify/Return/7", orderId: null });
    }
  });

  const FALLBACKS: Array<[MappableTopic, JsonObject, string]> = [
    ["orders/create", { processed_at: "2022-02-01T10:00:00Z" }, "2022-02-01T10:00:00.000Z"],
    ["orders/paid", { processed_at: "2022-02-01T10:00:00Z", created_at: "2022-01-01T10:00:00Z" }, "2022-02-01T10:00:00.000Z"],
    ["orders/paid", { created_at: "2022-01-01T10:00:00Z" }, "2022-01-01T10:00:00.000Z"],
    ["orders/cancelled", { cancelled_at: "not a date", updated_at: "2022-03-01T10:00:00+01:00" }, "2022-03-01T09:00:00.000Z"],
    ["orders/fulfilled", { fulfillments: [], closed_at: "2022-04-01T10:00:00Z", updated_at: "2022-04-02T10:00:00Z" }, "2022-04-01T10:00:00.000Z"],
    ["orders/fulfilled", { fulfillments: [{ created_at: "garbage" }], updated_at: "2022-04-02T10:00:00Z" }, "2022-04-02T10:00:00.000Z"],
    ["fulfillments/create", { updated_at: "2022-05-01T10:00:00Z" }, "2022-05-01T10:00:00.000Z"],
    ["fulfillment_events/create", { happened_at: null, created_at: "2022-06-01T10:00:00Z" }, "2022-06-01T10:00:00.000Z"],
    ["refunds/create", { created_at: "", processed_at: "2022-07-01T10:00:00Z" }, "2022-07-01T10:00:00.000Z"],
  ];

  it.each(FALLBACKS)("%s: occurredAt falls back in order (%j)", (topic, body, expected) => {
    expect(CATALOG[topic].occurredAt(body)?.toISOString()).toBe(expected);
  });

  it("orders/fulfilled: the latest parcel by its time, not its place in the list", () => {
    const body: JsonObject = {
      fulfillments: [
        { id: 2, created_at: "2022-01-05T10:00:00Z", tracking_number: "LATEST" },
        { id: 1, created_at: "2022-01-03T10:00:00Z", tracking_number: "FIRST" },
        { id: 3, created_at: "unknown", tracking_number: "UNDATED" },
      ],
    };
    expect(CATALOG["orders/fulfilled"].occurredAt(body)?.toISOString()).toBe("2022-01-05T10:00:00.000Z");
    const context = CATALOG["orders/fulfilled"].context(body, { order: null, fulfillment: null });
    expect((context.fulfillment as JsonObject).tracking_number).toBe("LATEST");
    expect((context.fulfillments as JsonObject[]).map((f) => f.tracking_number)).toEqual(["UNDATED", "FIRST", "LATEST"]);
  });
});

describe("the event key: what makes two webhooks one event", () => {
  const SUBJECT_TYPE: Record<MappableTopic, string> = {
    "orders/create": "Order",
    "orders/paid": "Order",
    "fulfillments/create": "Fulfillment",
    "fulfillment_events/create": "FulfillmentEvent",
    "orders/fulfilled": "Order",
    "orders/cancelled": "Order",
    "refunds/create": "Refund",
    "returns/request": "Return",
    "returns/approve": "Return",
    "returns/decline": "Return",
    "returns/close": "Return",
  };

  it.each(MAPPABLE_TOPICS)("%s: keyed by its %s whatever the webhook's own ids", (topic) => {
    const body = sample(topic);
    const key = eventIdentity(topic, body, HEADERS).eventKey;
    expect(key).toBe(ON_SAMPLE[topic].subjectId);
    expect(key.startsWith(`gid://shopify/${SUBJECT_TYPE[topic]}/`)).toBe(true);
    // A redelivery under other ids is the same event.
    expect(eventIdentity(topic, body, { eventId: "evt-2", webhookId: "wh-2" }).eventKey).toBe(key);
  });

  it("orders/*: one key per order, so the same order's topics differ only by topic", () => {
    const keys = ORDER_TOPICS.map((topic) => eventIdentity(topic, sample(topic), HEADERS).eventKey);
    expect(new Set(keys)).toEqual(new Set([ORDER]));
  });

  it("fulfillments/create: two parcels of one order are two events", () => {
    const first = sample("fulfillments/create");
    const second = { ...first, id: 4451825467447, admin_graphql_api_id: "gid://shopify/Fulfillment/4451825467447" };
    expect(eventIdentity("fulfillments/create", first, HEADERS).eventKey).not.toBe(eventIdentity("fulfillments/create", second, HEADERS).eventKey);
    expect(eventIdentity("fulfillments/create", second, HEADERS).orderId).toBe(ORDER_ID);
  });

  it("fulfillment_events/create: two updates of one parcel are two events", () => {
    const first = sample("fulfillment_events/create");
    const second = { ...first, id: 1234568, admin_graphql_api_id: "gid://shopify/FulfillmentEvent/1234568", status: "delivered" };
    const keys = [first, second].map((body) => eventIdentity("fulfillment_events/create", body, HEADERS).eventKey);
    expect(keys).toEqual(["gid://shopify/FulfillmentEvent/1234567", "gid://shopify/FulfillmentEvent/1234568"]);
  });

  it("returns/*: the return is the key and the topic the other half, so one return's request and close are two events", () => {
    const keys = RETURN_TOPICS.map((topic) => eventIdentity(topic, sample(topic), HEADERS).eventKey);
    expect(new Set(keys)).toEqual(new Set([RETURN]));
    // Webhooks are unique per shop, topic and key (indexed by the key first, decision 044).
    const schema = readFileSync(new URL("../../prisma/schema.prisma", import.meta.url), "utf8");
    expect(schema).toMatch(/model Webhook \{[^}]*@@unique\(\[eventKey, topic, shop\]\)/);
  });

  it.each(MAPPABLE_TOPICS)("%s: a body without its subject's id falls back to the event id, then the webhook id", (topic) => {
    expect(eventIdentity(topic, {}, HEADERS).eventKey).toBe("event:evt-1");
    expect(eventIdentity(topic, {}, { eventId: null, webhookId: "wh-1" }).eventKey).toBe("webhook:wh-1");
    expect(eventIdentity(topic, [1, 2] as JsonValue, HEADERS)).toEqual({ eventKey: "event:evt-1", orderId: null });
  });
});

describe("context: the names a topic's templates get besides the body's", () => {
  const related: Related = { order: sample("orders/fulfilled"), fulfillment: sample("fulfillments/create") };
  /** Documented names; those in parentheses describe the body's own fields. */
  const named = (topic: MappableTopic) => CATALOG[topic].contextFields.map((field) => field.name).filter((name) => !name.startsWith("("));

  it.each(MAPPABLE_TOPICS)("%s: adds exactly the names it documents", (topic) => {
    const context = CATALOG[topic].context(sample(topic), related);
    expect(Object.keys(context).sort()).toEqual(named(topic).sort());
    for (const field of CATALOG[topic].contextFields) expect(field.description.length, `${topic} ${field.name}`).toBeGreaterThan(20);
  });

  it("gives the looked-up order and parcel to the topics whose body is not the order", () => {
    expect(named("orders/create")).toEqual([]);
    expect(CATALOG["fulfillments/create"].context(sample("fulfillments/create"), related)).toEqual({ order: related.order });
    expect(CATALOG["fulfillment_events/create"].context(sample("fulfillment_events/create"), related)).toEqual({
      order: related.order,
      fulfillment: related.fulfillment,
    });
    expect(CATALOG["refunds/create"].context(sample("refunds/create"), related)).toEqual({ order: related.order });
    for (const topic of RETURN_TOPICS) {
      // The body's `order` is only the order's ids: the found order replaces it.
      expect(CATALOG[topic].context(sample(topic), related), topic).toEqual({ order: related.order });
    }
  });

  it("says which topics look their order up, and only the delivery update its parcel", () => {
    const needs = Object.fromEntries(MAPPABLE_TOPICS.map((topic) => [topic, CATALOG[topic].needs]));
    expect(needs).toEqual({
      "orders/create": { order: "body" },
      "orders/paid": { order: "body" },
      "fulfillments/create": { order: "lookup" },
      "fulfillment_events/create": { order: "lookup", fulfillment: true },
      "orders/fulfilled": { order: "body" },
      "orders/cancelled": { order: "body" },
      "refunds/create": { order: "lookup" },
      "returns/request": { order: "lookup" },
      "returns/approve": { order: "lookup" },
      "returns/decline": { order: "lookup" },
      "returns/close": { order: "lookup" },
    });
  });
});

describe("fulfillment_events/create: the delivery statuses", () => {
  it("accepts every status Shopify's FulfillmentEventStatus has, and names the unknown one with the known ones", () => {
    const entry = CATALOG["fulfillment_events/create"];
    for (const status of FULFILLMENT_EVENT_STATUSES) expect(entry.validate?.({ status }), status).toBeNull();
    expect(entry.validate?.({ status: "teleported" })).toBe(
      `Shopify sent a delivery status this app does not know ("teleported"), so no event was sent. Known statuses: ${FULFILLMENT_EVENT_STATUSES.join(", ")}.`,
    );
    expect(entry.validate?.({})).toMatch(/does not know \(null\)/);
    // Every status a default mapping sends on is one Shopify has.
    for (const mapping of entry.defaults) {
      const status = /^status == '([a-z_]+)'$/.exec(mapping.when ?? "")?.[1];
      expect(FULFILLMENT_EVENT_STATUSES as readonly string[], mapping.eventType).toContain(status);
    }
  });

  it("is the only topic that refuses bodies", () => {
    expect(MAPPABLE_TOPICS.filter((topic) => CATALOG[topic].validate !== undefined)).toEqual(["fulfillment_events/create"]);
  });
});

describe("access scopes", () => {
  const toml = readFileSync(new URL("../../shopify.app.toml", import.meta.url), "utf8");

  function tomlScopes(): { required: string[]; optional: string[] } {
    const required = /^scopes\s*=\s*"([^"]*)"/m.exec(toml)?.[1];
    const optional = /^optional_scopes\s*=\s*(\[[^\]]*\])/m.exec(toml)?.[1];
    if (required === undefined || optional === undefined) throw new Error("shopify.app.toml: scopes or optional_scopes not found");
    return { required: required.split(",").map((scope) => scope.trim()).filter(Boolean), optional: JSON.parse(optional) as string[] };
  }

  it.each(MAPPABLE_TOPICS)("%s: its scope is one the app asks for", (topic) => {
    const { required, optional } = tomlScopes();
    expect([...required, ...optional]).toContain(CATALOG[topic].scope);
  });

  it("orders and refunds need read_orders (required), parcels and delivery updates read_fulfillments, returns read_returns", () => {
    const scopes = Object.fromEntries(MAPPABLE_TOPICS.map((topic) => [topic, CATALOG[topic].scope]));
    expect(scopes).toEqual({
      "orders/create": "read_orders",
      "orders/paid": "read_orders",
      "fulfillments/create": "read_fulfillments",
      "fulfillment_events/create": "read_fulfillments",
      "orders/fulfilled": "read_orders",
      "orders/cancelled": "read_orders",
      "refunds/create": "read_orders",
      "returns/request": "read_returns",
      "returns/approve": "read_returns",
      "returns/decline": "read_returns",
      "returns/close": "read_returns",
    });
    // read_all_orders is no topic's: the Past orders page asks for it for a backfill older than 60 days.
    expect(tomlScopes()).toEqual({ required: ["read_orders"], optional: ["read_fulfillments", "read_returns", "read_all_orders"] });
  });
});

describe("what the editor shows of each topic", () => {
  it.each(MAPPABLE_TOPICS)("%s: a label, a whole-sentence description and event types without stray punctuation", (topic) => {
    const entry = CATALOG[topic];
    expect(entry.label).toMatch(/^[A-Z][a-z]+( [a-z]+)*$/);
    expect(entry.description).toMatch(/^[A-Z].{20,}\.$/);
    expect(entry.defaults.length).toBeGreaterThan(0);
    for (const mapping of entry.defaults) expect(mapping.eventType).toMatch(/^[A-Z][a-z]+( [A-Z][a-z]+)*$/);
  });
});
