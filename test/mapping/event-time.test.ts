import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { isJsonObject, parseShopifyJson, type JsonValue } from "~/shopify/json";
import { occurredAtFor } from "~/shopify/event-time";

type JsonObject = { [key: string]: JsonValue };

function fixture(name: string): JsonObject {
  const value = parseShopifyJson(readFileSync(new URL(`../fixtures/shopify/${name}`, import.meta.url), "utf8"));
  if (!isJsonObject(value)) throw new Error(`${name} is not a JSON object`);
  return value;
}

const fallback = new Date("2030-01-01T00:00:00Z");

describe("occurredAtFor orders/fulfilled", () => {
  it("uses the fulfillment's created_at on the derived fulfilled order", () => {
    expect(occurredAtFor("orders/fulfilled", fixture("orders_fulfilled.derived.json"), fallback).toISOString()).toBe(
      "2022-01-03T15:15:00.000Z",
    );
  });

  it("takes the latest fulfillment by time, not by position, and skips unreadable dates", () => {
    const order = fixture("orders_fulfilled.derived.json");
    order.fulfillments = [
      { created_at: "2022-02-05T09:00:00+01:00" },
      { created_at: "not a date" },
      { created_at: "2022-01-10T00:00:00Z" },
      { created_at: null },
    ];
    expect(occurredAtFor("orders/fulfilled", order, fallback).toISOString()).toBe("2022-02-05T08:00:00.000Z");
  });

  it("falls back to closed_at, then updated_at, when there is no fulfillment date", () => {
    const order = fixture("orders_fulfilled.json");
    expect(order.fulfillments).toEqual([]);
    expect(occurredAtFor("orders/fulfilled", order, fallback).toISOString()).toBe("2022-01-01T00:00:00.000Z");
    order.closed_at = "2022-03-01T12:00:00Z";
    order.updated_at = "2022-04-01T12:00:00Z";
    expect(occurredAtFor("orders/fulfilled", order, fallback).toISOString()).toBe("2022-03-01T12:00:00.000Z");
  });

  it("uses the fallback when the body has no usable time", () => {
    expect(occurredAtFor("orders/fulfilled", { fulfillments: [], closed_at: null, updated_at: "" }, fallback)).toBe(fallback);
    expect(occurredAtFor("orders/fulfilled", [], fallback)).toBe(fallback);
    expect(occurredAtFor("orders/fulfilled", null, fallback)).toBe(fallback);
  });
});

describe("occurredAtFor refunds/create", () => {
  it("uses the refund's created_at", () => {
    const refund = fixture("refunds_create.json");
    refund.processed_at = "2023-01-01T00:00:00Z";
    expect(occurredAtFor("refunds/create", refund, fallback).toISOString()).toBe("2022-01-01T00:00:00.000Z");
  });

  it("falls back to processed_at, then to the fallback", () => {
    const refund = fixture("refunds_create.json");
    delete refund.created_at;
    refund.processed_at = "2023-05-06T07:08:09-04:00";
    expect(occurredAtFor("refunds/create", refund, fallback).toISOString()).toBe("2023-05-06T11:08:09.000Z");
    refund.processed_at = "garbage";
    expect(occurredAtFor("refunds/create", refund, fallback)).toBe(fallback);
  });

  it("does not read order fields for refunds", () => {
    expect(occurredAtFor("refunds/create", { fulfillments: [{ created_at: "2022-01-01T00:00:00Z" }], updated_at: "2022-01-01T00:00:00Z" }, fallback)).toBe(
      fallback,
    );
  });
});
