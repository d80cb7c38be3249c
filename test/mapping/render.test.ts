import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { renderMapping, warmRenderPool, type RenderContextInput, type RenderOutcome, type RenderedEvent } from "~/mapping/render.server";
import type { MappingDefinition } from "~/mapping/types";
import { isJsonObject, parseShopifyJson, type JsonValue } from "~/shopify/json";
import { specExampleMapping } from "../support/mappings";

type JsonObject = { [key: string]: JsonValue };

function fixtureText(name: string): string {
  return readFileSync(new URL(`../fixtures/shopify/${name}`, import.meta.url), "utf8");
}

function parseObject(text: string): JsonObject {
  const value = parseShopifyJson(text);
  if (!isJsonObject(value)) throw new Error("fixture is not a JSON object");
  return value;
}

const fixture = (name: string) => parseObject(fixtureText(name));
const derivedOrder = () => fixture("orders_fulfilled.derived.json");

function objectAt(value: JsonObject, key: string): JsonObject {
  const inner = value[key];
  if (!isJsonObject(inner)) throw new Error(`${key} is not an object`);
  return inner;
}

function mapping(properties: Record<string, string>, extra: Partial<MappingDefinition> = {}): MappingDefinition {
  return { topic: "orders/fulfilled", eventType: "Order Shipped", enabled: true, properties, ...extra };
}

function orderInput(body: JsonValue = derivedOrder()): RenderContextInput {
  return { topic: "orders/fulfilled", shop: "jsmith.myshopify.com", body };
}

function eventOf(outcome: RenderOutcome): RenderedEvent {
  if (outcome.kind !== "event") throw new Error(`expected an event, got ${outcome.kind}: ${outcome.reason}`);
  return outcome.event;
}

function errorOf(outcome: RenderOutcome): string {
  if (outcome.kind !== "error") throw new Error(`expected an error, got ${outcome.kind}`);
  return outcome.reason;
}

async function property(template: string, body: JsonValue = derivedOrder()): Promise<unknown> {
  return eventOf(await renderMapping(mapping({ value: template }), orderInput(body))).properties.value;
}

// Render threads start on first use, which takes seconds on a busy machine: not part of any one test's time.
beforeAll(() => warmRenderPool(), 120_000);

describe("the spec's example mapping on the derived fulfilled order", () => {
  const example: MappingDefinition = specExampleMapping();

  it("renders typed properties and the user from the templates", async () => {
    const event = eventOf(await renderMapping(example, orderInput()));
    expect(event).toEqual({
      type: "Order Shipped",
      properties: {
        orderName: "#9999",
        total: 404.95,
        items: ["Aviator sunglasses", "Lens Protection Plan (2 Year)", "Premium Leather Case", "Mid-century lounger", "Coffee table"],
      },
      // The order's phone is null, so the explicit phone template renders empty and no phone is sent.
      user: { email: "jon@example.com", externalIdentifiers: { clientUserId: "115310627314723950" } },
      warnings: [],
    });
  });
});

describe("value types", () => {
  it("keeps a number from a single output", async () => {
    expect(await property("{{ total_price | plus: 0 }}")).toBe(404.95);
    expect(await property("{{ order_number }}")).toBe(1234);
  });

  it("keeps a list, an object and a boolean from a single output", async () => {
    expect(await property("{{ line_items | map: 'sku' }}")).toEqual(["SKU2006-001", "LENS-PROTECT-2YR", "CASE-LEATHER-PREM", "SKU2006-020", "SKU2006-035"]);
    expect(await property("{{ shipping_address }}")).toMatchObject({ city: "Shippington", country_code: "US" });
    expect(await property("{{ buyer_accepts_marketing }}")).toBe(true);
    expect(await property("{{ taxes_included }}")).toBe(false);
  });

  it("ignores blank text around a single output", async () => {
    expect(await property("  {{ order_number }}\n")).toBe(1234);
  });

  it("renders mixed text, several outputs and tags to a string", async () => {
    expect(await property("Order {{ name }}")).toBe("Order #9999");
    expect(await property("{{ order_number }}{{ order_number }}")).toBe("12341234");
    expect(await property("{% if true %}{{ order_number }}{% endif %}")).toBe("1234");
    expect(await property("{{ line_items | map: 'title' | join: ', ' }}")).toContain("Aviator sunglasses, Lens");
  });

  it("turns a missing or null value into an empty string, as Liquid prints it", async () => {
    expect(await property("{{ note }}")).toBe("");
    expect(await property("{{ no_such_field.deeper }}")).toBe("");
  });

  it("prints dates in the offset Shopify sent, not the server's zone", async () => {
    expect(await property("{{ fulfillments.last.created_at | date: '%Y-%m-%d %H:%M' }}")).toBe("2022-01-03 10:15");
  });

  it("offers shop and topic next to the body's fields", async () => {
    expect(await property("{{ shop }} {{ topic }}")).toBe("jsmith.myshopify.com orders/fulfilled");
  });
});

