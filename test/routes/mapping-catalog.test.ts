/**
 * The Mappings page's catalog section and access scopes, through its loader and action with signed session tokens
 * against the real database: what the catalog offers a shop, "Add" (once, within the shop's limit, for the session's
 * shop only), which mappings wait for a scope the shop has not granted, and the refresh after a grant, which trusts
 * Shopify's Admin API (the fake in test/stand-ins/shopify-admin.ts), not the browser.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { catalogMappings, defaultMappings } from "~/mapping/defaults";
import { MAX_MAPPINGS_PER_SHOP } from "~/mapping/limits";
import type { MappingDefinition } from "~/mapping/types";
import { replaceMappings } from "~/models/Mapping.server";
import { ensureShop } from "~/models/Shop.server";
import * as mappings from "~/routes/app.mappings._index";
import { sessionStorage } from "~/shopify.server";
import { LIFECYCLE_STAGES } from "~/topics/meta";
import { adminRequest, call, storeOfflineSession } from "../support/admin-requests";
import { fakeAdminApi as admin } from "../stand-ins/shopify-admin";
import { TEST_SHOP } from "../support/webhooks";

const OTHER_SHOP = "other-shop.myshopify.com";

interface LoaderData {
  mappings: Array<{ id: string; topic: string; eventType: string; enabled: boolean; waitsForAccessTo: string | null }>;
  catalog: Array<{ stage: string; label: string; offers: Array<{ topic: string; eventType: string; when: string | null; waitsForAccessTo: string | null }> }>;
  scopeWaits: Array<{ scope: string; requestable: boolean; topics: string[]; message: string }>;
}

beforeEach(async () => {
  admin.reset();
  await db().mapping.deleteMany();
  await db().shop.deleteMany();
  await db().session.deleteMany();
  await storeOfflineSession(TEST_SHOP);
  await storeOfflineSession(OTHER_SHOP);
  // Both start as a new shop does: with the catalog's enabled mappings.
  await ensureShop(db(), TEST_SHOP);
  await ensureShop(db(), OTHER_SHOP);
});

async function load(shop = TEST_SHOP): Promise<LoaderData> {
  const result = await call(mappings.loader, await adminRequest(shop, "/app/mappings"));
  expect(result.status).toBe(200);
  return result.body as LoaderData;
}

async function post(form: Record<string, string>, shop = TEST_SHOP) {
  return call(mappings.action, await adminRequest(shop, "/app/mappings", { form }));
}

async function mappingsOf(shop: string) {
  return db().mapping.findMany({ where: { shop }, orderBy: { position: "asc" } });
}

function offered(data: LoaderData): Array<[string, string]> {
  return data.catalog.flatMap((group) => group.offers.map((offer): [string, string] => [offer.topic, offer.eventType]));
}

/** What FetchAccessScopes (shopify-app-remix's scopes.query) gets from the Admin API. */
function answerGrantedScopes(granted: string[]) {
  admin.answer({
    FetchAccessScopes: () => ({
      body: {
        data: {
          app: {
            requestedAccessScopes: [{ handle: "read_orders" }],
            optionalAccessScopes: [{ handle: "read_fulfillments" }, { handle: "read_returns" }],
            installation: { accessScopes: granted.map((handle) => ({ handle })) },
          },
        },
      },
    }),
  });
}

