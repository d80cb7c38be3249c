/**
 * The mapping file's messages are what a merchant reads when a mapping is refused: each says what is wrong and
 * what to do. Pinned here word for word, with the Liquid engine's settings that keep merchants' templates away
 * from the server (no files, no prototype access) and the bounds on template size.
 */
import { describe, expect, it } from "vitest";
import {
  MAX_TEMPLATE_LENGTH,
  conditionTemplate,
  createLiquidEngine,
  describeLiquidError,
  formatMappingFile,
  parseMappingFile,
  validateMapping,
  type MappingFileError,
} from "~/mapping/mapping-file";
import type { MappingDefinition } from "~/mapping/types";

function mapping(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { topic: "orders/fulfilled", eventType: "Order Shipped", properties: { orderName: "{{ name }}" }, ...overrides };
}

function errorsOf(def: unknown, index?: number): MappingFileError[] {
  const result = validateMapping(def, index);
  if (result.ok) throw new Error("expected the mapping to be refused");
  return result.errors;
}

/** The one error's text without the mapping's name, and the field it is shown on. */
function only(def: unknown): { field: string; detail: string | undefined } {
  const errors = errorsOf(def);
  expect(errors, JSON.stringify(errors)).toHaveLength(1);
  return { field: errors[0]!.field, detail: errors[0]!.detail };
}

describe("the Liquid engine for mappings", () => {
  const engine = createLiquidEngine();

  it("prints a Shopify time in its own offset, not the server's zone", () => {
    expect(engine.parseAndRenderSync('{{ t | date: "%H:%M %z" }}', { t: "2022-01-01T10:00:00+05:00" })).toBe("10:00 +0500");
  });

  it("reads own properties only, renders unknown variables as nothing, and refuses unknown filters", () => {
    expect(engine.parseAndRenderSync("[{{ o.constructor }}|{{ missing.x }}]", { o: { a: 1 } })).toBe("[|]");
    expect(() => engine.parse("{{ 1 | nope }}")).toThrow("undefined filter: nope");
  });

  it("refuses each tag that would read a file, saying what to do instead", () => {
    for (const tag of ["include", "render", "layout"]) {
      expect(() => engine.parse(`{% ${tag} 'x' %}`), tag).toThrow(
        `the {% ${tag} %} tag is not available in mappings: write the text into the template itself`,
      );
    }
  });

  it("parses templates up to the limit plus the condition wrapper, and no longer", () => {
    const wrapper = conditionTemplate("").length;
    expect(wrapper).toBe(24);
    expect(() => engine.parse("x".repeat(MAX_TEMPLATE_LENGTH + wrapper))).not.toThrow();
    expect(() => engine.parse("x".repeat(MAX_TEMPLATE_LENGTH + wrapper + 1))).toThrow("parse length limit exceeded");
  });

  it("applies the limits it is given", () => {
    const limited = createLiquidEngine({ renderLimit: 1 });
    expect(() => limited.parseAndRenderSync("{% for i in (1..100000) %}{{ i }}{% endfor %}")).toThrow("render limit exceeded");
  });

  it("wraps a condition in an if tag", () => {
    expect(conditionTemplate("total_price > 0")).toBe("{% if total_price > 0 %}true{% endif %}");
  });
});

describe("describeLiquidError", () => {
  it("rewrites Liquid's position in words, shifting the column on the first line only", () => {
    expect(describeLiquidError(new Error("boom, line:1, col:3"))).toBe("boom (line 1, column 3)");
    expect(describeLiquidError(new Error("boom, line:1, col:10"), 6)).toBe("boom (line 1, column 4)");
    expect(describeLiquidError(new Error("boom line:2, col:10"), 6)).toBe("boom (line 2, column 10)");
    expect(describeLiquidError(new Error("boom, line:1, col:3"), 6)).toBe("boom (line 1, column 1)");
    expect(describeLiquidError(new Error("boom, line:12, col:34"))).toBe("boom (line 12, column 34)");
    expect(describeLiquidError(new Error("boom,line:1, col:3"))).toBe("boom (line 1, column 3)");
    expect(describeLiquidError(new Error(" boom, line:1, col:3 "))).toBe("boom (line 1, column 3)");
  });

  it("keeps a message without a position as it is, whatever was thrown", () => {
    expect(describeLiquidError(new Error("plain"))).toBe("plain");
    expect(describeLiquidError("a string")).toBe("a string");
  });
});

