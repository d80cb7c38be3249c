/**
 * Who an event is about, pinned where a mistake texts the wrong person or no one: a phone read in the wrong
 * country, an identifier taken from the wrong field, a blank or malformed value counted as one.
 */
import { describe, expect, it } from "vitest";
import { customerIdOf, defaultEmail, defaultPhone, looksLikeEmail, normalizePhone, orderCountry, phoneWarning, resolveDefaultIdentity } from "~/mapping/identity";
import type { JsonValue } from "~/shopify/json";

describe("normalizePhone and its cache", () => {
  it("reads the same national text in each caller's country, whatever was asked before", () => {
    // 0412 345 678 is an Australian mobile and not a valid number in the US or the UK.
    expect(normalizePhone("0412 345 678", "AU")).toBe("+61412345678");
    expect(normalizePhone("0412 345 678", "US")).toBeNull();
    expect(normalizePhone("0412 345 678", "AU")).toBe("+61412345678");
    expect(normalizePhone("0412 345 678")).toBeNull();
    expect(normalizePhone("(415) 555-2671", "US")).toBe("+14155552671");
    expect(normalizePhone("020 7946 0958", "GB")).toBe("+442079460958");
    expect(normalizePhone("020 7946 0958", "US")).toBeNull();
    expect(normalizePhone("(415) 555-2671")).toBeNull();
    expect(normalizePhone("(415) 555-2671", "US")).toBe("+14155552671");
  });

  it("gives each text its own answer", () => {
    expect(normalizePhone("+14155552671")).toBe("+14155552671");
    expect(normalizePhone("+442079460958")).toBe("+442079460958");
    expect(normalizePhone("+14155552671")).toBe("+14155552671");
  });

  it("trims the number and the country, and reads the country in any case", () => {
    expect(normalizePhone("  (415) 555-2671\t", " us ")).toBe("+14155552671");
    expect(normalizePhone("(415) 555-2671", "Us")).toBe("+14155552671");
    expect(normalizePhone("", "US")).toBeNull();
  });

  it("answers the same after more numbers than the cache holds", () => {
    for (let n = 0; n < 1_100; n++) normalizePhone(`+1415555${String(n).padStart(4, "0")}`);
    expect(normalizePhone("0412 345 678", "AU")).toBe("+61412345678");
    expect(normalizePhone("+14155550000")).toBe(normalizePhone("(415) 555-0000", "US"));
  });
});

describe("orderCountry", () => {
  it("reads a usable country code in any case, passing over blank and unknown ones", () => {
    expect(orderCountry({ shipping_address: { country_code: " gb " } })).toBe("GB");
    expect(orderCountry({ shipping_address: { country_code: "" }, billing_address: { country_code: "ZZ" }, customer: { default_address: { country_code: "au" } } })).toBe("AU");
    expect(orderCountry({ shipping_address: { country_code: 44 }, billing_address: { country_code: "ca" } })).toBe("CA");
    expect(orderCountry({ shipping_address: null, billing_address: "US" })).toBeUndefined();
    expect(orderCountry(null)).toBeUndefined();
    expect(orderCountry(undefined)).toBeUndefined();
    expect(orderCountry([{ shipping_address: { country_code: "US" } }])).toBeUndefined();
  });

  it("reads only the order's own fields", () => {
    const inherited = Object.create({ shipping_address: { country_code: "US" } }) as JsonValue;
    expect(orderCountry(inherited)).toBeUndefined();
  });
});

describe("defaultEmail", () => {
  it("takes the first field that holds an address, trimmed: order email, contact_email, customer email", () => {
    expect(defaultEmail({ email: " a@shop.example ", contact_email: "b@shop.example", customer: { email: "c@shop.example" } })).toBe("a@shop.example");
    expect(defaultEmail({ email: "not an address", contact_email: "b@shop.example", customer: { email: "c@shop.example" } })).toBe("b@shop.example");
    expect(defaultEmail({ email: null, contact_email: "", customer: { email: "c@shop.example" } })).toBe("c@shop.example");
    expect(defaultEmail({ email: 1, customer: { email: "nope" } })).toBeUndefined();
  });
});