describe("the catalog section", () => {
  it("offers every catalog mapping the shop has no mapping of (same topic and event type) for, by stage", async () => {
    const data = await load();
    const have = new Set(defaultMappings().map((mapping) => `${mapping.topic} ${mapping.eventType}`));
    const expected = catalogMappings().filter((mapping) => !have.has(`${mapping.topic} ${mapping.eventType}`));
    expect(offered(data).sort()).toEqual(expected.map((mapping): [string, string] => [mapping.topic, mapping.eventType]).sort());
    // Stages in the order's life, none empty, each offer under its topic's stage.
    const stages = LIFECYCLE_STAGES.map((entry) => entry.stage);
    expect(data.catalog.map((group) => stages.indexOf(group.stage as (typeof stages)[number]))).toEqual(
      [...data.catalog.map((group) => stages.indexOf(group.stage as (typeof stages)[number]))].sort((a, b) => a - b),
    );
    expect(data.catalog.map((group) => group.label)).toEqual(["Placed", "Paid", "Delivered", "Returned"]);
    expect(data.catalog.find((group) => group.stage === "delivered")?.offers[0]).toEqual({
      topic: "fulfillment_events/create",
      eventType: "Order In Transit",
      when: "status == 'in_transit'",
      waitsForAccessTo: "fulfillments",
    });
    expect(data.catalog.find((group) => group.stage === "placed")?.offers).toEqual([
      { topic: "orders/create", eventType: "Order Placed", when: null, waitsForAccessTo: null },
    ]);
  });

  it("offers a default again under the same event type only when the shop has none of that topic and type", async () => {
    // A shop that renamed "Order Cancelled" and moved "Order Refunded" to another topic.
    const custom: MappingDefinition[] = defaultMappings().map((mapping) =>
      mapping.eventType === "Order Cancelled" ? { ...mapping, eventType: "Cancelled" } : mapping.eventType === "Order Refunded" ? { ...mapping, topic: "orders/paid" } : mapping,
    );
    await replaceMappings(db(), TEST_SHOP, custom);
    const offers = offered(await load());
    expect(offers).toContainEqual(["orders/cancelled", "Order Cancelled"]);
    expect(offers).toContainEqual(["refunds/create", "Order Refunded"]);
    expect(offers).not.toContainEqual(["fulfillments/create", "Order Shipped"]);
  });

  it("never changes a shop's mappings by itself: loading the page adds nothing", async () => {
    const custom = [{ topic: "orders/paid", eventType: "Paid", enabled: true, properties: { orderName: "{{ name }}" } }] satisfies MappingDefinition[];
    await replaceMappings(db(), TEST_SHOP, custom);
    const before = await mappingsOf(TEST_SHOP);
    const data = await load();
    await load();
    expect(await mappingsOf(TEST_SHOP)).toEqual(before);
    expect(data.mappings.map((mapping) => mapping.eventType)).toEqual(["Paid"]);
    expect(offered(data)).toHaveLength(catalogMappings().length);
  });
});

describe("Add", () => {
  it("creates the catalog's mapping for the session's shop, turned on, at the end, and stops offering it", async () => {
    const before = await mappingsOf(TEST_SHOP);
    const result = await post({ intent: "add-default", topic: "orders/create", eventType: "Order Placed" });
    expect(result).toMatchObject({ status: 200, body: { ok: true, message: "“Order Placed” added and turned on" } });

    const after = await mappingsOf(TEST_SHOP);
    expect(after).toHaveLength(before.length + 1);
    const added = after.at(-1)!;
    const fromCatalog = catalogMappings().find((mapping) => mapping.eventType === "Order Placed")!;
    expect(added).toMatchObject({ topic: "orders/create", eventType: "Order Placed", enabled: true, when: null, position: before.at(-1)!.position + 1 });
    expect(JSON.parse(added.properties)).toEqual(fromCatalog.properties);

    const data = await load();
    expect(data.mappings.map((mapping) => mapping.eventType)).toContain("Order Placed");
    expect(offered(data)).not.toContainEqual(["orders/create", "Order Placed"]);
    // Another shop's mappings are untouched.
    expect((await mappingsOf(OTHER_SHOP)).map((mapping) => mapping.eventType)).not.toContain("Order Placed");
  });

  it("keeps the offer's condition, and says when the added mapping waits for a scope", async () => {
    const result = await post({ intent: "add-default", topic: "fulfillment_events/create", eventType: "Delivery Failed" });
    expect(result).toMatchObject({ status: 200, body: { ok: true, message: "“Delivery Failed” added and turned on: it waits for access to fulfillments (grant it above)" } });
    expect((await mappingsOf(TEST_SHOP)).at(-1)).toMatchObject({ eventType: "Delivery Failed", when: "status == 'failure'", enabled: true });
  });

  it("adds once: a second click (another tab) is refused and adds nothing", async () => {
    const form = { intent: "add-default", topic: "returns/request", eventType: "Return Requested" };
    const outcomes = await Promise.all([post(form), post(form)]);
    expect(outcomes.map((outcome) => outcome.status).sort()).toEqual([200, 409]);
    expect(outcomes.find((outcome) => outcome.status === 409)?.body).toEqual({ ok: false, message: "“Return Requested” is already one of your mappings (Return requested)." });
    expect((await mappingsOf(TEST_SHOP)).filter((mapping) => mapping.eventType === "Return Requested")).toHaveLength(1);
  });

  it("refuses what the catalog does not offer, and changes nothing", async () => {
    const before = await mappingsOf(TEST_SHOP);
    const forms: Array<Record<string, string>> = [
      { topic: "orders/create", eventType: "Order Exploded" },
      { topic: "orders/exploded", eventType: "Order Placed" },
      // The event type of another topic's default.
      { topic: "orders/create", eventType: "Order Paid" },
      { topic: "orders/create" },
    ];
    for (const form of forms) {
      const result = await post({ intent: "add-default", ...form });
      expect(result).toMatchObject({ status: 400, body: { ok: false, message: "That event is not in the catalog: reload the page and choose it again." } });
    }
    expect(await mappingsOf(TEST_SHOP)).toEqual(before);
  });

  it(`refuses a mapping past MAX_MAPPINGS_PER_SHOP (${MAX_MAPPINGS_PER_SHOP}) with the limit and what to do`, async () => {
    await replaceMappings(
      db(),
      TEST_SHOP,
      Array.from({ length: MAX_MAPPINGS_PER_SHOP }, (_, i) => ({ topic: "orders/paid", eventType: `Event ${i}`, enabled: true, properties: {} })),
    );
    const result = await post({ intent: "add-default", topic: "orders/create", eventType: "Order Placed" });
    expect(result.status).toBe(400);
    expect(result.body).toEqual({
      ok: false,
      message: `Not added: This shop already has ${MAX_MAPPINGS_PER_SHOP} mappings; a shop can have at most ${MAX_MAPPINGS_PER_SHOP} (each one sends an event for every matching order). Delete one you no longer need, or add properties to an existing mapping instead.`,
    });
    expect(await db().mapping.count({ where: { shop: TEST_SHOP } })).toBe(MAX_MAPPINGS_PER_SHOP);
  });
});

