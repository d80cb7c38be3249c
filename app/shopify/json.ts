/**
 * Shopify ids can exceed 2^53; JSON.parse would round them. This parser keeps every
 * integer that is not a safe JS integer as its exact decimal string, using the
 * source text that JSON.parse passes to revivers (Node 22+).
 */
type ReviverContext = { source?: string };

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export function parseShopifyJson(text: string): JsonValue {
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