describe("looksLikeEmail", () => {
  it("accepts ordinary addresses", () => {
    for (const email of ["jon@example.com", "jon.snow+orders@mail.example.co.uk", "j@e.io"]) expect(looksLikeEmail(email), email).toBe(true);
  });

  it("refuses text that is plainly not an address", () => {
    for (const email of ["jon", "jon@example", "@example.com", "jon@", "jon@@example.com", "jon doe@example.com", "jon@exa mple.com", "jon@example.", "jon@example.com extra", "x jon@example.com"]) {
      expect(looksLikeEmail(email), email).toBe(false);
    }
  });
});

describe("defaultPhone", () => {
  it("reads the order and customer phones in the order's country, and each address phone in its own", () => {
    expect(defaultPhone({ phone: "0412 345 678", shipping_address: { country_code: "AU" } })).toEqual({ phone: "+61412345678" });
    expect(defaultPhone({ customer: { phone: "0412 345 678" }, billing_address: { country_code: "AU" } })).toEqual({ phone: "+61412345678" });
    expect(defaultPhone({ shipping_address: { phone: "0412 345 678", country_code: "AU" }, billing_address: { country_code: "US" } })).toEqual({
      phone: "+61412345678",
    });
    expect(defaultPhone({ shipping_address: { country_code: "US" }, billing_address: { phone: "0412 345 678", country_code: "AU" } })).toEqual({
      phone: "+61412345678",
    });
    expect(defaultPhone({ shipping_address: { country_code: "AU" }, billing_address: { phone: "0412 345 678", country_code: "XX" } })).toEqual({
      phone: "+61412345678",
    });
  });

  it("names every number it could not read, in the order it tried them", () => {
    const order = {
      phone: "123",
      customer: { phone: " 456 " },
      shipping_address: { phone: "789", country_code: "US" },
      billing_address: { phone: "000", country_code: "US" },
    };
    expect(defaultPhone(order)).toEqual({
      warning: phoneWarning('order phone "123", customer phone "456", shipping address phone "789", billing address phone "000"'),
    });
  });

  it("says in plain words what was left out and what to check", () => {
    expect(phoneWarning('order phone "123"')).toBe(
      'The phone number was left out: order phone "123" could not be read as a full international number (E.164, like +14155552671). Check the number and its country in Shopify.',
    );
  });

  it("ignores blank and non-text phones without a warning", () => {
    expect(defaultPhone({ phone: "  ", customer: { phone: 14155552671 }, shipping_address: { phone: null } })).toEqual({});
    expect(defaultPhone(null)).toEqual({});
  });
});

describe("customerIdOf", () => {
  it("prefers the digits of the customer's GraphQL id", () => {
    expect(customerIdOf({ admin_graphql_api_id: " gid://shopify/Customer/115310627314723954 ", id: 1 })).toBe("115310627314723954");
  });

  it("falls back to the id when the GraphQL id is not exactly a customer's", () => {
    for (const gid of ["gid://shopify/Order/5", "gid://shopify/Customer/5x", "xgid://shopify/Customer/5", "gid://shopify/Customer/", "", 5]) {
      expect(customerIdOf({ admin_graphql_api_id: gid, id: 7 }), String(gid)).toBe("7");
    }
  });

  it("takes an id of digits as text, trimmed, or a safe positive integer", () => {
    expect(customerIdOf({ id: " 115310627314723954 " })).toBe("115310627314723954");
    expect(customerIdOf({ id: 42 })).toBe("42");
    expect(customerIdOf({ id: 1 })).toBe("1");
    for (const id of ["", "12a", "a12", "-5", 0, -3, 1.5, 2 ** 60, null, true]) {
      expect(customerIdOf({ id }), String(id)).toBeUndefined();
    }
  });

  it("is undefined for a missing or non-object customer", () => {
    expect(customerIdOf(undefined)).toBeUndefined();
    expect(customerIdOf(null)).toBeUndefined();
    expect(customerIdOf("115310627314723954")).toBeUndefined();
  });
});

describe("resolveDefaultIdentity", () => {
  it("gathers every identifier the order has", () => {
    const order = { email: "jon@example.com", phone: "+14155552671", customer: { id: 42 } };
    expect(resolveDefaultIdentity(order)).toEqual({ email: "jon@example.com", phone: "+14155552671", clientUserId: "42", warnings: [] });
  });

  it("leaves out what the order does not have, and keeps the phone warning", () => {
    expect(resolveDefaultIdentity({ phone: "123" })).toEqual({ warnings: [phoneWarning('order phone "123"')] });
    expect(Object.keys(resolveDefaultIdentity({}))).toEqual(["warnings"]);
  });
});
