import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jsonDepth, MAX_JSON_DEPTH, parseShopifyJson } from "~/shopify/json";

/** The straightforward exact parse, with a reviver that reads each number's source (Node 22). */
function reviverParse(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown, context?: { source?: string }) =>
    typeof value === "number" && !Number.isSafeInteger(value) && context?.source && /^-?\d+$/.test(context.source) ? context.source : value,
  );
}

describe("parseShopifyJson", () => {
  it("keeps integers beyond 2^53 as their exact digits and leaves safe numbers as numbers", () => {
    expect(parseShopifyJson('{"id": 820982911946154508, "n": 12.5, "small": 1234567890123}')).toEqual({
      id: "820982911946154508",
      n: 12.5,
      small: 1234567890123,
    });
  });

  it("reads bodies without long integers the plain way, with the same result", () => {
    const text = '{"a": [1, 2, {"b": "x"}], "c": null, "d": "1234567890123456 in a string"}';
    expect(parseShopifyJson(text)).toEqual(JSON.parse(text));
  });

  it("measures nesting without counting brackets inside strings, and refuses bodies nested too deep", () => {
    expect(jsonDepth('{"a": "[[[{{{", "b": [[1]], "c": "\\\\\\"]"}')).toBe(3);
    expect(() => parseShopifyJson(`${"[".repeat(MAX_JSON_DEPTH + 1)}${"]".repeat(MAX_JSON_DEPTH + 1)}`)).toThrow(RangeError);
    expect(parseShopifyJson(`${"[".repeat(MAX_JSON_DEPTH)}${"]".repeat(MAX_JSON_DEPTH)}`)).toBeInstanceOf(Array);
  });

  it("gives what the reviver parse gives, on every Shopify fixture and on numbers of every shape", () => {
    const dir = new URL("../fixtures/shopify/", import.meta.url);
    const fixtures = readdirSync(dir).filter((name) => name.endsWith(".json"));
    expect(fixtures.length).toBeGreaterThan(5);
    for (const name of fixtures) {
      const text = readFileSync(new URL(name, dir), "utf8");
      expect(parseShopifyJson(text), name).toEqual(reviverParse(text));
    }
    const shapes = [
      '{"big": 820982911946154508, "neg": -820982911946154508, "edge": 9007199254740993, "safe": 9007199254740991}',
      '[1.2345678901234567890, 12345678901234567890.5, 1e300, -1E+25, 12345678901234567890e2, 0.1]',
      '{"s": "12345678901234567890", "esc": "a\\"12345678901234567890", "k12345678901234567890": 12345678901234567890}',
      "[12345678901234567890,-12345678901234567890 ,\n12345678901234567890]",
    ];
    for (const text of shapes) expect(parseShopifyJson(text), text).toEqual(reviverParse(text));
  });

  it("finds the end of every string, whatever runs of backslashes and quotes it holds, as the reviver parse does", () => {
    // Strings built from the characters that decide where a string ends, beside long integers inside and outside them.
    const piece = fc.constantFrom("\\", '"', "\\\\", '\\"', "12345678901234567890", "[", "{", "x", " ");
    const text = fc.array(piece, { maxLength: 12 }).map((parts) => parts.join(""));
    const value = fc.record({ s: text, n: fc.constantFrom(12345678901234567890n, 42n, -98765432109876543210n), t: fc.array(text, { maxLength: 3 }) });
    fc.assert(
      fc.property(value, ({ s, n, t }) => {
        const json = `{"s": ${JSON.stringify(s)}, "n": ${n.toString()}, "t": ${JSON.stringify(t)}, "k": ${n.toString()}}`;
        expect(parseShopifyJson(json)).toEqual(reviverParse(json));
        expect(jsonDepth(json)).toBe(2);
      }),
      { numRuns: 500, seed: 13 },
    );
  });

  it("still refuses what is not JSON, including a long integer with a leading zero", () => {
    for (const text of ["{", '{"a": 012345678901234567890}', '{"a": 12345678901234567890x}', "[1,]"]) {
      expect(() => parseShopifyJson(text), text).toThrow(SyntaxError);
    }
  });
});
