/**
 * Shopify ids can exceed 2^53; JSON.parse would round them. This parser keeps every
 * integer that is not a safe JS integer as its exact decimal string, using the
 * source text that JSON.parse passes to revivers (Node 22+).
 */
type ReviverContext = { source?: string };

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

// Integers of 16 digits or more may exceed 2^53; without any, plain JSON.parse is exact
// and several times faster than parsing with a reviver.
const LONG_INTEGER = /\d{16}/;

/**
 * Far beyond any Shopify body (about 6 levels), below where walking it recursively
 * (the exact-id reviver, templates) would exhaust the stack.
 */
export const MAX_JSON_DEPTH = 2_500;

/** The deepest nesting of arrays and objects in JSON text, ignoring brackets inside strings. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 92) i++; // backslash: skip the escaped character
      else if (code === 34) inString = false;
    } else if (code === 34) inString = true;
    else if (code === 123 || code === 91) deepest = Math.max(deepest, ++depth);
    else if (code === 125 || code === 93) depth--;
  }
  return deepest;
}

export function parseShopifyJson(text: string): JsonValue {
  if (jsonDepth(text) > MAX_JSON_DEPTH) throw new RangeError(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  if (!LONG_INTEGER.test(text)) return JSON.parse(text) as JsonValue;
  return JSON.parse(text, function revive(this: unknown, _key: string, value: unknown, context?: ReviverContext) {
    if (typeof value === "number" && !Number.isSafeInteger(value) && context?.source && /^-?\d+$/.test(context.source)) {
      return context.source;
    }
    return value;
  } as (key: string, value: unknown) => unknown) as JsonValue;
}

export function isJsonObject(value: JsonValue | undefined): value is { [key: string]: JsonValue } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
