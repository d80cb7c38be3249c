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
      // Digits in a string after a colon, a comma or a bracket, beside a long integer and alone.
      '{"note": "ref:12345678901234567890", "id": 12345678901234567890, "tags": "a, -98765432109876543210"}',
      '{"note": "[12345678901234567890", "list": ", 12345678901234567890"}',
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

  it("gives what the reviver parse gives on numbers of 1 to 20 digits anywhere, as values, in arrays and in strings", () => {
    // Bodies without a 16-digit number take the plain path (no scan): this checks that path never lets one through
    // that the exact path would have read differently. Whitespace, signs, fractions and exponents around the digits.
    const digits = fc.integer({ min: 1, max: 20 }).chain((n) => fc.stringMatching(new RegExp(`^[1-9][0-9]{${n - 1}}$`)));
    const space = fc.constantFrom("", " ", "\n ", "\t");
    const number = fc
      .tuple(fc.constantFrom("", "-"), digits, fc.constantFrom("", ".5", "e2", "E-3", ".25e+4"))
      .map(([sign, whole, tail]) => `${sign}${whole}${tail}`);
    const tree: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
      value: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        number,
        // In a string, after what a number token follows too (`"ref:1234…"`): the quick path must not quote those.
        fc.tuple(fc.constantFrom("", "ref:", "a, ", "[", ": -", "x,\n"), digits).map(([lead, d]) => JSON.stringify(`${lead}${d} in a string`)),
        fc.array(fc.tuple(space, tie("value")), { maxLength: 4 }).map((items) => `[${items.map(([ws, v]) => `${ws}${v}`).join(",")}]`),
        fc
          .array(fc.tuple(fc.string({ maxLength: 4 }), space, tie("value")), { maxLength: 4 })
          .map((entries) => `{${entries.map(([k, ws, v]) => `${JSON.stringify(k)}:${ws}${v}`).join(",")}}`),
      ),
    })).value;
    fc.assert(
      fc.property(tree, (text) => {
        expect(parseShopifyJson(text)).toEqual(reviverParse(text));
      }),
      { numRuns: 300, seed: 20261201 },
    );
    // A long integer at every offset and of every length from 15 to 24 digits (the search reads one position in 16).
    for (let offset = 0; offset < 40; offset++) {
      for (let length = 15; length <= 24; length++) {
        const text = `${" ".repeat(offset)}{"a":"${"7".repeat(offset % 19)}","n":${"9".repeat(length)}}`;
        expect(parseShopifyJson(text), text).toEqual(reviverParse(text));
      }
    }
    // Each place a long integer can stand, alone in its body (so nothing else sends the body down the exact path).
    for (const text of ["12345678901234567890", " -12345678901234567890", "[12345678901234567890]", '{"a":[\n 12345678901234567890]}', '{"a": 1, "b":-12345678901234567890}', "[1,\t12345678901234567890]"]) {
      expect(parseShopifyJson(text), text).toEqual(reviverParse(text));
    }
  });

  it("still refuses what is not JSON, including a long integer with a leading zero", () => {
    for (const text of ["{", '{"a": 012345678901234567890}', '{"a": 12345678901234567890x}', "[1,]"]) {
      expect(() => parseShopifyJson(text), text).toThrow(SyntaxError);
    }
  });
});
