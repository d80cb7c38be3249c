/**
 * The webhook body parser (app/shopify/json.ts), pinned where a mistake refuses a real order or rounds an id:
 * the depth limit counts nesting, not brackets, and every integer a JS number cannot hold keeps its digits.
 */
import { describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH, isJsonObject, jsonDepth, parseShopifyJson } from "~/shopify/json";

/** The straightforward exact parse, with a reviver that reads each number's source (Node 22). */
function reviverParse(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown, context?: { source?: string }) =>
    typeof value === "number" && !Number.isSafeInteger(value) && context?.source && /^-?\d+$/.test(context.source) ? context.source : value,
  );
}

describe("the depth limit", () => {
  it("is 2,500 levels", () => {
    expect(MAX_JSON_DEPTH).toBe(2_500);
  });

  it("counts nesting, not brackets: a flat list of many objects and lists is two levels deep", () => {
    const flat = `[${Array.from({ length: 3 * MAX_JSON_DEPTH }, (_, n) => (n % 2 === 0 ? '{"id": 1}' : "[1, 2]")).join(",")}]`;
    expect(jsonDepth(flat)).toBe(2);
    const parsed = parseShopifyJson(flat);
    expect(Array.isArray(parsed) && parsed.length).toBe(3 * MAX_JSON_DEPTH);
    const order = `{"line_items": [${Array.from({ length: MAX_JSON_DEPTH + 1 }, () => '{"properties": [], "tax_lines": [{"rate": 0.1}]}').join(", ")}]}`;
    expect(jsonDepth(order)).toBe(5);
    expect(isJsonObject(parseShopifyJson(order))).toBe(true);
  });

  it("is the deepest point, wherever it is", () => {
    expect(jsonDepth("[[[1]], [2], [[[3]]], 4]")).toBe(4);
    expect(jsonDepth('{"a": {"b": {}}, "c": {}}')).toBe(3);
    expect(jsonDepth("1")).toBe(0);
    expect(jsonDepth('"[[{"')).toBe(0);
    expect(jsonDepth("")).toBe(0);
  });

  it("ignores brackets in strings, however their quotes are escaped", () => {
    expect(jsonDepth('["\\"[[[", "\\\\", [1]]')).toBe(2);
    expect(jsonDepth('["a\\\\\\"[[[", [1]]')).toBe(2);
    expect(jsonDepth('{"[[[": "]]]]]]", "k": [[[1]]]}')).toBe(4);
  });

  it("refuses exactly one level past the limit, saying so, and no fewer", () => {
    const nest = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;
    expect(() => parseShopifyJson(nest(MAX_JSON_DEPTH + 1))).toThrow(new RangeError("JSON nested deeper than 2500 levels"));
    expect(jsonDepth(nest(MAX_JSON_DEPTH))).toBe(MAX_JSON_DEPTH);
    expect(() => parseShopifyJson(`[${nest(MAX_JSON_DEPTH - 1)}, {"id": 12345678901234567890}]`)).not.toThrow();
  });
});

describe("parseShopifyJson keeps integers exact", () => {
  it("gives what the reviver parse gives on numbers of every shape and position", () => {
    const texts = [
      "12345678901234567890",
      "-12345678901234567890",
      "[12345678901234567890]",
      '{"a":12345678901234567890}',
      "[0, 10000000000000000000, 100000000000000000000]",
      "[9007199254740992, 9007199254740993, -9007199254740993, 9999999999999999]",
      "[123456789012345, 1234567890123456, 12345678901234567]",
      "[0.12345678901234567890, 1234567890123456789.0, 12345678901234567890.5]",
      "[1e12345678901234567890, 1e+12345678901234567890, 1e-12345678901234567890, 1E12345678901234567890]",
      "[12345678901234567890E2, 12345678901234567890e-2, 12345678901234567890e+2]",
      '[12345678901234567890,[1],"x",12345678901234567891]',
      "{\"k\": \"\\\\\", \"id\": 12345678901234567890, \"t\": \"\\\"12345678901234567890\\\"\"}",
      "[ 12345678901234567890 ]\n",
      "[-0, -1, -12, 0.5, -0.5e3]",
    ];
    for (const text of texts) expect(parseShopifyJson(text), text).toEqual(reviverParse(text));
  });

  it("reads on after a number with an exponent: later long integers and nesting still count", () => {
    expect(parseShopifyJson('[1e5, 12345678901234567890, {"a": 2.5E-3}, 12345678901234567891]')).toEqual([
      1e5,
      "12345678901234567890",
      { a: 2.5e-3 },
      "12345678901234567891",
    ]);
    expect(jsonDepth("[1e5, [[[1]]]]")).toBe(4);
  });

  it("keeps the text around each long integer as it was", () => {
    expect(parseShopifyJson('{"a": "x", "id": 820982911946154508, "b": [true, null], "c": 820982911946154509}')).toEqual({
      a: "x",
      id: "820982911946154508",
      b: [true, null],
      c: "820982911946154509",
    });
  });

  it("still refuses JSON with a leading zero or a sign alone", () => {
    for (const text of ["[0012345678901234567890]", "[-012345678901234567890]", "[-]", "[12345678901234567890-]"]) {
      expect(() => parseShopifyJson(text), text).toThrow(SyntaxError);
    }
  });
});

describe("isJsonObject", () => {
  it("is true for objects only", () => {
    expect(isJsonObject({})).toBe(true);
    for (const value of [null, [], "{}", 1, true, undefined]) expect(isJsonObject(value), String(value)).toBe(false);
  });
});
