/**
 * Which mappings the worker renders on its own thread (decision 024): only those none of whose templates can run
 * away, with the same outcome as the render pool gives, and a mapping that renders slowly goes back to the pool.
 */
import { existsSync, readFileSync } from "node:fs";
import { afterAll, describe, expect, it, vi } from "vitest";
import { catalogMappings } from "~/mapping/defaults";
import { INLINE_BODY_LIMIT_CHARS, SLOW_RENDERS_TO_DEMOTE, renderInline, rendersInline } from "~/mapping/inline";
import { closeRenderPool, renderMapping, type RenderContextInput } from "~/mapping/render.server";
import { renderNow } from "~/mapping/renderer";
import type { MappingDefinition } from "~/mapping/types";
import { parseShopifyJson, type JsonValue } from "~/shopify/json";

afterAll(() => closeRenderPool());

function fixture(name: string): JsonValue {
  return parseShopifyJson(readFileSync(new URL(`../fixtures/shopify/${name}`, import.meta.url), "utf8"));
}

/** The topic's own sample (the derived one where there is one), with the order and parcel its catalog entry reads. */
function inputFor(topic: MappingDefinition["topic"]): RenderContextInput & { body: JsonValue } {
  const base = topic.replace("/", "_");
  const derived = new URL(`../fixtures/shopify/${base}.derived.json`, import.meta.url);
  const body = fixture(existsSync(derived) ? `${base}.derived.json` : `${base}.json`);
  return { topic, shop: "inline.myshopify.com", body, order: fixture("admin_order.derived.json"), fulfillment: fixture("fulfillments_create.derived.json") };
}

function mapping(properties: Record<string, string>, extra: Partial<MappingDefinition> = {}): MappingDefinition {
  return { topic: "orders/fulfilled", eventType: "Order Fulfilled", enabled: true, properties, ...extra };
}

describe("rendersInline", () => {
  it("accepts every mapping the catalog offers, so a new shop's deliveries skip the hand-off", () => {
    const refused = catalogMappings().filter((m) => !rendersInline(m, 20_000)).map((m) => m.eventType);
    expect(refused).toEqual([]);
  });

  it.each([
    ["text, outputs and linear filters", { a: "Order {{ name | upcase }} for {{ customer.first_name | default: shipping_address.first_name }}" }],
    ["a filter chain over the line items", { a: "{{ line_items | where: 'vendor', vendor | map: 'title' | join: ', ' }}" }],
    ["a date", { a: "{{ created_at | date: '%B %d, %Y' }}" }],
    ["an index and a quoted key", { a: "{{ line_items[0].title }} {{ note_attributes['gift'] }}" }],
  ])("accepts %s", (_what, properties) => {
    expect(rendersInline(mapping(properties), 20_000)).toBe(true);
  });

  it.each([
    ["a loop", { a: "{% for item in line_items %}{{ item.title }}{% endfor %}" }],
    ["a tag other than the condition's", { a: "{% if name %}{{ name }}{% endif %}" }],
    ["an assignment", { a: "{% assign n = name %}{{ n }}" }],
    ["a range in an output", { a: "{{ (1..100000000) | join: ',' }}" }],
    ["a range as an index", { a: "{{ line_items[(1..100000000)] }}" }],
    ["a range as a filter's argument", { a: "{{ name | append: (1..100000000) }}" }],
    ["replace, whose empty pattern repeats the replacement at each character", { a: "{{ note | replace: '', 'xxxxxxxxxx' }}" }],
    ["strip_html, whose pattern backtracks", { a: "{{ note | strip_html }}" }],
    ["an expression filter", { a: "{{ line_items | where_exp: 'item', 'item.quantity > 1' | size }}" }],
    ["a variable as join's separator", { a: "{{ line_items | map: 'title' | join: note }}" }],
    ["a variable as date's format", { a: "{{ created_at | date: note }}" }],
    ["a template that does not parse", { a: "{{ name | no_such_filter }}" }],
  ])("refuses %s", (_what, properties) => {
    expect(rendersInline(mapping(properties), 20_000)).toBe(false);
  });

  it("looks at the user templates and the condition too", () => {
    expect(rendersInline(mapping({ a: "{{ name }}" }, { user: { email: "{% for e in emails %}{{ e }}{% endfor %}" } }), 100)).toBe(false);
    expect(rendersInline(mapping({ a: "{{ name }}" }, { when: "(1..100000000) contains 5" }), 100)).toBe(false);
    expect(rendersInline(mapping({ a: "{{ name }}" }, { when: "total_price > 0 and tags contains 'vip'" }), 100)).toBe(true);
    expect(rendersInline(mapping({ a: "{{ name }}" }, { when: "line_items | size > 1" }), 100)).toBe(false);
  });

  it("leaves a body over the limit to the render threads", () => {
    const simple = mapping({ a: "{{ name }}" });
    expect(rendersInline(simple, INLINE_BODY_LIMIT_CHARS)).toBe(true);
    expect(rendersInline(simple, INLINE_BODY_LIMIT_CHARS + 1)).toBe(false);
  });
});