describe("exact ids", () => {
  /** The sample prints rounded ids; put back the exact digits its admin_graphql_api_id strings carry. */
  function exactOrder(): JsonObject {
    const text = fixtureText("orders_fulfilled.derived.json")
      .replace('"id": 820982911946154500,', '"id": 820982911946154508,')
      .replace('"id": 115310627314723950,', '"id": 115310627314723954,');
    return parseObject(text);
  }

  it("renders {{ id }} with every digit", async () => {
    const order = exactOrder();
    expect(order.admin_graphql_api_id).toBe("gid://shopify/Order/820982911946154508");
    expect(await property("{{ id }}", order)).toBe("820982911946154508");
    expect(await property("Order id {{ id }}", order)).toBe("Order id 820982911946154508");
  });

  it("sends the customer id from admin_graphql_api_id, by default and from {{ customer.id }}", async () => {
    const byDefault = eventOf(await renderMapping(mapping({}), orderInput(exactOrder())));
    expect(byDefault.user.externalIdentifiers).toEqual({ clientUserId: "115310627314723954" });
    const explicit = eventOf(await renderMapping(mapping({}, { user: { clientUserId: "{{ customer.id }}" } }), orderInput(exactOrder())));
    expect(explicit.user.externalIdentifiers).toEqual({ clientUserId: "115310627314723954" });
  });

  it("prefers admin_graphql_api_id even when the numeric id was rounded", async () => {
    const event = eventOf(await renderMapping(mapping({}), orderInput(derivedOrder())));
    expect(event.user.externalIdentifiers?.clientUserId).toBe("115310627314723954");
  });
});

describe("when", () => {
  it("sends the event when the condition holds", async () => {
    expect((await renderMapping(mapping({ n: "{{ name }}" }, { when: "total_price > 0 and fulfillment_status == 'fulfilled'" }), orderInput())).kind).toBe("event");
  });

  it("skips with a reason naming the condition when it does not", async () => {
    const outcome = await renderMapping(mapping({ n: "{{ name }}" }, { when: "fulfillments.size > 1" }), orderInput());
    expect(outcome.kind).toBe("skipped");
    expect(outcome.kind === "skipped" && outcome.reason).toContain('"fulfillments.size > 1"');
  });

  it("is false on the sample cancelled order for a fulfilled-only condition", async () => {
    const outcome = await renderMapping(mapping({}, { when: "fulfillment_status == 'fulfilled'" }), orderInput(fixture("orders_fulfilled.json")));
    expect(outcome.kind).toBe("skipped");
  });

  it("reports a broken condition as an error naming it", async () => {
    const reason = errorOf(await renderMapping(mapping({}, { when: "total_price ===" }), orderInput()));
    expect(reason).toContain('The condition "when"');
  });

  it("skips a disabled mapping", async () => {
    expect((await renderMapping(mapping({}, { enabled: false }), orderInput())).kind).toBe("skipped");
  });
});

