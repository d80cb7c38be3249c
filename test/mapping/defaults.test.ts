import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { catalogMappings, defaultMappings } from "~/mapping/defaults";
import { MAPPABLE_TOPICS } from "~/topics/catalog";
import { formatMappingFile, parseMappingFile, validateMapping } from "~/mapping/mapping-file";
import { renderMapping, type RenderOutcome, type RenderedEvent } from "~/mapping/render.server";
import { isJsonObject, parseShopifyJson, type JsonValue } from "~/shopify/json";

type JsonObject = { [key: string]: JsonValue };

function fixture(name: string): JsonObject {
  const value = parseShopifyJson(readFileSync(new URL(`../fixtures/shopify/${name}`, import.meta.url), "utf8"));
  if (!isJsonObject(value)) throw new Error(`${name} is not a JSON object`);
  return value;
}

function eventOf(outcome: RenderOutcome): RenderedEvent {
  if (outcome.kind !== "event") throw new Error(`expected an event, got ${outcome.kind}: ${outcome.reason}`);
  return outcome.event;
}

function mappingFor(topic: string) {
  const mapping = defaultMappings().find((candidate) => candidate.topic === topic);
  if (!mapping) throw new Error(`no default mapping for ${topic}`);
  return mapping;
}

describe("defaultMappings", () => {
  it("starts a shop with shipping, delivery, fulfilment, cancellation and refund events, enabled", () => {
    expect(defaultMappings().map((m) => [m.topic, m.eventType, m.enabled])).toEqual([
      ["fulfillments/create", "Order Shipped", true],
      ["fulfillment_events/create", "Order Out For Delivery", true],
      ["fulfillment_events/create", "Order Delivered", true],
      ["orders/fulfilled", "Order Fulfilled", true],
      ["orders/cancelled", "Order Cancelled", true],
      ["refunds/create", "Order Refunded", true],
    ]);
  });

  it("offers one mapping at least for every catalog topic, the rest off", () => {
    const offered = catalogMappings();
    expect(new Set(offered.map((m) => m.topic))).toEqual(new Set(MAPPABLE_TOPICS));
    expect(offered.filter((m) => m.enabled)).toEqual(defaultMappings());
    for (const mapping of offered) {
      const result = validateMapping(mapping);
      expect(result.ok ? [] : result.errors, mapping.eventType).toEqual([]);
    }
    expect(new Set(offered.map((m) => m.eventType)).size).toBe(offered.length);
  });

  it("passes validateMapping and survives a trip through the file format", () => {
    for (const mapping of defaultMappings()) {
      const result = validateMapping(mapping);
      expect(result.ok ? [] : result.errors).toEqual([]);
    }
    expect(parseMappingFile(formatMappingFile(defaultMappings()))).toEqual({ ok: true, mappings: defaultMappings() });
  });

  it("returns fresh objects, so a caller editing one cannot change the next shop's defaults", () => {
    const first = defaultMappings();
    first.find((m) => m.topic === "orders/fulfilled")!.properties.orderName = "changed";
    expect(mappingFor("orders/fulfilled").properties.orderName).toBe("{{ name }}");
  });

  it("renders the shipping details of the derived fulfilled order", async () => {
    const event = eventOf(await renderMapping(mappingFor("orders/fulfilled"), { topic: "orders/fulfilled", shop: "jsmith.myshopify.com", body: fixture("orders_fulfilled.derived.json") }));
    expect(event.type).toBe("Order Fulfilled");
    expect(event.properties).toEqual({
      orderName: "#9999",
      orderNumber: 1234,
      firstName: "John",
      totalPrice: "404.95",
      currency: "USD",
      itemTitles: "Aviator sunglasses, Lens Protection Plan (2 Year), Premium Leather Case, Mid-century lounger, Coffee table",
      itemCount: 5,
      trackingNumber: "1Z999AA10123456784",
      trackingUrl: "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1Z999AA10123456784",
      trackingCompany: "UPS",
      orderStatusUrl: "https://jsmith.myshopify.com/548380009/orders/123456abcd/authenticate?key=abcdefg",
    });
    expect(event.user).toEqual({ email: "jon@example.com", externalIdentifiers: { clientUserId: "115310627314723954" } });
  });

  it("takes tracking from the latest fulfillment", async () => {
    const order = fixture("orders_fulfilled.derived.json");
    const fulfillments = order.fulfillments;
    if (!Array.isArray(fulfillments)) throw new Error("fixture has no fulfillments");
    fulfillments.push({ created_at: "2022-01-04T08:00:00-05:00", tracking_company: "USPS", tracking_number: "9400100000000000000000", tracking_url: "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400100000000000000000", status: "success" });
    const event = eventOf(await renderMapping(mappingFor("orders/fulfilled"), { topic: "orders/fulfilled", shop: "s", body: order }));
    expect(event.properties.trackingCompany).toBe("USPS");
    expect(event.properties.trackingNumber).toBe("9400100000000000000000");
  });

  it("renders a refund's amount, currency, items and note, with the order's name and customer", async () => {
    const event = eventOf(
      await renderMapping(mappingFor("refunds/create"), {
        topic: "refunds/create",
        shop: "jsmith.myshopify.com",
        body: fixture("refunds_create.json"),
        order: fixture("orders_fulfilled.derived.json"),
      }),
    );
    expect(event.type).toBe("Order Refunded");
    expect(event.properties).toEqual({
      orderName: "#9999",
      firstName: "John",
      refundAmount: 85,
      currency: "USD",
      refundedItemTitles: "Aviator sunglasses, Lens Protection Plan (2 Year), Premium Leather Case, Mid-century lounger, Coffee table",
      note: "Things were damaged",
      orderStatusUrl: "https://jsmith.myshopify.com/548380009/orders/123456abcd/authenticate?key=abcdefg",
    });
    expect(event.user.email).toBe("jon@example.com");
  });

  it("counts only successful refund transactions in the refund amount", async () => {
    const refund = fixture("refunds_create.json");
    const transactions = refund.transactions;
    if (!Array.isArray(transactions)) throw new Error("fixture has no transactions");
    transactions.push({ kind: "refund", status: "failure", amount: "500.00", currency: "USD" }, { kind: "sale", status: "success", amount: "7.00" });
    const event = eventOf(await renderMapping(mappingFor("refunds/create"), { topic: "refunds/create", shop: "s", body: refund, order: fixture("orders_fulfilled.derived.json") }));
    expect(event.properties.refundAmount).toBe(85);
  });
});