describe("the template size limit", () => {
  it("accepts a template of exactly the limit and refuses one character more, saying by how much", () => {
    expect(validateMapping(mapping({ properties: { p: "x".repeat(MAX_TEMPLATE_LENGTH) } })).ok).toBe(true);
    expect(only(mapping({ properties: { p: "x".repeat(MAX_TEMPLATE_LENGTH + 1) } }))).toEqual({
      field: "properties.p",
      detail: `The template is ${MAX_TEMPLATE_LENGTH + 1} characters long; the limit is ${MAX_TEMPLATE_LENGTH}. Shorten it.`,
    });
  });

  it("bounds a condition the same way", () => {
    const atLimit = `total_price > ${"1".repeat(MAX_TEMPLATE_LENGTH - 14)}`;
    expect(atLimit).toHaveLength(MAX_TEMPLATE_LENGTH);
    expect(validateMapping(mapping({ when: atLimit })).ok).toBe(true);
    expect(only(mapping({ when: `${atLimit}1` }))).toEqual({
      field: "when",
      detail: `The condition is ${MAX_TEMPLATE_LENGTH + 1} characters long; the limit is ${MAX_TEMPLATE_LENGTH}. Shorten it.`,
    });
  });
});

describe("validateMapping's messages", () => {
  it("for a condition with delimiters, or an empty one", () => {
    for (const when of ["{% if x %}", "x %}", "{{ x", "x }}"]) {
      expect(only(mapping({ when })), when).toEqual({
        field: "when",
        detail: "Write the condition without {% %} or {{ }}: just what would stand inside {% if ... %}, such as total_price > 0.",
      });
    }
    for (const when of ["", "   "]) {
      expect(only(mapping({ when }))).toEqual({
        field: "when",
        detail: 'The condition is empty: remove "when" to always send the event, or write one such as total_price > 0.',
      });
    }
    expect(validateMapping(mapping({ when: "b contains '{' and c contains '}' and d contains '%'" })).ok).toBe(true);
  });

  it("for a condition or template that is not valid Liquid", () => {
    expect(only(mapping({ when: "total_price ===" }))).toEqual({
      field: "when",
      detail:
        'This is not a valid Liquid condition: expected "|" before filter (line 1, column 16). Write it as it would stand inside {% if ... %}, such as total_price > 0.',
    });
    expect(only(mapping({ properties: { a: "{{ x" } }))).toEqual({
      field: "properties.a",
      detail: 'This is not valid Liquid: output "{{ x" not closed (line 1, column 1). Fix the template.',
    });
  });

  it("for properties that are not an object, and for too many", () => {
    for (const properties of [["{{ name }}"], "{{ name }}", null]) {
      expect(only(mapping({ properties }))).toEqual({
        field: "properties",
        detail: 'properties must be an object from property name to Liquid template, such as { "orderName": "{{ name }}" }.',
      });
    }
    const properties = Object.fromEntries(Array.from({ length: 203 }, (_, i) => [`p${i}`, "{{ name }}"]));
    expect(only(mapping({ properties }))).toEqual({
      field: "properties",
      detail: "There are 203 properties; Attentive can use at most 200 per event type. Remove 3.",
    });
  });

  it("for a property value that is not a string, naming what it is", () => {
    for (const [value, found] of [
      [null, "null"],
      [["x"], "a list"],
      [{ a: "x" }, "an object"],
      [5, "a number"],
      [true, "a boolean"],
    ] as const) {
      expect(only(mapping({ properties: { total: value } }))).toEqual({
        field: "properties.total",
        detail: `The value must be a Liquid template in a string, such as "{{ name }}"; found ${found}.`,
      });
    }
  });

  it("for every bad key and value at once", () => {
    const errors = errorsOf(mapping({ properties: { "a|b": 5, ok: "{{ name }}", __proto__: "x", c: "{{ y" } }));
    expect(errors.map((error) => error.field)).toEqual(["properties.a|b", "properties.a|b", "properties.c"]);
    const proto = errorsOf(mapping({ properties: JSON.parse('{"__proto__": "{{ name }}", "x,y": "{{ name }}"}') }));
    expect(proto.map((error) => [error.field, error.detail])).toEqual([
      ["properties.__proto__", 'The property key "__proto__" is reserved: rename it.'],
      ["properties.x,y", 'The property key "x,y" contains a comma (,), which Attentive does not allow in property keys: remove it.'],
    ]);
  });

  it("for a missing or mistyped field, with the hint for that field", () => {
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ eventType: "X", properties: {} }, "topic", "topic is missing. Set topic to one of: orders/create, orders/paid, fulfillments/create, fulfillment_events/create, orders/fulfilled, orders/cancelled, refunds/create, returns/request, returns/approve, returns/decline, returns/close."],
      [mapping({ topic: 5 }), "topic", "topic cannot be a number. Set topic to one of: orders/create, orders/paid, fulfillments/create, fulfillment_events/create, orders/fulfilled, orders/cancelled, refunds/create, returns/request, returns/approve, returns/decline, returns/close."],
      [mapping({ topic: "orders/updated" }), "topic", '"orders/updated" is not a topic this app can map. Set topic to one of: orders/create, orders/paid, fulfillments/create, fulfillment_events/create, orders/fulfilled, orders/cancelled, refunds/create, returns/request, returns/approve, returns/decline, returns/close.'],
      [{ topic: "orders/fulfilled", properties: {} }, "eventType", 'eventType is missing. Set eventType to the name of the Attentive event, such as "Order Shipped".'],
      [mapping({ enabled: "yes" }), "enabled", "enabled cannot be a string. Set enabled to true or false (or leave it out: it defaults to true)."],
      [mapping({ when: 1 }), "when", 'when cannot be a number. Set when to a Liquid condition in a string, such as "total_price > 0", or leave it out.'],
      [mapping({ user: [] }), "user", "user cannot be a list. Set user to an object with any of email, phone and clientUserId (each a Liquid template), or leave it out."],
      [mapping({ user: { email: 1 } }), "user.email", 'user.email cannot be a number. Set user.email to a Liquid template in a string, such as "{{ email }}", or leave it out.'],
      [mapping({ user: { phone: {} } }), "user.phone", 'user.phone cannot be an object. Set user.phone to a Liquid template in a string, such as "{{ phone }}", or leave it out.'],
      [
        mapping({ user: { clientUserId: null } }),
        "user.clientUserId",
        'user.clientUserId cannot be null. Set user.clientUserId to a Liquid template in a string, such as "{{ customer.id }}", or leave it out.',
      ],
    ];
    for (const [def, field, detail] of cases) expect(only(def), field).toEqual({ field, detail });
    const { properties: _properties, ...withoutProperties } = mapping();
    expect(errorsOf(withoutProperties).map((error) => [error.field, error.detail])).toEqual([
      ["properties", 'properties must be an object from property name to Liquid template, such as { "orderName": "{{ name }}" }.'],
    ]);
  });

  it("for unknown fields, listing what is allowed where", () => {
    expect(errorsOf({ ...mapping(), evenType: "x", extra: 1 }).map((error) => [error.field, error.detail])).toEqual([
      ["evenType", 'Unknown field "evenType": remove it (allowed here: topic, eventType, enabled, when, properties, user).'],
      ["extra", 'Unknown field "extra": remove it (allowed here: topic, eventType, enabled, when, properties, user).'],
    ]);
    expect(only(mapping({ user: { mail: "{{ email }}" } }))).toEqual({
      field: "user.mail",
      detail: 'Unknown field "mail": remove it (allowed here: email, phone, clientUserId).',
    });
  });

  it("names the mapping by position and event type, or without a usable event type by position alone", () => {
    const [named] = errorsOf(mapping({ topic: "x" }), 2);
    expect(named).toMatchObject({ mapping: 2, field: "topic" });
    expect(named!.message).toBe(`Mapping 3 ("Order Shipped"), topic: ${named!.detail}`);
    for (const eventType of ["", "  ", 5]) {
      const errors = errorsOf(mapping({ topic: "x", eventType }), 0);
      expect(errors[0]!.message, String(eventType)).toMatch(/^Mapping 1, topic: /);
    }
    const [unnamed] = errorsOf(mapping({ topic: "x", eventType: "  " }));
    expect(unnamed!.message).toMatch(/^This mapping, topic: /);
  });

  it("for a mapping that is not an object, on the mapping itself", () => {
    for (const [def, found] of [
      [[], "a list"],
      ["x", "a string"],
      [null, "null"],
    ] as const) {
      expect(errorsOf(def, 1)).toEqual([
        { mapping: 1, field: "", message: `Mapping 2: must be an object with topic, eventType and properties; found ${found}.` },
      ]);
    }
  });
});

