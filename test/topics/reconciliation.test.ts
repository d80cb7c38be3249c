/**
 * Each catalog topic's reconciliation (app/topics/*.reconcile.ts): its query is one Shopify would run (named, paged,
 * under the 1,000-point cost limit), its rebuilt body is the webhook's event (same key, same time) and renders the
 * topic's default mappings as the webhook does, and the job asks only about topics the shop's scopes cover.
 */
import { readFileSync } from "node:fs";
import { Kind, parse, type FieldNode, type OperationDefinitionNode } from "graphql";
import { describe, expect, it } from "vitest";
import { topicDefaults } from "~/mapping/defaults";
import { renderMapping, type RenderOutcome } from "~/mapping/render.server";
import { reconciledTopics, sessionScopes } from "~/reconciliation/reconcile.server";
import { isJsonObject, parseShopifyJson, type JsonValue } from "~/shopify/json";
import { CATALOG, MAPPABLE_TOPICS, type MappableTopic } from "~/topics/catalog";
import type { JsonObject, QueryReconciliation, ReconciledEvent } from "~/topics/entry";
import { MAX_SINGLE_QUERY_COST, requestedQueryCost } from "../support/query-cost";

function fixture(name: string): JsonObject {
  const value = parseShopifyJson(readFileSync(new URL(`../fixtures/shopify/${name}`, import.meta.url), "utf8"));
  if (!isJsonObject(value)) throw new Error(`${name} is not a JSON object`);
  return value;
}

const RECONCILED: readonly MappableTopic[] = ["orders/create", "fulfillments/create", "orders/fulfilled", "orders/cancelled", "refunds/create"];

/** The webhook each topic's rebuilt body stands for: the same order's derived samples. */
const WEBHOOK_SAMPLE: Record<string, string> = {
  "orders/create": "orders_create.derived.json",
  "fulfillments/create": "fulfillments_create.derived.json",
  "orders/fulfilled": "orders_fulfilled.derived.json",
  "orders/cancelled": "orders_cancelled.derived.json",
  "refunds/create": "refunds_create.derived.json",
};

/** The order both renders of a topic whose body is not the order get, as the worker would find it. */
const LOOKED_UP_ORDER = fixture("orders_fulfilled.derived.json");
const ADMIN_ORDER = fixture("admin_order.derived.json");

function queryOf(topic: MappableTopic): QueryReconciliation {
  const reconciliation = CATALOG[topic].reconciliation;
  if (reconciliation.kind !== "query") throw new Error(`${topic} has no reconciliation query`);
  return reconciliation;
}

function rebuilt(topic: MappableTopic): ReconciledEvent[] {
  const reconciliation = queryOf(topic);
  return reconciliation.events(reconciliation.node.parse(ADMIN_ORDER));
}

function operationOf(document: string): OperationDefinitionNode {
  const [operation, ...rest] = parse(document).definitions;
  if (operation?.kind !== Kind.OPERATION_DEFINITION || rest.length > 0) throw new Error("expected one operation");
  return operation;
}

function ordersField(operation: OperationDefinitionNode): FieldNode {
  const field = operation.selectionSet.selections.find((selection): selection is FieldNode => selection.kind === Kind.FIELD && selection.name.value === "orders");
  if (!field) throw new Error("the query does not select orders");
  return field;
}

const WINDOW = { from: new Date("2022-01-01T00:00:00Z"), until: new Date("2022-01-02T00:00:00Z") };

