/**
 * The externalEventId is how Attentive tells a retry or a redelivery from a new event: it must be the same
 * for the same shop, topic, Shopify event and mapping on every attempt, every worker and every release of
 * the app. Pinned here as values, so that any change to how it is computed (the namespace, the order or
 * separation of the parts, the UUID layout) fails a test instead of sending customers a second text.
 */
import { describe, expect, it } from "vitest";
import { externalEventId, uuidV5 } from "~/delivery/external-event-id";

const V5 = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const PARTS = {
  shop: "pinned-shop.myshopify.com",
  topic: "orders/fulfilled",
  eventKey: "gid://shopify/Order/820982911946154508",
  mappingId: "mapping-1",
};

describe("uuidV5", () => {
  it("gives RFC 9562's name-based SHA-1 UUID (the DNS namespace example)", () => {
    expect(uuidV5("www.example.com", "6ba7b810-9dad-11d1-80b4-00c04fd430c8")).toBe("2ed6657d-e927-568b-95e1-2665a8aea6a2");
  });

  it("hashes the name as UTF-8", () => {
    // Cross-checked with the `uuid` package's v5 for the same name and namespace.
    expect(uuidV5("Café ☕", "6ba7b810-9dad-11d1-80b4-00c04fd430c8")).toBe("83bad8f2-0865-5f2a-9f8b-603fa681262c");
  });
});

describe("externalEventId", () => {
  it("is the same id this app has always sent for a known event (a changed namespace or layout would re-send every event)", () => {
    expect(externalEventId(PARTS)).toBe("34299f1d-842e-5341-8d4c-daf98bfee637");
  });

  it("is the v5 UUID of the parts joined by newlines under the app's own namespace", () => {
    const name = [PARTS.shop, PARTS.topic, PARTS.eventKey, PARTS.mappingId].join("\n");
    expect(externalEventId(PARTS)).toBe(uuidV5(name, "3f1c9a52-7d4e-4b8a-9c61-2e5f0b7d8a14"));
    expect(externalEventId(PARTS)).toBe(uuidV5(name));
  });

  it("is a version 5, RFC variant UUID in lower-case canonical form for any input", () => {
    const inputs = [
      PARTS,
      { shop: "", topic: "", eventKey: "", mappingId: "" },
      { shop: "a.myshopify.com", topic: "refunds/create", eventKey: "gid://shopify/Refund/1", mappingId: "m" },
      { shop: "ß.myshopify.com", topic: "orders/paid", eventKey: "webhook:0", mappingId: "x".repeat(500) },
    ];
    for (const [index, parts] of inputs.entries()) {
      for (let n = 0; n < 16; n++) {
        expect(externalEventId({ ...parts, mappingId: `${parts.mappingId}${index}-${n}` })).toMatch(V5);
      }
    }
  });

  it("is the same on every call and differs when any one part differs", () => {
    const id = externalEventId(PARTS);
    expect(externalEventId({ ...PARTS })).toBe(id);
    const variants = [
      { ...PARTS, shop: "other-shop.myshopify.com" },
      { ...PARTS, topic: "orders/paid" },
      { ...PARTS, eventKey: "gid://shopify/Order/820982911946154509" },
      { ...PARTS, mappingId: "mapping-2" },
    ];
    const ids = new Set([id, ...variants.map(externalEventId)]);
    expect(ids.size).toBe(5);
  });

  it("keeps the parts apart: moving text from one part to the next gives another id", () => {
    const a = externalEventId({ shop: "ab", topic: "c", eventKey: "e", mappingId: "m" });
    const b = externalEventId({ shop: "a", topic: "bc", eventKey: "e", mappingId: "m" });
    expect(a).not.toBe(b);
  });
});