describe("renderInline", () => {
  it("gives each catalog mapping the outcome the render pool gives, with the body's name", async () => {
    // Turned on, so that the catalog's disabled mappings are rendered rather than skipped.
    const mappings = catalogMappings().map((m) => ({ ...m, enabled: true }));
    for (const m of mappings) {
      const input = inputFor(m.topic);
      const here = renderInline(m, input);
      const pooled = await renderMapping(m, input);
      expect(here.outcome, m.eventType).toEqual(pooled);
      const name = (input.body as { name?: unknown }).name;
      expect(here.bodyName).toBe(typeof name === "string" ? name : null);
    }
    // The samples must exercise more than skips: all but the parcel statuses the sample is not in give an event.
    const events = mappings.filter((m) => renderInline(m, inputFor(m.topic)).outcome.kind === "event");
    expect(events.length).toBe(mappings.length - 6);
  });

  it("stops a qualifying template that builds too much from a body at the limit, with the pool's limits and words", () => {
    const note = "x".repeat(INLINE_BODY_LIMIT_CHARS - 100);
    const heavy = mapping({ a: "{{ note | split: '' | join: '--' }}", b: "{{ note" + " | append: note".repeat(600) + " }}" }, { user: { email: "a@example.com" } });
    expect(rendersInline(heavy, INLINE_BODY_LIMIT_CHARS)).toBe(true);
    const input = { topic: "orders/fulfilled" as const, shop: "inline.myshopify.com", body: { note, name: "#1" } };
    expect(renderInline(heavy, input).outcome).toEqual({
      kind: "error",
      reason: 'Property "a" could not be rendered: it printed more than 100,000 characters: shorten the text or loop fewer times.',
    });
    const appends = mapping({ b: heavy.properties.b! }, { user: { email: "a@example.com" } });
    expect(renderInline(appends, input).outcome).toMatchObject({ kind: "error", reason: expect.stringContaining("would build too much data") as string });
  });

  it("tries again later when liquidjs stops a render here on its clock: such a mapping cannot take that long, so the machine stalled", () => {
    const text = mapping({ a: "Order {{ name }} for {{ email }}", b: "{{ total_price }} {{ currency }}" }, { user: { email: "a@example.com" } });
    const input = inputFor("orders/fulfilled");
    expect(renderInline(text, input).outcome.kind).toBe("event");
    // Each reading of the clock 60 ms after the last, as if the thread were kept from the core during the render.
    let now = performance.now();
    const stalled = vi.spyOn(performance, "now").mockImplementation(() => (now += 60));
    let here: ReturnType<typeof renderInline>["outcome"];
    let pooled: ReturnType<typeof renderNow>;
    try {
      here = renderInline(text, input, 1_000, () => 0).outcome;
      // What a render thread runs: there a template may be a runaway, so the stop stays final.
      pooled = renderNow(text, input);
    } finally {
      stalled.mockRestore();
    }
    expect(here).toEqual({ kind: "error", retryable: true, reason: expect.stringContaining("the app was kept waiting at that moment") as string });
    expect(pooled).toEqual({ kind: "error", stoppedByTime: true, reason: expect.stringContaining("rendering took longer than 100 ms") as string });
    // The clock back to normal: the same mapping renders.
    expect(renderInline(text, input).outcome.kind).toBe("event");
  });

  it("sends a mapping to the pool after renders over budget several times in a row, and no other mapping", () => {
    const slow = mapping({ a: "{{ name }}" });
    const other = mapping({ a: "{{ name }}" });
    const input = inputFor("orders/fulfilled");
    let now = 0;
    const clock = () => (now += 3);
    const overBudget = () => renderInline(slow, input, 2, clock);
    const inBudget = () => renderInline(slow, input, 5, clock);
    expect(inBudget()).toMatchObject({ outcome: { kind: "event" } });
    expect(inBudget().slowMs).toBeUndefined();
    // Slow renders broken by a fast one (a collection, a preempted thread) do not add up.
    for (let round = 0; round < 3; round++) {
      for (let slowRender = 1; slowRender < SLOW_RENDERS_TO_DEMOTE; slowRender++) {
        expect(overBudget()).toMatchObject({ slowMs: 3, demoted: false, outcome: { kind: "event" } });
      }
      inBudget();
      expect(rendersInline(slow, 100)).toBe(true);
    }
    for (let slowRender = 1; slowRender < SLOW_RENDERS_TO_DEMOTE; slowRender++) overBudget();
    expect(rendersInline(slow, 100)).toBe(true);
    expect(overBudget()).toMatchObject({ slowMs: 3, demoted: true, outcome: { kind: "event" } });
    expect(rendersInline(slow, 100)).toBe(false);
    expect(rendersInline(other, 100)).toBe(true);
  });
});
