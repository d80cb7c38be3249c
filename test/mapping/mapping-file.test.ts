import { describe, expect, it } from "vitest";
import { MAX_PROPERTY_KEYS } from "~/attentive/rules";
import { MAX_TEMPLATE_LENGTH, formatMappingFile, parseMappingFile, validateMapping, type MappingFileError } from "~/mapping/mapping-file";
import type { MappingDefinition } from "~/mapping/types";
import { SPEC_EXAMPLE_MAPPING } from "../support/mappings";

/** The example from the product spec. */
const specExample = SPEC_EXAMPLE_MAPPING;

function mapping(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { topic: "orders/fulfilled", eventType: "Order Shipped", properties: { orderName: "{{ name }}" }, ...overrides };
}

function errorsOf(input: unknown): MappingFileError[] {
  const result = parseMappingFile(input);
  if (result.ok) throw new Error("expected the file to be rejected");
  return result.errors;
}

/** The single error for one bad mapping placed second in a file, so the index is checked too. */
function onlyError(bad: unknown): MappingFileError {
  const errors = errorsOf({ mappings: [mapping(), bad] });
  expect(errors).toHaveLength(1);
  const [error] = errors;
  if (!error) throw new Error("no error");
  expect(error.mapping).toBe(1);
  return error;
}

describe("parseMappingFile accepts", () => {
  it("the spec's example, unchanged", () => {
    expect(parseMappingFile({ mappings: [specExample] })).toEqual({ ok: true, mappings: [specExample] });
  });

  it("the file's text as well as parsed JSON", () => {
    expect(parseMappingFile(JSON.stringify({ mappings: [specExample] }))).toEqual({ ok: true, mappings: [specExample] });
  });

  it("a mapping without enabled, when or user, defaulting enabled to true", () => {
    const result = parseMappingFile({ mappings: [mapping()] });
    expect(result).toEqual({ ok: true, mappings: [{ topic: "orders/fulfilled", eventType: "Order Shipped", enabled: true, properties: { orderName: "{{ name }}" } }] });
  });

  it("a partial user, an empty list and enabled: false", () => {
    const result = parseMappingFile({ mappings: [mapping({ enabled: false, user: { phone: "{{ billing_address.phone }}" } })] });
    expect(result.ok && result.mappings[0]).toMatchObject({ enabled: false, user: { phone: "{{ billing_address.phone }}" } });
    expect(parseMappingFile({ mappings: [] })).toEqual({ ok: true, mappings: [] });
  });

  it("exactly MAX_PROPERTY_KEYS properties", () => {
    const properties = Object.fromEntries(Array.from({ length: MAX_PROPERTY_KEYS }, (_, i) => [`p${i}`, "{{ name }}"]));
    expect(parseMappingFile({ mappings: [mapping({ properties })] }).ok).toBe(true);
  });
});

describe("formatMappingFile", () => {
  it("writes pretty JSON that parses back to the same mappings, keeping property order", () => {
    const mappings: MappingDefinition[] = [
      { topic: "refunds/create", eventType: "Refund", enabled: false, properties: { zeta: "{{ note }}", alpha: "{{ order.name }}" } },
      { ...specExample, topic: "orders/fulfilled" },
    ];
    const text = formatMappingFile(mappings);
    expect(text).toContain('\n  "mappings": [\n');
    expect(text.endsWith("}\n")).toBe(true);
    const parsed = parseMappingFile(text);
    expect(parsed).toEqual({ ok: true, mappings: mappings });
    expect(parsed.ok && Object.keys(parsed.mappings[0]!.properties)).toEqual(["zeta", "alpha"]);
  });
});