describe("user", () => {
  function withPhones(order: JsonObject, phone: string | null): JsonObject {
    objectAt(order, "shipping_address").phone = phone;
    objectAt(order, "billing_address").phone = phone;
    return order;
  }

  it("normalises a national default phone to E.164 with the address country", async () => {
    const event = eventOf(await renderMapping(mapping({}), orderInput(withPhones(derivedOrder(), "(415) 555-2671"))));
    expect(event.user.phone).toBe("+14155552671");
    expect(event.warnings).toEqual([]);
  });

  it("normalises an explicit phone template the same way", async () => {
    const order = derivedOrder();
    order.note = "613 555 0123";
    objectAt(order, "shipping_address").country_code = "CA";
    const event = eventOf(await renderMapping(mapping({}, { user: { phone: "{{ note }}" } }), orderInput(order)));
    expect(event.user.phone).toBe("+16135550123");
  });

  it("leaves out a phone that cannot be normalised, with a warning", async () => {
    const event = eventOf(await renderMapping(mapping({}), orderInput(derivedOrder())));
    expect(event.user.phone).toBeUndefined();
    expect(event.warnings.join(" ")).toContain("555-555-SHIP");
    const explicit = eventOf(await renderMapping(mapping({}, { user: { phone: "call me" } }), orderInput()));
    expect(explicit.user.phone).toBeUndefined();
    expect(explicit.warnings.join(" ")).toContain('"call me"');
  });

  it("uses defaults for the fields a partial user leaves out", async () => {
    const event = eventOf(await renderMapping(mapping({}, { user: { email: "{{ customer.email }}" } }), orderInput()));
    expect(event.user).toEqual({ email: "john@example.com", externalIdentifiers: { clientUserId: "115310627314723954" } });
  });

  it("leaves out an explicit email that is not an address, with a warning", async () => {
    const event = eventOf(await renderMapping(mapping({}, { user: { email: "{{ name }}" } }), orderInput()));
    expect(event.user.email).toBeUndefined();
    expect(event.warnings.join(" ")).toContain('"#9999"');
  });

  it("takes refund defaults from the refunded order", async () => {
    const refundMapping: MappingDefinition = { topic: "refunds/create", eventType: "Order Refunded", enabled: true, properties: { orderName: "{{ order.name }}", note: "{{ note }}" } };
    const event = eventOf(
      await renderMapping(refundMapping, { topic: "refunds/create", shop: "s", body: fixture("refunds_create.json"), order: withPhones(derivedOrder(), "(415) 555-2671") }),
    );
    expect(event.properties).toEqual({ orderName: "#9999", note: "Things were damaged" });
    expect(event.user).toEqual({ email: "jon@example.com", phone: "+14155552671", externalIdentifiers: { clientUserId: "115310627314723954" } });
  });

  it("fails a refund without its order, since the refund names no customer", async () => {
    const refundMapping: MappingDefinition = { topic: "refunds/create", eventType: "Order Refunded", enabled: true, properties: { note: "{{ note }}" } };
    const reason = errorOf(await renderMapping(refundMapping, { topic: "refunds/create", shop: "s", body: fixture("refunds_create.json"), order: null }));
    expect(reason).toContain("No email, phone or customer id for this refund: Attentive needs at least one.");
  });

  it("fails when the order has no identifier at all", async () => {
    const order = withPhones(derivedOrder(), null);
    order.email = "";
    order.contact_email = null;
    delete order.customer;
    const reason = errorOf(await renderMapping(mapping({ n: "{{ name }}" }), orderInput(order)));
    expect(reason).toContain("No email, phone or customer id for this order: Attentive needs at least one.");
    expect(reason).toContain("user.email");
  });

  it("fails when explicit templates render nothing, since empty strings are not identifiers", async () => {
    const reason = errorOf(await renderMapping(mapping({}, { user: { email: "{{ nothing }}", phone: " ", clientUserId: "{{ missing }}" } }), orderInput()));
    expect(reason).toContain("No email, phone or customer id");
  });
});

describe("warnings", () => {
  it("warns about a URL longer than 1,024 characters, naming the property", async () => {
    const order = derivedOrder();
    order.order_status_url = `https://example.com/${"a".repeat(1100)}`;
    const event = eventOf(await renderMapping(mapping({ statusUrl: "{{ order_status_url }}", links: "{{ order_status_url | split: ' ' }}" }), orderInput(order)));
    expect(event.properties.statusUrl).toBe(order.order_status_url);
    expect(event.warnings.filter((w) => w.includes("longer than 1024"))).toHaveLength(2);
    expect(event.warnings.join(" ")).toContain('Property "statusUrl"');
  });

  it("does not warn about a URL of exactly 1,024 characters or long plain text", async () => {
    const order = derivedOrder();
    order.order_status_url = `https://example.com/${"a".repeat(1024 - "https://example.com/".length)}`;
    order.note = "a".repeat(2000);
    const event = eventOf(await renderMapping(mapping({ statusUrl: "{{ order_status_url }}", note: "{{ note }}" }), orderInput(order)));
    expect(event.warnings.filter((w) => w.includes("URL"))).toEqual([]);
  });
});

describe("render errors", () => {
  it("names the property whose template fails", async () => {
    const reason = errorOf(await renderMapping(mapping({ ok: "{{ name }}", ratio: "{{ total_price | divided_by: 0 }}" }), orderInput()));
    expect(reason).toMatch(/^Property "ratio" could not be rendered: /);
  });

  it("reports an unvalidated template that does not parse", async () => {
    const reason = errorOf(await renderMapping(mapping({ total: "{{ total_price | money }}" }), orderInput()));
    expect(reason).toContain('Property "total"');
    expect(reason).toContain("undefined filter: money");
  });

  it("names a failing user template", async () => {
    expect(errorOf(await renderMapping(mapping({}, { user: { email: "{{ email | nope }}" } }), orderInput()))).toContain('user "email"');
  });

  it("refuses file tags", async () => {
    expect(errorOf(await renderMapping(mapping({ p: "{% include 'app/db.server.ts' %}" }), orderInput()))).toContain("not available in mappings");
  });

  it("rejects an event type Attentive would refuse", async () => {
    expect(errorOf(await renderMapping(mapping({}, { eventType: "Order [Shipped]" }), orderInput()))).toContain("opening bracket");
  });
});

