/**
 * `{{ a.b | default: c.d }}`, `{{ a.b | map: 'key' | join: 'text' }}` and `{{ a.b | map: 'key' | sum }}` are read
 * from the scope directly instead of through liquidjs's evaluator (app/mapping/renderer.ts, MappingRenderer.shortcut).
 * What they give must be exactly what liquidjs gives. Each template is rendered beside the same template with its
 * path written with brackets (`data["items"]`), which the shortcut does not take, so liquidjs itself says what the
 * value should be: over generated bodies of every JSON kind, and at the render's memory limit.
 */
import { describe, expect, it } from "vitest";
import { renderNow, templateShortcut, type RenderContextInput, type RenderOutcome } from "~/mapping/renderer";
import type { MappingDefinition } from "~/mapping/types";
import type { JsonValue } from "~/shopify/json";
import { seededRandom, pick } from "../support/seeded-random";

function renderWith(properties: Record<string, string>, data: JsonValue): RenderOutcome {
  const mapping: MappingDefinition = { topic: "orders/fulfilled", eventType: "Order Shipped", enabled: true, properties };
  const input: RenderContextInput = { topic: "orders/fulfilled", shop: "jsmith.myshopify.com", body: { email: "ada@example.com", data } };
  return renderNow(mapping, input);
}

/** The template with each `data.x` path written `data["x"]`: the same meaning, not a shortcut's shape. */
function bracketed(template: string): string {
  return template.replace(/data\.([A-Za-z_][A-Za-z0-9_]*)/g, 'data["$1"]');
}

/** Renders the template both ways and expects the same outcome; returns it. */
function bothWays(template: string, data: JsonValue): RenderOutcome {
  expect(templateShortcut(template), template).not.toBeNull();
  expect(templateShortcut(bracketed(template)), bracketed(template)).toBeNull();
  const direct = renderWith({ value: template }, data);
  const liquid = renderWith({ value: bracketed(template) }, data);
  expect(direct, `${template} over ${JSON.stringify(data).slice(0, 300)}`).toEqual(liquid);
  return direct;
}

/** Values of every JSON kind, and two objects that JavaScript cannot turn into text or a number as it would others. */
const SCALARS: JsonValue[] = ["", "Tee", "ünïcødé ✓", "3", " 4 ", "1e3", "0x10", "-2.5", "abc", 0, 1, -7, 2.25, 1e21, true, false, null, { toString: "x" }, { valueOf: 3 }];

function generated(random: () => number, depth = 0): JsonValue {
  const roll = random();
  if (depth > 2 || roll < 0.6) return pick(random, SCALARS);
  if (roll < 0.8) return Array.from({ length: Math.floor(random() * 3) }, () => generated(random, depth + 1));
  return { k: generated(random, depth + 1), other: "x" };
}

/** Items as an order's line items are, now and then with one that is not a plain object or lacks the key. */
function items(random: () => number): JsonValue[] {
  return Array.from({ length: Math.floor(random() * 6) }, () => {
    const roll = random();
    if (roll < 0.08) return generated(random, 2);
    if (roll < 0.16) return { other: "no k" };
    return { k: generated(random), title: pick(random, SCALARS) };
  });
}

describe("filter shortcuts", () => {
  const mapTemplates = [
    "{{ data.items | map: 'k' | join: ', ' }}",
    '{{ data.items | map: "k" | join: "" }}',
    "{{-data.items|map:'title'|join:' | '-}}",
    " {{ data.items | map: 'k' | sum }} ",
    '{{ data.items | map: "title" | sum }}',
  ];
  const defaultTemplates = ["{{ data.v | default: data.w }}", "{{data.v|default:data.w}}", "{{ data.v | default: data.items }}"];

  it.each([1, 2, 3, 4])("give what liquidjs gives over generated bodies (seed %i)", (seed) => {
    const random = seededRandom(seed);
    for (let round = 0; round < 150; round++) {
      const list = random() < 0.85 ? items(random) : generated(random);
      const data = { items: list, v: generated(random), w: generated(random) };
      for (const template of [...mapTemplates, ...defaultTemplates]) bothWays(template, data);
    }
  });

  it("give an order's item titles and count as the catalog's defaults ask for them", () => {
    const data = { items: [{ title: "Tee", k: 2 }, { title: "Cap", k: "3" }, { title: null, k: null }] };
    expect(bothWays("{{ data.items | map: 'title' | join: ', ' }}", data)).toMatchObject({ kind: "event", event: { properties: { value: "Tee, Cap, " } } });
    expect(bothWays("{{ data.items | map: 'k' | sum }}", data)).toMatchObject({ kind: "event", event: { properties: { value: 5 } } });
    expect(bothWays("{{ data.missing | default: data.items }}", data)).toMatchObject({ kind: "event", event: { properties: { value: data.items } } });
  });

  it("charge the render's memory limit as liquidjs does, across the mapping's properties", () => {
    // The first property spends nearly all of the render's memory budget without printing it (an assign in liquidjs);
    // the second, a shortcut, charges map's item count and join's output size (a missing item counted as String()
    // prints it, "undefined") to the same budget. Where liquidjs starts to fail as the first property spends one
    // character more at a time, the shortcut must start to fail too, with the same reason.
    const spend = "{% assign big = data.big | map: 'k' | join: '' %}spent";
    const join = "{{ data.small | map: 'k' | join: ', ' }}";
    const small: JsonValue[] = [{ k: "abcdefghij" }, { other: 1 }, { k: "klm" }];
    const dataWith = (extra: number) => ({ big: Array.from({ length: 50 }, (_, n) => ({ k: "x".repeat(n === 0 ? 99_900 + extra : 99_900) })), small });
    const fails = (extra: number, template: string) => renderWith({ spend, value: template }, dataWith(extra)).kind === "error";
    let [low, high] = [0, 6_000];
    expect(fails(low, bracketed(join))).toBe(false);
    expect(fails(high, bracketed(join))).toBe(true);
    while (high - low > 1) {
      const middle = Math.floor((low + high) / 2);
      if (fails(middle, bracketed(join))) high = middle;
      else low = middle;
    }
    for (let extra = high - 12; extra <= high + 12; extra++) {
      const direct = renderWith({ spend, value: join }, dataWith(extra));
      expect(direct, `${extra} more`).toEqual(renderWith({ spend, value: bracketed(join) }, dataWith(extra)));
      expect(direct.kind, `${extra} more`).toBe(extra < high ? "event" : "error");
    }
    expect(renderWith({ spend, value: join }, dataWith(high))).toMatchObject({ reason: expect.stringMatching(/^Property "value" could not be rendered: it would build too much data/) });
  });

  it("are not taken for keys and paths liquidjs reads in its own way, nor for escapes and other filters", () => {
    for (const template of [
      "{{ data.items | map: 'size' | join: ', ' }}",
      "{{ data.items | map: 'first' | sum }}",
      "{{ data.items | map: 'constructor' | sum }}",
      "{{ data.size | default: data.w }}",
      "{{ data.items | map: 'k' | join: '\\n' }}",
      "{{ data.items | map: 'k' | join: '}}' }}",
      "{{ data.items | map: 'k' | join }}",
      "{{ data.items | map: 'k' | sum: 'k' }}",
      "{{ data.v | default: 'text' }}",
      "{{ data.v | default: data.w, allow_false: true }}",
      "Items: {{ data.items | map: 'k' | join: ', ' }}",
    ]) {
      expect(templateShortcut(template), template).toBeNull();
    }
  });
});