describe("validateMapping's result", () => {
  it("has exactly the fields given, with enabled defaulted and an empty user kept", () => {
    expect(validateMapping(mapping())).toEqual({
      ok: true,
      mapping: { topic: "orders/fulfilled", eventType: "Order Shipped", enabled: true, properties: { orderName: "{{ name }}" } },
    });
    const result = validateMapping(mapping({ enabled: false, when: "true", user: { phone: "{{ phone }}" } }));
    expect(result.ok && result.mapping).toEqual({
      topic: "orders/fulfilled",
      eventType: "Order Shipped",
      enabled: false,
      when: "true",
      properties: { orderName: "{{ name }}" },
      user: { phone: "{{ phone }}" },
    });
    expect(result.ok && Object.keys(result.mapping.user!)).toEqual(["phone"]);
    const withEmail = validateMapping(mapping({ user: { email: "{{ email }}", clientUserId: "{{ customer.id }}" } }));
    expect(withEmail.ok && withEmail.mapping.user).toEqual({ email: "{{ email }}", clientUserId: "{{ customer.id }}" });
    expect(withEmail.ok && Object.keys(withEmail.mapping.user!)).toEqual(["email", "clientUserId"]);
    const result2 = validateMapping(mapping());
    expect(result2.ok && Object.keys(result2.mapping)).toEqual(["topic", "eventType", "enabled", "properties"]);
  });
});

