import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  customerIdOf,
  defaultClientUserId,
  defaultEmail,
  defaultPhone,
  normalizePhone,
  orderCountry,
  resolveDefaultIdentity,
} from "~/mapping/identity";
import { isJsonObject, parseShopifyJson, type JsonValue } from "~/shopify/json";

type JsonObject = { [key: string]: JsonValue };

function fixture(name: string): JsonObject {
  const value = parseShopifyJson(readFileSync(new URL(`../fixtures/shopify/${name}`, import.meta.url), "utf8"));
  if (!isJsonObject(value)) throw new Error(`${name} is not a JSON object`);
  return value;
}

function objectAt(value: JsonObject, key: string): JsonObject {
  const inner = value[key];
  if (!isJsonObject(inner)) throw new Error(`${key} is not an object`);
  return inner;
}

/** The derived fulfilled order with its phones replaced, so each test controls exactly which phones exist. */
function orderWithPhones(phones: { order?: string | null; customer?: string | null; shipping?: string | null; billing?: string | null }): JsonObject {
  const order = fixture("orders_fulfilled.derived.json");
  order.phone = phones.order ?? null;
  objectAt(order, "customer").phone = phones.customer ?? null;
  objectAt(order, "shipping_address").phone = phones.shipping ?? null;
  objectAt(order, "billing_address").phone = phones.billing ?? null;
  return order;
}

describe("normalizePhone", () => {
  it("turns a national number into E.164 using the given country", () => {
    expect(normalizePhone("(415) 555-2671", "US")).toBe("+14155552671");
    expect(normalizePhone("020 7946 0958", "GB")).toBe("+442079460958");
    expect(normalizePhone("613-555-0123", "ca")).toBe("+16135550123");
  });

  it("keeps an international number's own country whatever the default", () => {
    expect(normalizePhone("+44 20 7946 0958", "US")).toBe("+442079460958");
  });

  it("refuses national numbers without a usable country, and numbers that cannot exist", () => {
    expect(normalizePhone("415 555 2671")).toBeNull();
    expect(normalizePhone("415 555 2671", "XX")).toBeNull();
    expect(normalizePhone("555-555-SHIP", "US")).toBeNull();
    expect(normalizePhone("   ", "US")).toBeNull();
  });

  it("drops an extension, which E.164 cannot carry", () => {
    expect(normalizePhone("(415) 555-2671 ext. 12", "US")).toBe("+14155552671");
  });
});

describe("defaultPhone", () => {
  it("uses the shipping address country for a national shipping phone", () => {
    expect(defaultPhone(orderWithPhones({ shipping: "(415) 555-2671" }))).toEqual({ phone: "+14155552671" });
  });

  it("uses the billing address's own country for the billing phone", () => {
    const order = orderWithPhones({ billing: "613-555-0123" });
    objectAt(order, "billing_address").country_code = "CA";
    objectAt(order, "shipping_address").country_code = "GB";
    expect(defaultPhone(order).phone).toBe("+16135550123");
  });

  it("prefers the order phone, then the customer phone, over address phones", () => {
    expect(defaultPhone(orderWithPhones({ order: "+1 415-555-2671", customer: "+1 613-555-0123", shipping: "020 7946 0958" })).phone).toBe(
      "+14155552671",
    );
    expect(defaultPhone(orderWithPhones({ customer: "(613) 555-0123", shipping: "+44 20 7946 0958" })).phone).toBe("+16135550123");
  });

  it("passes over a number that does not normalise to a later one that does", () => {
    expect(defaultPhone(orderWithPhones({ order: "555-555-SHIP", billing: "(415) 555-2671" })).phone).toBe("+14155552671");
  });

  it("leaves the phone out with a warning naming the numbers when none normalise (the sample order)", () => {
    const result = defaultPhone(fixture("orders_fulfilled.derived.json"));
    expect(result.phone).toBeUndefined();
    expect(result.warning).toContain("555-555-SHIP");
    expect(result.warning).toContain("E.164");
  });

  it("gives neither phone nor warning when the order has no phone at all", () => {
    expect(defaultPhone(orderWithPhones({ order: "", customer: "  " }))).toEqual({});
  });
});

describe("orderCountry", () => {
  it("falls back from shipping to billing to the customer's default address", () => {
    const order = fixture("orders_fulfilled.derived.json");
    expect(orderCountry(order)).toBe("US");
    delete order.shipping_address;
    objectAt(order, "billing_address").country_code = "GB";
    expect(orderCountry(order)).toBe("GB");
    delete order.billing_address;
    expect(orderCountry(order)).toBe("CA");
    expect(orderCountry(null)).toBeUndefined();
  });
});

describe("defaultEmail", () => {
  it("uses the order email, then contact_email, then the customer's", () => {
    const order = fixture("orders_fulfilled.derived.json");
    order.email = "order@example.com";
    order.contact_email = "contact@example.com";
    expect(defaultEmail(order)).toBe("order@example.com");
    order.email = "";
    expect(defaultEmail(order)).toBe("contact@example.com");
    order.contact_email = null;
    expect(defaultEmail(order)).toBe("john@example.com");
  });

  it("does not count empty strings as an email", () => {
    const order = fixture("orders_fulfilled.derived.json");
    order.email = " ";
    order.contact_email = "";
    objectAt(order, "customer").email = "";
    expect(defaultEmail(order)).toBeUndefined();
  });
});

describe("customer id", () => {
  it("takes the exact digits from admin_graphql_api_id rather than the rounded numeric id", () => {
    const order = fixture("orders_fulfilled.derived.json");
    expect(objectAt(order, "customer").id).toBe("115310627314723950");
    expect(defaultClientUserId(order)).toBe("115310627314723954");
  });

  it("falls back to an exact id, and never to a JS number that may have been rounded", () => {
    expect(customerIdOf({ id: "115310627314723954" })).toBe("115310627314723954");
    expect(customerIdOf({ id: 207119551 })).toBe("207119551");
    expect(customerIdOf({ id: 115310627314723950 })).toBeUndefined();
    expect(customerIdOf({ admin_graphql_api_id: "gid://shopify/Order/1" })).toBeUndefined();
    expect(customerIdOf(null)).toBeUndefined();
  });
});

describe("resolveDefaultIdentity", () => {
  it("finds nothing on a refund body, which has no customer", () => {
    const identity = resolveDefaultIdentity(fixture("refunds_create.json"));
    expect(identity).toEqual({ warnings: [] });
  });

  it("finds email and customer id on the order, with the phone warning", () => {
    const identity = resolveDefaultIdentity(fixture("orders_fulfilled.derived.json"));
    expect(identity.email).toBe("jon@example.com");
    expect(identity.clientUserId).toBe("115310627314723954");
    expect(identity.phone).toBeUndefined();
    expect(identity.warnings).toHaveLength(1);
  });
});