describe("hostile templates end with an error instead of hanging", () => {
  const hostile: Record<string, string> = {
    "a huge range": "{% for i in (1..100000000) %}x{% endfor %}",
    "deeply nested loops": "{% for a in (1..1000) %}{% for b in (1..1000) %}{% for c in (1..1000) %}x{% endfor %}{% endfor %}{% endfor %}",
    "nested loops over the body": `${"{% for a in line_items %}".repeat(12)}x${"{% endfor %}".repeat(12)}`,
    "huge output": "{% for i in (1..500000) %}xxxxxxxxxxxxxxxxxxxx{% endfor %}",
    "doubling text": "{% assign s = 'xxxxxxxxxx' %}{% for i in (1..60) %}{% assign s = s | append: s %}{% endfor %}{{ s | size }}",
    "a huge capture": "{% capture c %}{% for a in (1..5000) %}{% for b in (1..5000) %}y{% endfor %}{% endfor %}{% endcapture %}{{ c | size }}",
    "a huge joined range": "{{ (1..100000000) | join: ',' }}",
  };

  for (const [name, template] of Object.entries(hostile)) {
    it(name, async () => {
      const reason = errorOf(await renderMapping(mapping({ evil: template }), orderInput()));
      expect(reason).toMatch(/^Property "evil" could not be rendered: /);
    });
  }

  it("stops loops that allocate nothing and print nothing by the time limit", async () => {
    const silent = `${"{% for a in line_items %}".repeat(12)}${"{% endfor %}".repeat(12)}`;
    expect(errorOf(await renderMapping(mapping({ evil: silent }), orderInput()))).toContain("took longer than");
  });

  it("stops a range too large to build by the memory limit, before looping", async () => {
    const huge = "{% for i in (1..100000000) %}{% endfor %}";
    expect(errorOf(await renderMapping(mapping({ evil: huge }), orderInput()))).toContain("too much data");
  });

  it("stops output past the size limit, from a loop or from one filter", async () => {
    // Few iterations of long text: passes the output limit long before the time limit, even on a busy machine.
    const loud = `{% for i in (1..5000) %}${"x".repeat(100)}{% endfor %}`;
    expect(errorOf(await renderMapping(mapping({ evil: loud }), orderInput()))).toContain("printed more than 100,000 characters");
    const joined = "{{ (1..30000) | join: 'xxxxxxx' }}";
    expect(errorOf(await renderMapping(mapping({ evil: joined }), orderInput()))).toContain("printed more than 100,000 characters");
  });

  it("in the condition too", async () => {
    const outcome = await renderMapping(mapping({}, { when: "(1..100000000) contains 5" }), orderInput());
    expect(errorOf(outcome)).toContain('The condition "when"');
  });

  it("shares one budget across a mapping's properties", async () => {
    const slow = "{% for a in (1..300) %}{% for b in (1..300) %}y{% endfor %}{% endfor %}";
    const properties = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`p${i}`, `${slow}{{ ${i} }}`]));
    expect((await renderMapping(mapping(properties), orderInput())).kind).toBe("error");
  });
});

describe("isolation", () => {
  it("does not let one property's assign change another's variables", async () => {
    const event = eventOf(await renderMapping(mapping({ first: "{% assign name = 'changed' %}{{ name }}", second: "{{ name }}" }), orderInput()));
    expect(event.properties).toEqual({ first: "changed", second: "#9999" });
  });

  it("does not change the webhook body", async () => {
    const body = derivedOrder();
    const before = JSON.stringify(body);
    const event = eventOf(
      await renderMapping(
        mapping({
          reversed: "{{ line_items | reverse | map: 'title' }}",
          sorted: "{% assign s = line_items | sort: 'title' %}{{ s | map: 'title' | join: ',' }}",
          counter: "{% increment name %}{% increment name %}",
          pushed: "{{ tags | split: ', ' | push: 'x' | join: '+' }}",
        }),
        orderInput(body),
      ),
    );
    expect(event.properties.reversed).toEqual(["Coffee table", "Mid-century lounger", "Premium Leather Case", "Lens Protection Plan (2 Year)", "Aviator sunglasses"]);
    expect(JSON.stringify(body)).toBe(before);
  });

  it("hides JavaScript internals of the data", async () => {
    expect(await property("{{ customer.constructor }}{{ line_items.__proto__ }}{{ customer.hasOwnProperty }}")).toBe("");
  });
});
