/**
 * The web process's mappings for rendering ahead (app/webhooks/prerender.server.ts, decision 054): read apart from
 * the webhook, never waited for, read again when due, and never a reason for a webhook to fail.
 */
import { describe, expect, it } from "vitest";
import { mappingFingerprint, usablePrerendered } from "~/mapping/prerender";
import type { MappableTopic, MappingDefinition } from "~/mapping/types";
import { parseShopifyJson } from "~/shopify/json";
import { MappingsAhead, type EnabledMapping } from "~/webhooks/prerender.server";
import { fixtureText } from "../support/webhooks";

const TEXT = fixtureText("orders_fulfilled.derived.json");
const BODY = parseShopifyJson(TEXT);
const SHOP = "ahead.myshopify.com";

function definition(label: string, overrides: Partial<MappingDefinition> = {}): MappingDefinition {
  return { topic: "orders/fulfilled", eventType: "Order Shipped", enabled: true, properties: { label: `{{ name }} ${label}` }, ...overrides };
}

/** A load the test answers when it chooses, counting the reads. */
function controlledLoad() {
  const calls: Array<{ shop: string; topic: MappableTopic; answer: (mappings: EnabledMapping[]) => void; fail: (error: Error) => void }> = [];
  const load = (shop: string, topic: MappableTopic) =>
    new Promise<EnabledMapping[]>((answer, fail) => {
      calls.push({ shop, topic, answer, fail });
    });
  return { calls, load };
}

function labelOf(text: string | undefined, mapping: MappingDefinition): unknown {
  const stored = usablePrerendered(text ?? null, mapping);
  return stored?.kind === "event" ? stored.event.properties.label : null;
}

describe("MappingsAhead", () => {
  it("renders nothing until the shop's mappings have been read, then each one that may be rendered ahead", async () => {
    const { calls, load } = controlledLoad();
    const ahead = new MappingsAhead(load);
    const v1 = definition("v1");
    const looping = definition("loop", { properties: { label: "{% for item in line_items %}{{ item.title }}{% endfor %}" } });

    expect(ahead.events(SHOP, "orders/fulfilled", BODY, TEXT.length)).toBeUndefined();
    // A second webhook while the read is under way does not read again.
    expect(ahead.events(SHOP, "orders/fulfilled", BODY, TEXT.length)).toBeUndefined();
    expect(calls.map(({ shop, topic }) => [shop, topic])).toEqual([[SHOP, "orders/fulfilled"]]);

    calls[0]!.answer([
      { id: "m1", definition: v1 },
      { id: "m2", definition: looping },
    ]);
    await ahead.whenRead();
    const events = ahead.events(SHOP, "orders/fulfilled", BODY, TEXT.length);
    expect(Object.keys(events ?? {})).toEqual(["m1"]);
    expect(labelOf(events?.m1, v1)).toBe("#9999 v1");
    expect(JSON.parse(events!.m1!).fingerprint).toBe(mappingFingerprint(v1));
  });

  it("reads a shop's mappings again once they are due, rendering with the last ones read meanwhile", async () => {
    let now = 0;
    const { calls, load } = controlledLoad();
    const ahead = new MappingsAhead(load, { ttlMs: 1_000, now: () => now });
    const v1 = definition("v1");
    const v2 = definition("v2");
    ahead.events(SHOP, "orders/fulfilled", BODY, TEXT.length);
    calls[0]!.answer([{ id: "m1", definition: v1 }]);
    await ahead.whenRead();

    now = 999;
    expect(labelOf(ahead.events(SHOP, "orders/fulfilled", BODY, TEXT.length)?.m1, v1)).toBe("#9999 v1");
    expect(calls).toHaveLength(1);

    now = 1_000;
    expect(labelOf(ahead.events(SHOP, "orders/fulfilled", BODY, TEXT.length)?.m1, v1)).toBe("#9999 v1");
    expect(calls).toHaveLength(2);
    calls[1]!.answer([{ id: "m1", definition: v2 }]);
    await ahead.whenRead();
    const events = ahead.events(SHOP, "orders/fulfilled", BODY, TEXT.length);
    expect(labelOf(events?.m1, v2)).toBe("#9999 v2");
    // Rendered with v2, it is not v1's event any more.
    expect(labelOf(events?.m1, v1)).toBeNull();
  });

  it("keeps recording without events ahead when the read fails, and tries again when due", async () => {
    let now = 0;
    const { calls, load } = controlledLoad();
    const ahead = new MappingsAhead(load, { ttlMs: 1_000, now: () => now });
    ahead.events(SHOP, "orders/fulfilled", BODY, TEXT.length);
    calls[0]!.fail(new Error("database unavailable"));
    await ahead.whenRead();
    expect(ahead.events(SHOP, "orders/fulfilled", BODY, TEXT.length)).toBeUndefined();
    expect(calls).toHaveLength(1);

    now = 1_000;
    ahead.events(SHOP, "orders/fulfilled", BODY, TEXT.length);
    calls[1]!.answer([{ id: "m1", definition: definition("v1") }]);
    await ahead.whenRead();
    expect(Object.keys(ahead.events(SHOP, "orders/fulfilled", BODY, TEXT.length) ?? {})).toEqual(["m1"]);
  });

  it("stops rendering ahead once a webhook has taken its budget of the thread, leaving the rest to the send", async () => {
    let ms = 0;
    const { calls, load } = controlledLoad();
    // Each reading of the clock after the first finds a millisecond gone: as if every render took one.
    const ahead = new MappingsAhead(load, { budgetMs: 2, clock: () => ms++ });
    ahead.events(SHOP, "orders/fulfilled", BODY, TEXT.length);
    calls[0]!.answer(["m1", "m2", "m3", "m4"].map((id) => ({ id, definition: definition(id) })));
    await ahead.whenRead();
    ms = 0;
    expect(Object.keys(ahead.events(SHOP, "orders/fulfilled", BODY, TEXT.length) ?? {})).toEqual(["m1", "m2"]);
  });

  it("reads nothing for a topic whose render needs more than its body", () => {
    const { calls, load } = controlledLoad();
    const ahead = new MappingsAhead(load);
    expect(ahead.events(SHOP, "refunds/create", BODY, TEXT.length)).toBeUndefined();
    expect(ahead.events(SHOP, "fulfillments/create", BODY, TEXT.length)).toBeUndefined();
    expect(calls).toHaveLength(0);
  });
});
