/**
 * occurredAt decides whether Attentive still triggers a Journey (events older than 12 hours do not), so it
 * must be when the thing happened: the latest fulfillment of a fulfilled order, wherever it sits in the list.
 */
import { describe, expect, it } from "vitest";
import { occurredAtFor } from "~/shopify/event-time";
import type { JsonValue } from "~/shopify/json";

const fallback = new Date("2030-01-01T00:00:00Z");
const iso = (date: Date) => date.toISOString();

describe("occurredAtFor orders/fulfilled: the latest fulfillment", () => {
  it("is the latest by time when it is first, in the middle or last in the list", () => {
    const times = ["2022-01-10T00:00:00Z", "2022-02-05T09:00:00+01:00", "2022-01-20T00:00:00Z"];
    for (const order of [
      [times[1], times[0], times[2]],
      [times[0], times[1], times[2]],
      [times[0], times[2], times[1]],
    ]) {
      const body = { fulfillments: order.map((created_at) => ({ created_at: created_at! })), closed_at: "2021-01-01T00:00:00Z" };
      expect(iso(occurredAtFor("orders/fulfilled", body, fallback)), order.join()).toBe("2022-02-05T08:00:00.000Z");
    }
  });

  it("is not the earliest, the first or the last when those differ from the latest", () => {
    const body = { fulfillments: [{ created_at: "2022-03-01T00:00:00Z" }, { created_at: "2022-05-01T00:00:00Z" }, { created_at: "2022-04-01T00:00:00Z" }] };
    expect(iso(occurredAtFor("orders/fulfilled", body, fallback))).toBe("2022-05-01T00:00:00.000Z");
  });

  it("passes over fulfillments without a readable created_at, wherever they are", () => {
    const body: JsonValue = {
      fulfillments: [
        { created_at: "garbage" },
        null,
        "2022-09-01T00:00:00Z",
        { created_at: 1_700_000_000_000 },
        { created_at: "2022-06-01T00:00:00Z" },
        { created_at: "" },
        { created_at: "   " },
        {},
      ],
    };
    expect(iso(occurredAtFor("orders/fulfilled", body, fallback))).toBe("2022-06-01T00:00:00.000Z");
  });

  it("falls back to closed_at when no fulfillment has a date, and when fulfillments is not a list", () => {
    for (const fulfillments of [[{ created_at: "nope" }], { created_at: "2022-06-01T00:00:00Z" }, "2022-06-01T00:00:00Z", null] as JsonValue[]) {
      const body = { fulfillments, closed_at: "2022-03-01T12:00:00Z", updated_at: "2022-04-01T12:00:00Z" };
      expect(iso(occurredAtFor("orders/fulfilled", body, fallback)), JSON.stringify(fulfillments)).toBe("2022-03-01T12:00:00.000Z");
    }
  });

  it("falls back to updated_at when closed_at is missing or unreadable, then to the arrival time", () => {
    expect(iso(occurredAtFor("orders/fulfilled", { closed_at: "x", updated_at: "2022-04-01T12:00:00Z" }, fallback))).toBe("2022-04-01T12:00:00.000Z");
    expect(iso(occurredAtFor("orders/fulfilled", { updated_at: "2022-04-01T12:00:00Z" }, fallback))).toBe("2022-04-01T12:00:00.000Z");
    expect(occurredAtFor("orders/fulfilled", { closed_at: 1_700_000_000_000, updated_at: 0 }, fallback)).toBe(fallback);
  });

  it("reads only the body's own fields", () => {
    const inherited = Object.create({ fulfillments: [{ created_at: "2022-01-01T00:00:00Z" }], closed_at: "2022-01-01T00:00:00Z" }) as JsonValue;
    expect(occurredAtFor("orders/fulfilled", inherited, fallback)).toBe(fallback);
  });
});

describe("occurredAtFor refunds/create", () => {
  it("prefers created_at over processed_at, and ignores values that are not date strings", () => {
    expect(iso(occurredAtFor("refunds/create", { created_at: "2022-01-01T00:00:00Z", processed_at: "2023-01-01T00:00:00Z" }, fallback))).toBe(
      "2022-01-01T00:00:00.000Z",
    );
    expect(iso(occurredAtFor("refunds/create", { created_at: 0, processed_at: "2023-01-01T00:00:00Z" }, fallback))).toBe("2023-01-01T00:00:00.000Z");
  });
});
