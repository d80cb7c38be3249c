/**
 * A template that is only `{{ a.b.c }}` is read from the scope directly instead of through liquidjs's evaluator
 * (app/mapping/renderer.ts, readPath). The value must be exactly what liquidjs gives: each such template is rendered
 * beside the same path written with brackets (`{{ a["b"]["c"] }}`), which the direct read does not take, so liquidjs
 * itself says what the value should be.
 */
import { describe, expect, it } from "vitest";
import { renderNow, type RenderContextInput } from "~/mapping/renderer";
import type { MappingDefinition } from "~/mapping/types";
import { parseShopifyJson, type JsonValue } from "~/shopify/json";

const BODY = parseShopifyJson(`{
  "name": "#1001",
  "email": "ada@example.com",
  "n": 12, "zero": 0, "f": false, "t": true, "nul": null, "blank_text": "",
  "big": 123456789012345678901,
  "customer": {
    "first_name": "Ada", "tags": ["a", "b"], "nested": { "deep": { "x": 1 } }, "nul": null,
    "first": "own first", "last": "own last", "size": "own size"
  },
  "fulfillments": [{ "tracking_number": "T1" }, { "tracking_number": "T2", "tracking_url": "https://example.com/t/2" }],
  "none": [],
  "holes": [null],
  "text": "hello",
  "__proto__": { "polluted": "yes" },
  "Upper_Case1": "u"
}`);

function render(properties: Record<string, string>): Record<string, unknown> {
  const mapping: MappingDefinition = { topic: "orders/fulfilled", eventType: "Order Shipped", enabled: true, properties };
  const input: RenderContextInput = { topic: "orders/fulfilled", shop: "jsmith.myshopify.com", body: BODY };
  const outcome = renderNow(mapping, input);
  if (outcome.kind !== "event") throw new Error(`expected an event, got ${outcome.kind}: ${outcome.reason}`);
  return outcome.event.properties;
}

/** `a.b.c` as liquidjs reads it with brackets: `a["b"]["c"]`. */
function bracketed(path: string): string {
  const [root, ...rest] = path.split(".");
  return `{{ ${root}${rest.map((name) => `["${name}"]`).join("")} }}`;
}

describe("a lone {{ path }} output", () => {
  const paths: Array<[string, JsonValue]> = [
    ["customer.first_name", "Ada"],
    ["customer.tags", ["a", "b"]],
    ["customer.nested", { deep: { x: 1 } }],
    ["customer.nested.deep.x", 1],
    ["customer.missing", ""],
    ["customer.missing.deeper", ""],
    ["customer.nul", ""],
    ["customer.nul.x", ""],
    ["customer.first", "own first"],
    ["customer.last", "own last"],
    ["customer.size", "own size"],
    ["customer.tags.first", "a"],
    ["customer.tags.last", "b"],
    ["customer.tags.size", 2],
    ["fulfillments.first.tracking_number", "T1"],
    ["fulfillments.last.tracking_url", "https://example.com/t/2"],
    ["fulfillments.last", { tracking_number: "T2", tracking_url: "https://example.com/t/2" }],
    ["none.first", ""],
    ["none.last.tracking_number", ""],
    ["holes.first", ""],
    ["text.first", ""],
    ["text.size", 5],
    ["name.length", 5],
    ["big.x", ""],
    ["customer.constructor", ""],
    ["customer.hasOwnProperty", ""],
  ];

  it.each(paths)("reads %s as liquidjs does", (path, expected) => {
    const properties = render({ direct: `{{ ${path} }}`, liquid: bracketed(path) });
    expect(properties.liquid).toEqual(expected);
    expect(properties.direct).toEqual(properties.liquid);
  });

  it("reads names at the top of the body, the topic's context and shop and topic, with their types", () => {
    const properties = render({
      name: "{{ name }}",
      n: "{{ n }}",
      zero: "{{zero}}",
      f: "{{- f -}}",
      t: " {{ t }} ",
      nul: "{{ nul }}",
      blank: "{{ blank_text }}",
      big: "{{ big }}",
      missing: "{{ missing }}",
      upper: "{{ Upper_Case1 }}",
      shop: "{{ shop }}",
      topic: "{{ topic }}",
      constructor: "{{ constructor }}",
      proto: "{{ __proto__ }}",
      polluted: "{{ __proto__.polluted }}",
      nil: "{{ nil }}",
      isTrue: "{{ true }}",
      isEmpty: "{{ empty }}",
    });
    expect(properties).toEqual({
      name: "#1001",
      n: 12,
      zero: 0,
      f: false,
      t: true,
      nul: "",
      blank: "",
      big: "123456789012345678901",
      missing: "",
      upper: "u",
      shop: "jsmith.myshopify.com",
      topic: "orders/fulfilled",
      constructor: "",
      proto: { polluted: "yes" },
      polluted: "yes",
      nil: "",
      isTrue: true,
      isEmpty: "",
    });
  });

  it("does not read past the output: filters, indexes and surrounding text go through liquidjs", () => {
    const properties = render({
      filtered: "{{ customer.first_name | upcase }}",
      indexed: "{{ fulfillments[1].tracking_number }}",
      text: "Hi {{ customer.first_name }}",
      two: "{{ name }}{{ n }}",
    });
    expect(properties).toEqual({ filtered: "ADA", indexed: "T2", text: "Hi Ada", two: "#100112" });
  });
});
