import { Session } from "@shopify/shopify-api";
import { describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { REDACTED_BODY } from "~/webhooks/compliance.server";
import { sessionStorage } from "~/shopify.server";
import { drain, postWebhook, usePipeline, workerOptions } from "../support/pipeline";
import { fixtureText, fixtureWith, TEST_SHOP } from "../support/webhooks";

const pipeline = usePipeline();

const order = (id: number, email: string) =>
  fixtureWith("orders_fulfilled.derived.json", (body) => {
    body.id = id;
    body.admin_graphql_api_id = `gid://shopify/Order/${id}`;
    body.email = email;
    body.contact_email = email;
    (body.customer as Record<string, unknown>).email = email;
  });

describe("app/uninstalled", () => {
  it("removes the shop's sessions and skips what was waiting, with the reason", async () => {
    await sessionStorage.storeSession(
      new Session({ id: `offline_${TEST_SHOP}`, shop: TEST_SHOP, state: "s", isOnline: false, accessToken: "shpat_x" }),
    );
    await postWebhook({ topic: "orders/fulfilled", body: order(1, "a@example.com") });
    const response = await postWebhook({ topic: "app/uninstalled", body: fixtureText("app_uninstalled.json") });
    expect(response.status).toBe(200);
    expect(await db().session.count({ where: { shop: TEST_SHOP } })).toBe(0);

    await drain(workerOptions(pipeline.standIn));
    const delivery = await db().delivery.findFirstOrThrow();
    expect(delivery.status).toBe("skipped");
    expect(delivery.lastError).toMatch(/uninstalled/);
    expect(pipeline.standIn.received).toHaveLength(0);
  });
});

describe("app/scopes_update", () => {
  // The payload as Shopify's changelog for the topic shows it (no published sample file exists for it).
  const scopesUpdate = (previous: string[], current: string[]) => JSON.stringify({ id: 1234, previous, current, updated_at: "2026-01-05T10:00:00.000Z" });

  async function storeSession(id: string, shop: string, isOnline: boolean) {
    await sessionStorage.storeSession(new Session({ id, shop, state: "s", isOnline, accessToken: `shpat_${id}`, scope: "read_orders" }));
  }

  it("records the current scopes on the shop's sessions, granted or revoked, and only that shop's", async () => {
    await storeSession(`offline_${TEST_SHOP}`, TEST_SHOP, false);
    await storeSession(`${TEST_SHOP}_42`, TEST_SHOP, true);
    await storeSession("offline_other-shop.myshopify.com", "other-shop.myshopify.com", false);

    const granted = await postWebhook({ topic: "app/scopes_update", body: scopesUpdate(["read_orders"], ["read_orders", "read_fulfillments"]) });
    expect(granted.status).toBe(200);
    expect((await sessionStorage.loadSession(`offline_${TEST_SHOP}`))?.scope).toBe("read_orders,read_fulfillments");
    expect((await sessionStorage.loadSession(`${TEST_SHOP}_42`))?.scope).toBe("read_orders,read_fulfillments");
    expect((await sessionStorage.loadSession("offline_other-shop.myshopify.com"))?.scope).toBe("read_orders");

    const revoked = await postWebhook({ topic: "app/scopes_update", body: scopesUpdate(["read_orders", "read_fulfillments"], ["read_orders"]) });
    expect(revoked.status).toBe(200);
    expect((await sessionStorage.loadSession(`offline_${TEST_SHOP}`))?.scope).toBe("read_orders");
  });

  it("answers 200 and changes nothing when the body has no list of current scopes", async () => {
    await storeSession(`offline_${TEST_SHOP}`, TEST_SHOP, false);
    const response = await postWebhook({ topic: "app/scopes_update", body: JSON.stringify({ id: 1, previous: ["read_orders"], current: "read_orders,read_returns" }) });
    expect(response.status).toBe(200);
    expect((await sessionStorage.loadSession(`offline_${TEST_SHOP}`))?.scope).toBe("read_orders");
  });
});

describe("customers/redact", () => {
  it("erases the customer's order bodies, requests and log fields, and nothing of other customers", async () => {
    await postWebhook({ topic: "orders/fulfilled", body: order(299938, "john@example.com") });
    await postWebhook({ topic: "orders/fulfilled", body: order(777, "other@example.com") });
    await drain(workerOptions(pipeline.standIn));

    const redact = fixtureText("customers_redact.json").replace("{shop}.myshopify.com", TEST_SHOP);
    expect((await postWebhook({ topic: "customers/redact", body: redact })).status).toBe(200);

    const redacted = await db().webhook.findFirstOrThrow({ where: { orderId: "299938" }, include: { deliveries: true } });
    expect(redacted.body).toBe(REDACTED_BODY);
    expect(redacted.deliveries[0]).toMatchObject({ request: null, response: null, email: null, orderName: null });
    const everything = JSON.stringify(await db().webhook.findMany({ include: { deliveries: { include: { attemptLog: true } } } }));
    expect(everything).not.toContain("john@example.com");
    expect(everything).toContain("other@example.com");
  });
});

describe("shop/redact", () => {
  it("erases everything the app holds for the shop", async () => {
    await postWebhook({ topic: "orders/fulfilled", body: order(1, "a@example.com") });
    await drain(workerOptions(pipeline.standIn));
    const redact = fixtureText("shop_redact.json").replace("{shop}.myshopify.com", TEST_SHOP);
    expect((await postWebhook({ topic: "shop/redact", body: redact })).status).toBe(200);
    for (const count of [
      db().webhook.count({ where: { shop: TEST_SHOP } }),
      db().delivery.count({ where: { shop: TEST_SHOP } }),
      db().deliveryAttempt.count(),
      db().mapping.count({ where: { shop: TEST_SHOP } }),
      db().session.count({ where: { shop: TEST_SHOP } }),
      db().shop.count({ where: { domain: TEST_SHOP } }),
    ]) {
      expect(await count).toBe(0);
    }
  });
});

describe("customers/data_request", () => {
  it("is recorded for the merchant to answer", async () => {
    const request = fixtureText("customers_data_request.json").replace("{shop}.myshopify.com", TEST_SHOP);
    expect((await postWebhook({ topic: "customers/data_request", body: request })).status).toBe(200);
    const recorded = await db().webhook.findFirstOrThrow({ where: { topic: "customers/data_request" } });
    expect(JSON.parse(recorded.body)).toMatchObject({ data_request: { id: 9999 } });
  });
});

describe("a database that cannot record", () => {
  it("answers 503 so that Shopify delivers again, instead of 200", async () => {
    const schema = new URL(process.env.DATABASE_URL!.replace(/^file:/, "file://")).searchParams.get("schema");
    const table = (name: string) => (schema ? `"${schema}"."${name}"` : `"${name}"`);
    await db().$executeRawUnsafe(`DROP TABLE ${table("DeliveryAttempt")}`);
    await db().$executeRawUnsafe(`DROP TABLE ${table("Delivery")}`);
    const response = await postWebhook({ topic: "orders/fulfilled", body: order(2, "b@example.com") });
    expect(response.status).toBe(503);
    expect(await db().webhook.count()).toBe(0);
  });
});