describe("the catalog's reconciliation queries", () => {
  it("are the order topics', fulfillments' and refunds'; every other topic says why it has none", () => {
    expect(MAPPABLE_TOPICS.filter((topic) => CATALOG[topic].reconciliation.kind === "query")).toEqual(RECONCILED);
    for (const topic of MAPPABLE_TOPICS) {
      const reconciliation = CATALOG[topic].reconciliation;
      if (reconciliation.kind === "none") expect(reconciliation.why.length, topic).toBeGreaterThan(80);
    }
  });

  it.each(RECONCILED)("%s: a named query over orders, paged by $after, its page size its `first`, within Shopify's cost limit", (topic) => {
    const reconciliation = queryOf(topic);
    const operation = operationOf(reconciliation.document);
    expect(operation.operation).toBe("query");
    expect(operation.name?.value).toMatch(/^Reconcile[A-Z]/);
    const declared = Object.fromEntries((operation.variableDefinitions ?? []).map((definition) => [definition.variable.name.value, definition.type]));
    expect(Object.keys(declared).sort()).toEqual(["after", "query", ...Object.keys(reconciliation.variables?.(WINDOW) ?? {})].sort());
    expect(declared.query?.kind).toBe(Kind.NON_NULL_TYPE);
    expect(declared.after?.kind).toBe(Kind.NAMED_TYPE);
    const orders = ordersField(operation);
    const first = orders.arguments?.find((argument) => argument.name.value === "first")?.value;
    expect(first?.kind === Kind.INT ? Number(first.value) : null).toBe(reconciliation.pageSize);
    expect(orders.arguments?.map((argument) => argument.name.value)).toEqual(expect.arrayContaining(["after", "query"]));
    expect(requestedQueryCost(reconciliation.document)).toBeLessThanOrEqual(MAX_SINGLE_QUERY_COST);
  });

  it("search from the window's start: by creation for new orders, by change for the rest", () => {
    const searches = Object.fromEntries(RECONCILED.map((topic) => [topic, queryOf(topic).search(WINDOW)]));
    expect(searches).toEqual({
      "orders/create": "created_at:>='2022-01-01T00:00:00.000Z'",
      "fulfillments/create": "updated_at:>='2022-01-01T00:00:00.000Z'",
      "orders/fulfilled": "updated_at:>='2022-01-01T00:00:00.000Z' fulfillment_status:shipped",
      "orders/cancelled": "updated_at:>='2022-01-01T00:00:00.000Z'",
      "refunds/create": "updated_at:>='2022-01-01T00:00:00.000Z'",
    });
    expect(queryOf("fulfillments/create").variables?.(WINDOW)).toEqual({ fulfillmentSearch: "created_at:>='2022-01-01T00:00:00.000Z'" });
  });
});

describe("a body rebuilt from the Admin API", () => {
  it.each(RECONCILED)("%s: is the webhook's event: same subject, order and time", (topic) => {
    const entry = CATALOG[topic];
    const webhook = fixture(WEBHOOK_SAMPLE[topic]!);
    const events = rebuilt(topic);
    expect(events).toHaveLength(1);
    const [event] = events as [ReconciledEvent];
    expect(entry.identify(event.body)).toEqual(entry.identify(webhook));
    expect(entry.identify(event.body).subjectId).toBe(event.subjectId);
    expect(entry.occurredAt(event.body)?.toISOString()).toBe(new Date(event.at).toISOString());
    expect(entry.occurredAt(event.body)?.toISOString()).toBe(entry.occurredAt(webhook)?.toISOString());
  });

  it.each(RECONCILED)("%s: renders every default mapping of the topic as the webhook does", async (topic) => {
    const [event] = rebuilt(topic) as [ReconciledEvent];
    const webhook = fixture(WEBHOOK_SAMPLE[topic]!);
    const order = CATALOG[topic].needs.order === "lookup" ? LOOKED_UP_ORDER : undefined;
    // Those a new shop starts without too: a merchant may turn them on.
    const mappings = topicDefaults(topic).map((mapping) => ({ ...mapping, enabled: true }));
    expect(mappings.length).toBeGreaterThan(0);
    for (const mapping of mappings) {
      const fromWebhook = await renderMapping(mapping, { topic, shop: "jsmith.myshopify.com", body: webhook, order });
      const fromAdmin = await renderMapping(mapping, { topic, shop: "jsmith.myshopify.com", body: event.body, order });
      expect(fromWebhook.kind, mapping.eventType).toBe("event");
      expect(sameInstantsAsText(fromAdmin, fromWebhook), mapping.eventType).toEqual(fromWebhook);
    }
  });

  it("fulfillments/create: renders the parcel's own contact details as the webhook does when its order cannot be found", async () => {
    const [event] = rebuilt("fulfillments/create") as [ReconciledEvent];
    const webhook = fixture(WEBHOOK_SAMPLE["fulfillments/create"]!);
    for (const mapping of topicDefaults("fulfillments/create")) {
      const fromWebhook = await renderMapping(mapping, { topic: "fulfillments/create", shop: "s", body: webhook, order: null });
      const fromAdmin = await renderMapping(mapping, { topic: "fulfillments/create", shop: "s", body: event.body, order: null });
      expect(fromWebhook.kind === "event" ? fromWebhook.event.user.email : null).toBe("jon@example.com");
      expect(fromAdmin).toEqual(fromWebhook);
    }
  });

  it("orders/cancelled: writes cancelledAt in UTC, the same instant as the webhook's shop-time", async () => {
    const [event] = rebuilt("orders/cancelled") as [ReconciledEvent];
    const [mapping] = topicDefaults("orders/cancelled");
    const outcome = await renderMapping(mapping!, { topic: "orders/cancelled", shop: "s", body: event.body });
    expect(outcome.kind === "event" ? outcome.event.properties : null).toMatchObject({ cancelledAt: "2022-01-01T14:30:00Z", cancelReason: "customer" });
  });

  it("orders/fulfilled: dates the event by the latest parcel, and lists parcels oldest first, whatever order Shopify gives", () => {
    const [parcel] = ADMIN_ORDER.fulfillments as [JsonObject];
    const later = { ...parcel, id: "gid://shopify/Fulfillment/4451825467447", createdAt: "2022-01-04T13:00:00Z", trackingInfo: [{ number: "9400", url: null, company: "USPS" }] };
    const order = { ...ADMIN_ORDER, fulfillments: [later, parcel] };
    const [event] = queryOf("orders/fulfilled").events(queryOf("orders/fulfilled").node.parse(order)) as [ReconciledEvent];
    expect(event.at).toBe("2022-01-04T13:00:00Z");
    const fulfillments = event.body.fulfillments as JsonObject[];
    expect(fulfillments.map((fulfillment) => fulfillment.tracking_company)).toEqual(["UPS", "USPS"]);
  });

  it("orders/fulfilled and fulfillments/create: leave out a parcel that is no shipment, and an order not fully fulfilled", () => {
    const partly = { ...ADMIN_ORDER, displayFulfillmentStatus: "PARTIALLY_FULFILLED" };
    expect(queryOf("orders/fulfilled").events(queryOf("orders/fulfilled").node.parse(partly))).toEqual([]);
    const fulfillments = ADMIN_ORDER.fulfillments as JsonValue[];
    const cancelled = { ...ADMIN_ORDER, fulfillments: fulfillments.map((parcel) => ({ ...(parcel as JsonObject), status: "CANCELLED" })) };
    expect(queryOf("fulfillments/create").events(queryOf("fulfillments/create").node.parse(cancelled))).toEqual([]);
    const open = { ...ADMIN_ORDER, cancelledAt: null };
    expect(queryOf("orders/cancelled").events(queryOf("orders/cancelled").node.parse(open))).toEqual([]);
  });
});