describe("access scopes", () => {
  it("lists the enabled mappings' topics waiting for a scope, and marks their rows", async () => {
    const data = await load();
    expect(data.scopeWaits).toEqual([
      {
        scope: "read_fulfillments",
        requestable: true,
        topics: ["fulfillments/create", "fulfillment_events/create"],
        message: "Parcel shipped, Delivery update wait for access to fulfillments",
      },
    ]);
    const marks = Object.fromEntries(data.mappings.map((mapping) => [mapping.eventType, mapping.waitsForAccessTo]));
    expect(marks).toEqual({
      "Order Shipped": "fulfillments",
      "Order Out For Delivery": "fulfillments",
      "Order Delivered": "fulfillments",
      "Order Fulfilled": null,
      "Order Cancelled": null,
      "Order Refunded": null,
    });
  });

  it("reads the offline session's scope column, as app/scopes_update leaves it", async () => {
    await post({ intent: "add-default", topic: "returns/close", eventType: catalogMappings().find((mapping) => mapping.topic === "returns/close")!.eventType });
    await db().session.updateMany({ where: { shop: TEST_SHOP }, data: { scope: "read_orders,read_fulfillments" } });
    const data = await load();
    expect(data.scopeWaits.map((wait) => wait.message)).toEqual(["Return closed waits for access to returns"]);
    expect(data.mappings.filter((mapping) => mapping.waitsForAccessTo !== null).map((mapping) => mapping.topic)).toEqual(["returns/close"]);
  });

  it("after a grant, records the scopes Shopify's Admin API reports, with the shop's offline token", async () => {
    answerGrantedScopes(["read_orders", "read_fulfillments"]);
    const result = await post({ intent: "scopes-granted" });
    expect(result).toMatchObject({ status: 200, body: { ok: true, message: "Access granted" } });
    expect(admin.calls).toEqual([expect.objectContaining({ shop: TEST_SHOP, operationName: "FetchAccessScopes", accessToken: "shpat_test-shop" })]);
    expect(admin.unexpected).toEqual([]);
    expect((await sessionStorage.loadSession(`offline_${TEST_SHOP}`))?.scope).toBe("read_orders,read_fulfillments");
    expect((await sessionStorage.loadSession(`offline_${OTHER_SHOP}`))?.scope).toBe("read_orders");
    const data = await load();
    expect(data.scopeWaits).toEqual([]);
    expect(data.mappings.every((mapping) => mapping.waitsForAccessTo === null)).toBe(true);
  });

  it("when Shopify cannot be asked, says so and records nothing", async () => {
    admin.answer({ FetchAccessScopes: () => ({ status: 500, body: { errors: "Internal error" } }) });
    const result = await post({ intent: "scopes-granted" });
    expect(result).toMatchObject({ status: 503, body: { ok: false, message: expect.stringMatching(/^Shopify could not confirm the new access yet/) } });
    expect((await sessionStorage.loadSession(`offline_${TEST_SHOP}`))?.scope).toBe("read_orders");
    expect((await load()).scopeWaits).toHaveLength(1);
  });

  it("passes on the library's answer to a token Shopify refused (it clears the token; the next request exchanges a new one)", async () => {
    admin.answer({ FetchAccessScopes: () => ({ status: 401, body: { errors: "[API] Invalid API key or access token" } }) });
    const result = await post({ intent: "scopes-granted" });
    expect(result.status).toBe(401);
    expect((await db().session.findFirstOrThrow({ where: { shop: TEST_SHOP, isOnline: false } })).scope).toBe("read_orders");
  });

  it("sends the browser scope names and labels only, never a token", async () => {
    const result = await call(mappings.loader, await adminRequest(TEST_SHOP, "/app/mappings"));
    expect(JSON.stringify(result.body)).not.toMatch(/shpat_/);
  });
});