describe("parseMappingFile rejects, naming the mapping and field", () => {
  it("an unknown topic, listing the mappable ones", () => {
    const error = onlyError(mapping({ topic: "orders/updated" }));
    expect(error.field).toBe("topic");
    expect(error.message).toContain('Mapping 2 ("Order Shipped")');
    expect(error.message).toContain('"orders/updated"');
    expect(error.message).toContain("orders/create, orders/paid, fulfillments/create, fulfillment_events/create, orders/fulfilled, orders/cancelled, refunds/create, returns/request, returns/approve, returns/decline, returns/close");
  });

  it("a missing topic", () => {
    const error = onlyError({ eventType: "Order Shipped", properties: {} });
    expect(error.field).toBe("topic");
    expect(error.message).toContain("missing");
  });

  it("an event type with a forbidden character, naming the character", () => {
    const error = onlyError(mapping({ eventType: "Order (Shipped)" }));
    expect(error.field).toBe("eventType");
    expect(error.message).toContain("opening parenthesis");
    expect(error.message).toContain("remove it");
  });

  it("an empty or non-string event type, without an eventType to name the mapping by", () => {
    const empty = onlyError(mapping({ eventType: "  " }));
    expect(empty.field).toBe("eventType");
    expect(empty.message).toMatch(/^Mapping 2, eventType: /);
    expect(onlyError(mapping({ eventType: 42 })).message).toContain("cannot be a number");
  });

  it("a property key with a double quote, using the key in the field path", () => {
    const error = onlyError(mapping({ properties: { 'order"Name': "{{ name }}" } }));
    expect(error.field).toBe('properties.order"Name');
    expect(error.message).toContain("double quote");
  });

  it("a property key with a comma, and an empty one", () => {
    expect(onlyError(mapping({ properties: { "a,b": "{{ name }}" } })).message).toContain("comma");
    expect(onlyError(mapping({ properties: { "": "{{ name }}" } })).message).toContain("empty");
  });

  it("a __proto__ property key", () => {
    const error = onlyError(mapping({ properties: JSON.parse('{"__proto__": "{{ name }}"}') }));
    expect(error.field).toBe("properties.__proto__");
    expect(error.message).toContain("reserved");
  });

  it("a property value that is not a string", () => {
    const error = onlyError(mapping({ properties: { total: 5 } }));
    expect(error.field).toBe("properties.total");
    expect(error.message).toContain("found a number");
  });

  it("properties that are not an object", () => {
    expect(onlyError(mapping({ properties: ["{{ name }}"] })).field).toBe("properties");
  });

  it("more than MAX_PROPERTY_KEYS properties", () => {
    const properties = Object.fromEntries(Array.from({ length: MAX_PROPERTY_KEYS + 1 }, (_, i) => [`p${i}`, "{{ name }}"]));
    const error = onlyError(mapping({ properties }));
    expect(error.field).toBe("properties");
    expect(error.message).toContain(`at most ${MAX_PROPERTY_KEYS}`);
  });

  it("a template that is not valid Liquid, with Liquid's message and line", () => {
    const error = onlyError(mapping({ properties: { note: "Thanks!\nYour order {% endif %}" } }));
    expect(error.field).toBe("properties.note");
    expect(error.message).toContain('tag "endif" not found');
    expect(error.message).toContain("line 2");
  });

  it("an unknown filter", () => {
    const error = onlyError(mapping({ properties: { total: "{{ total_price | money }}" } }));
    expect(error.field).toBe("properties.total");
    expect(error.message).toContain("undefined filter: money");
  });

  it("tags that read files", () => {
    for (const tag of ["{% include 'secrets' %}", "{% render 'x' %}", "{% layout 'x' %}"]) {
      expect(onlyError(mapping({ properties: { p: tag } })).message).toContain("not available in mappings");
    }
  });

  it("a template longer than the limit", () => {
    const error = onlyError(mapping({ properties: { p: "x".repeat(MAX_TEMPLATE_LENGTH + 1) } }));
    expect(error.field).toBe("properties.p");
    expect(error.message).toContain("Shorten it");
  });

  it("a condition that is not valid Liquid, with the column of the merchant's own text", () => {
    const error = onlyError(mapping({ when: "total_price ===" }));
    expect(error.field).toBe("when");
    expect(error.message).toContain("line 1, column 16");
    expect(error.message).toContain("{% if ... %}");
  });

  it("a condition written with delimiters, or empty", () => {
    expect(onlyError(mapping({ when: "{% if total_price > 0 %}" })).message).toContain("without {% %}");
    expect(onlyError(mapping({ when: "x %}{{ 'injected' }}{% if true" })).field).toBe("when");
    expect(onlyError(mapping({ when: "" })).message).toContain("empty");
  });

  it("an unknown field at the mapping level and in user", () => {
    const typo = onlyError({ ...mapping(), evenType: "x" });
    expect(typo.field).toBe("evenType");
    expect(typo.message).toContain('Unknown field "evenType"');
    const userTypo = onlyError(mapping({ user: { mail: "{{ email }}" } }));
    expect(userTypo.field).toBe("user.mail");
    expect(userTypo.message).toContain("email, phone, clientUserId");
  });

  it("bad user templates", () => {
    expect(onlyError(mapping({ user: { phone: 5551234 } })).field).toBe("user.phone");
    const liquid = onlyError(mapping({ user: { email: "{{ email" } }));
    expect(liquid.field).toBe("user.email");
    expect(liquid.message).toContain("not closed");
    expect(onlyError(mapping({ user: "{{ email }}" })).field).toBe("user");
  });

  it("a non-boolean enabled", () => {
    const error = onlyError(mapping({ enabled: "yes" }));
    expect(error.field).toBe("enabled");
    expect(error.message).toContain("true or false");
  });

  it("a mapping that is not an object", () => {
    const error = onlyError([]);
    expect(error.field).toBe("");
    expect(error.message).toContain("Mapping 2");
  });

  it("every problem at once, each in its own mapping", () => {
    const errors = errorsOf({
      mappings: [mapping({ topic: "nope", properties: { "a|b": "{{ x" } }), mapping(), mapping({ eventType: "A,B" })],
    });
    expect(errors.map((e) => [e.mapping, e.field])).toEqual([
      [0, "topic"],
      [0, "properties.a|b"],
      [0, "properties.a|b"],
      [2, "eventType"],
    ]);
  });
});

