/**
 * Events rendered when their webhook is received (app/mapping/prerender.ts, decision 054): what is rendered ahead,
 * what is not, and when a stored event may stand for the mapping's render at send time.
 */
import { describe, expect, it } from "vitest";
import { renderInline } from "~/mapping/inline";
import { mappingFingerprint, prerender, prerenderedText, rendersFromBodyAlone, usablePrerendered } from "~/mapping/prerender";
import type { MappingDefinition } from "~/mapping/types";
import { parseShopifyJson } from "~/shopify/json";
import { CATALOG } from "~/topics/catalog";
import { fixtureText } from "../support/webhooks";

const TEXT = fixtureText("orders_fulfilled.derived.json");
const BODY = parseShopifyJson(TEXT);
const SHOP = "prerender.myshopify.com";

function mapping(overrides: Partial<MappingDefinition> = {}): MappingDefinition {
  return {
    topic: "orders/fulfilled",
    eventType: "Order Shipped",
    enabled: true,
    properties: { orderName: "{{ name }}", total: "{{ total_price }}", items: "{{ line_items | map: 'title' | join: ', ' }}" },
    ...overrides,
  };
}

const input = { topic: "orders/fulfilled" as const, shop: SHOP, body: BODY, bodyChars: TEXT.length };

describe("prerender", () => {
  it("renders what the send would: the same event, the order's name, and the mapping's fingerprint", () => {
    const definition = mapping();
    const ahead = prerender(definition, input);
    const atSend = renderInline(definition, { topic: "orders/fulfilled", shop: SHOP, order: null, fulfillment: null, body: BODY });
    if (atSend.outcome.kind !== "event") throw new Error(`the fixture should render: ${JSON.stringify(atSend.outcome)}`);
    const { type, properties, user } = atSend.outcome.event;
    expect(ahead).toEqual({ fingerprint: mappingFingerprint(definition), kind: "event", event: { type, properties, user }, bodyName: atSend.bodyName });
    expect(properties).toMatchObject({ orderName: atSend.bodyName });
  });

  it("keeps a condition's skip, with its reason", () => {
    const ahead = prerender(mapping({ when: "total_price > 1000000" }), input);
    expect(ahead).toMatchObject({ kind: "skipped" });
    expect(ahead?.kind === "skipped" && ahead.reason).toMatch(/condition/i);
  });

  it("renders nothing ahead for a mapping that is off, could run away, reads the clock, or fails", () => {
    expect(prerender(mapping({ enabled: false }), input)).toBeNull();
    expect(prerender(mapping({ properties: { items: "{% for item in line_items %}{{ item.title }}{% endfor %}" } }), input)).toBeNull();
    expect(prerender(mapping({ properties: { sentOn: "{{ 'now' | date: '%Y-%m-%d' }}" } }), input)).toBeNull();
    expect(prerender(mapping({ properties: { today: "{{ 'today' | date: '%Y' }}" } }), input)).toBeNull();
    expect(prerender(mapping(), { ...input, bodyChars: 10_000_000 })).toBeNull();
    // An event type Attentive refuses: the send fails it and says why, so nothing is kept for it.
    expect(renderInline(mapping({ eventType: "" }), { ...input, order: null, fulfillment: null }).outcome.kind).toBe("error");
    expect(prerender(mapping({ eventType: "" }), input)).toBeNull();
  });

  it("is only for topics whose render reads the body alone", () => {
    expect(rendersFromBodyAlone(CATALOG["orders/fulfilled"])).toBe(true);
    expect(rendersFromBodyAlone(CATALOG["orders/paid"])).toBe(true);
    expect(rendersFromBodyAlone(CATALOG["refunds/create"])).toBe(false);
    expect(rendersFromBodyAlone(CATALOG["fulfillments/create"])).toBe(false);
  });
});

describe("usablePrerendered", () => {
  const definition = mapping();
  const stored = prerenderedText(prerender(definition, input)!);

  it("gives back the stored event while the mapping renders the same", () => {
    expect(usablePrerendered(stored, definition)).toEqual(prerender(definition, input));
    // Another object with the same content (the worker's cache parses a row again): the same fingerprint.
    expect(usablePrerendered(stored, mapping())).not.toBeNull();
  });

  it("refuses it once anything the render reads has changed", () => {
    expect(usablePrerendered(stored, mapping({ properties: { ...definition.properties, total: "{{ total_price }} " } }))).toBeNull();
    expect(usablePrerendered(stored, mapping({ eventType: "Order Sent" }))).toBeNull();
    expect(usablePrerendered(stored, mapping({ when: "total_price > 1" }))).toBeNull();
    expect(usablePrerendered(stored, mapping({ user: { email: "{{ email }}" } }))).toBeNull();
    // Properties in another order are sent in another order.
    const [first, ...rest] = Object.entries(definition.properties);
    expect(usablePrerendered(stored, mapping({ properties: Object.fromEntries([...rest, first!]) }))).toBeNull();
  });

  it("refuses what it cannot read", () => {
    expect(usablePrerendered(null, definition)).toBeNull();
    expect(usablePrerendered("{", definition)).toBeNull();
    expect(usablePrerendered("[]", definition)).toBeNull();
    expect(usablePrerendered(JSON.stringify({ fingerprint: mappingFingerprint(definition), kind: "event", event: { type: 1 } }), definition)).toBeNull();
    expect(usablePrerendered(JSON.stringify({ fingerprint: mappingFingerprint(definition), kind: "other" }), definition)).toBeNull();
  });
});
