import { describe, expect, it } from "vitest";
import { jsonDepth, MAX_JSON_DEPTH, parseShopifyJson } from "~/shopify/json";

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
});