describe("parseMappingFile rejects a malformed file", () => {
  it("text that is not JSON", () => {
    const [error] = errorsOf("{ mappings: [");
    expect(error).toMatchObject({ mapping: -1, field: "" });
    expect(error?.message).toContain("not valid JSON");
  });

  it("a file that is not an object, or has no mappings list", () => {
    expect(errorsOf([specExample])[0]?.message).toContain('{ "mappings": [ ... ] }');
    expect(errorsOf({})[0]).toMatchObject({ mapping: -1, field: "mappings" });
    expect(errorsOf({ mappings: {} })[0]?.message).toContain("found an object");
  });

  it("unknown top-level fields", () => {
    const errors = errorsOf({ mappings: [specExample], version: 2 });
    expect(errors).toEqual([{ mapping: -1, field: "version", message: expect.stringContaining('Unknown field "version"') }]);
  });
});

describe("validateMapping", () => {
  it("returns the typed mapping", () => {
    expect(validateMapping(specExample)).toEqual({ ok: true, mapping: specExample });
  });

  it("names the mapping by eventType when no index is given", () => {
    const result = validateMapping(mapping({ topic: "x" }));
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.errors[0]?.mapping).toBe(0);
      expect(result.errors[0]?.message).toMatch(/^This mapping \("Order Shipped"\), topic: /);
    }
  });

  it("uses the given index", () => {
    const result = validateMapping(mapping({ topic: "x" }), 4);
    expect(!result.ok && result.errors[0]).toMatchObject({ mapping: 4, message: expect.stringContaining("Mapping 5") });
  });
});