describe("parseMappingFile's file-level messages", () => {
  it("for text that is not JSON, with the parser's reason", () => {
    expect(parseMappingFile("{")).toEqual({
      ok: false,
      errors: [
        {
          mapping: -1,
          field: "",
          message: "The mapping file is not valid JSON (Expected property name or '}' in JSON at position 1 (line 1 column 2)). Fix the syntax and try again.",
        },
      ],
    });
  });

  it("for a file that is not an object, or without a mappings list", () => {
    expect(parseMappingFile("[]")).toEqual({
      ok: false,
      errors: [{ mapping: -1, field: "", message: 'The mapping file must be an object like { "mappings": [ ... ] }; found a list.' }],
    });
    expect(parseMappingFile({ mappings: null, other: 1 })).toEqual({
      ok: false,
      errors: [
        { mapping: -1, field: "other", message: 'Unknown field "other" at the top of the mapping file: remove it (only "mappings" is allowed).' },
        { mapping: -1, field: "mappings", message: 'The mapping file needs a "mappings" list ([ ... ]); found null.' },
      ],
    });
    expect(parseMappingFile("{}")).toEqual({
      ok: false,
      errors: [{ mapping: -1, field: "mappings", message: 'The mapping file needs a "mappings" list ([ ... ]); it is missing.' }],
    });
  });

  it("reports an unknown top-level field together with the mappings' own problems", () => {
    const result = parseMappingFile({ mappings: [mapping(), mapping({ topic: "x" })], version: 2 });
    expect(!result.ok && result.errors.map((error) => [error.mapping, error.field])).toEqual([
      [-1, "version"],
      [1, "topic"],
    ]);
  });

  it("accepts a file of valid mappings in their order", () => {
    expect(parseMappingFile({ mappings: [mapping({ eventType: "A" }), mapping({ eventType: "B" })] })).toEqual({
      ok: true,
      mappings: [
        { topic: "orders/fulfilled", eventType: "A", enabled: true, properties: { orderName: "{{ name }}" } },
        { topic: "orders/fulfilled", eventType: "B", enabled: true, properties: { orderName: "{{ name }}" } },
      ],
    });
  });
});

describe("formatMappingFile", () => {
  it("writes two-space JSON with the fields in the documented order and a final newline", () => {
    const mappings: MappingDefinition[] = [
      { properties: { a: "{{ name }}" }, enabled: true, eventType: "A", topic: "orders/fulfilled" },
      { user: { email: "{{ email }}" }, properties: {}, when: "true", enabled: false, eventType: "B", topic: "refunds/create" },
    ];
    expect(formatMappingFile(mappings)).toBe(`{
  "mappings": [
    {
      "topic": "orders/fulfilled",
      "eventType": "A",
      "enabled": true,
      "properties": {
        "a": "{{ name }}"
      }
    },
    {
      "topic": "refunds/create",
      "eventType": "B",
      "enabled": false,
      "when": "true",
      "properties": {},
      "user": {
        "email": "{{ email }}"
      }
    }
  ]
}
`);
  });
});