/**
 * The outcome with each date-time property that names the same instant as the expected outcome's written as the
 * expected one writes it: the Admin API gives times in UTC, webhooks in the shop's offset.
 */
function sameInstantsAsText(outcome: RenderOutcome, expected: RenderOutcome): RenderOutcome {
  if (outcome.kind !== "event" || expected.kind !== "event") return outcome;
  const properties = { ...outcome.event.properties };
  for (const [key, value] of Object.entries(properties)) {
    const other = expected.event.properties[key];
    const isTime = (text: unknown): text is string => typeof text === "string" && /^\d{4}-\d{2}-\d{2}T/.test(text);
    if (isTime(value) && isTime(other) && Date.parse(value) === Date.parse(other)) properties[key] = other;
  }
  return { ...outcome, event: { ...outcome.event, properties } };
}

describe("the query cost estimate", () => {
  it("follows Shopify's published rules: objects 1, scalars 0, connections 2 plus first times a node", () => {
    expect(requestedQueryCost("query A { orders(first: 50) { nodes { id } } }")).toBe(52);
    expect(requestedQueryCost("query B { shop { name } orders(first: 10) { edges { node { customer { id } lineItems(first: 5) { nodes { title } } } } } }")).toBe(
      1 + 2 + 10 * (1 + 1 + (2 + 5)),
    );
    // A list sized by `first` counts each element; a size in a variable counts as Shopify's largest page.
    expect(requestedQueryCost("query C($n: Int) { order(id: 1) { fulfillments(first: 3) { trackingInfo(first: 2) { number } } refunds(first: $n) { id } } }")).toBe(
      1 + 3 * (1 + 2) + 250,
    );
  });
});

describe("the topics the job asks about", () => {
  const topicsFor = (scope: string | null) => reconciledTopics(sessionScopes(scope)).map((reconciled) => reconciled.topic);

  it("are those whose webhook scope and query scopes the shop granted", () => {
    expect(topicsFor("read_orders")).toEqual(["orders/create", "orders/fulfilled", "orders/cancelled", "refunds/create"]);
    expect(topicsFor("read_orders,read_fulfillments,read_returns")).toEqual(RECONCILED);
    // A write scope includes its read scope; Shopify writes them with or without spaces.
    expect(topicsFor("write_orders, write_fulfillments")).toEqual(RECONCILED);
    // Parcels are read through orders: without read_orders, not even fulfillments/create.
    expect(topicsFor("read_fulfillments")).toEqual([]);
  });

  it("are the app's required scope's when the session does not say", () => {
    expect(topicsFor(null)).toEqual(topicsFor("read_orders"));
  });
});
