/** Reading Shopify webhook bodies safely: own keys only, ids as exact decimal strings, dates that parse. */
import { isJsonObject, type JsonValue } from "~/shopify/json";
import type { JsonObject } from "./entry";

export function fieldOf(value: JsonValue | null | undefined, key: string): JsonValue | undefined {
  return value !== null && value !== undefined && isJsonObject(value) && Object.hasOwn(value, key) ? value[key] : undefined;
}

export function objectOf(value: JsonValue | undefined): JsonObject | null {
  return value !== undefined && isJsonObject(value) ? value : null;
}

const GID = /^gid:\/\/shopify\/([A-Za-z]+)\/(\d+)$/;

/** The number in a GraphQL id of any resource type, or null. */
export function gidNumber(gid: JsonValue | undefined): string | null {
  if (typeof gid !== "string") return null;
  const match = GID.exec(gid);
  return match ? match[2]! : null;
}

/** A numeric id as an exact decimal string: digit strings as they are, JS numbers only while exact. */
export function idString(value: JsonValue | undefined): string | null {
  if (typeof value === "string" && /^\d+$/.test(value)) return value;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return String(value);
  return null;
}

/** A resource's id from its body: the GraphQL id first (exact even above 2^53), then `id`. */
export function resourceId(body: JsonValue | null | undefined): string | null {
  return gidNumber(fieldOf(body, "admin_graphql_api_id")) ?? idString(fieldOf(body, "id"));
}

export function gidOf(type: string, id: string | null): string | null {
  return id === null ? null : `gid://shopify/${type}/${id}`;
}

export function dateFrom(value: JsonValue | undefined): Date | null {
  if (typeof value !== "string" || value.trim() === "") return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** The first of the body's fields that holds a date. */
export function firstDate(body: JsonValue, ...keys: string[]): Date | null {
  for (const key of keys) {
    const date = dateFrom(fieldOf(body, key));
    if (date !== null) return date;
  }
  return null;
}
