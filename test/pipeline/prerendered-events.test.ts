/**
 * Events rendered when the webhook is received (decision 054), from the commerce route's receive step to Attentive:
 * the first send uses the stored event while its mapping is unchanged, renders again when it has changed, sends what
 * a render at send time would have sent, and keeps nothing of the customer once sent or redacted.
 */
import { describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { env } from "~/env.server";
import { defaultMappings } from "~/mapping/defaults";
import { replaceMappings } from "~/models/Mapping.server";
import { verifyShopifyWebhook } from "~/shopify/webhook-hmac.server";
import { REDACTED_BODY } from "~/webhooks/compliance.server";
import { loadEnabledMappings, MappingsAhead } from "~/webhooks/prerender.server";
import { fetchWebhookRequest, receiveWebhook } from "~/webhooks/receive.server";
import { WEBHOOK_ROUTES } from "~/webhooks/topics";
import { connectTestShop, drain, postWebhook, usePipeline, workerOptions } from "../support/pipeline";
import { fixtureText, fixtureWith, signedWebhookRequest, TEST_SHOP } from "../support/webhooks";

const pipeline = usePipeline();
const OTHER_SHOP = "other-prerender.myshopify.com";

function order(n: number, email = "john@example.com"): string {
  return fixtureWith("orders_fulfilled.derived.json", (body) => {
    body.id = 4_600_000_000 + n;
    body.admin_graphql_api_id = `gid://shopify/Order/${4_600_000_000 + n}`;
    body.name = `#${1000 + n}`;
    body.email = email;
    (body.customer as Record<string, unknown>).email = email;
  });
}

/** Records through the commerce route's receive step, rendering ahead with `ahead` (or not at all). */
async function record(body: string, ahead: MappingsAhead | undefined, shop = TEST_SHOP): Promise<void> {
  const answer = await receiveWebhook(fetchWebhookRequest(signedWebhookRequest({ topic: "orders/fulfilled", body, shop })), {
    route: WEBHOOK_ROUTES.commerce,
    prisma: db(),
    authenticate: verifyShopifyWebhook(env().SHOPIFY_API_SECRET),
    ...(ahead ? { prerender: ahead } : {}),
  });
  expect(answer.status).toBe(200);
}

/** A renderer that has read the shops' mappings of orders/fulfilled as they are now. */
async function readyAhead(...shops: string[]): Promise<MappingsAhead> {
  const ahead = new MappingsAhead(loadEnabledMappings(db()));
  for (const shop of shops) ahead.events(shop, "orders/fulfilled", {}, 2);
  await ahead.whenRead();
  return ahead;
}

async function labelMapping(label: string) {
  const [mapping] = await replaceMappings(db(), TEST_SHOP, [
    { topic: "orders/fulfilled", eventType: "Order Shipped", enabled: true, properties: { label: `{{ name }} ${label}` } },
  ]);
  return mapping!;
}

describe("an order's event rendered when its webhook was received", () => {
  it("is what the first send sends, and is cleared by its outcome", async () => {
    await labelMapping("v1");
    await record(order(1), await readyAhead(TEST_SHOP));

    const delivery = await db().delivery.findFirstOrThrow();
    const stored = JSON.parse(delivery.prerendered ?? "null") as { kind: string; event: { properties: Record<string, unknown> } };
    expect(stored).toMatchObject({ kind: "event", event: { type: "Order Shipped", properties: { label: "#1001 v1" } } });
    // Changed where only the stored event would show it: the send must take it from here, not from the body.
    stored.event.properties.label = "from the stored event";
    await db().delivery.update({ where: { id: delivery.id }, data: { prerendered: JSON.stringify(stored) } });

    await drain(workerOptions(pipeline.standIn));
    expect(pipeline.standIn.received.map((event) => event.input.properties)).toEqual([{ label: "from the stored event" }]);
    expect(await db().delivery.findFirstOrThrow()).toMatchObject({ status: "delivered", orderName: "#1001", prerendered: null });
  });

  it("is not used once the mapping has changed: the send renders with the mapping as it is", async () => {
    const mapping = await labelMapping("v1");
    await record(order(2), await readyAhead(TEST_SHOP));
    expect((await db().delivery.findFirstOrThrow()).prerendered).toContain("#1002 v1");

    // updatedAt kept as it was: the change is seen in the templates themselves.
    const { updatedAt } = await db().mapping.findUniqueOrThrow({ where: { id: mapping.id } });
    await db().mapping.update({ where: { id: mapping.id }, data: { properties: JSON.stringify({ label: "{{ name }} v2" }), updatedAt } });
    await drain(workerOptions(pipeline.standIn));
    expect(pipeline.standIn.received.map((event) => event.input.properties)).toEqual([{ label: "#1002 v2" }]);
  });

  it("sends exactly what rendering at send time sends, with the default mappings", async () => {
    await connectTestShop(OTHER_SHOP);
    const ahead = await readyAhead(TEST_SHOP, OTHER_SHOP);
    // The same order to two shops with the same default mappings: one rendered ahead, the other at send time.
    await record(order(3), ahead, TEST_SHOP);
    await record(order(3), undefined, OTHER_SHOP);
    const recorded = await db().delivery.findMany({ select: { shop: true, mappingId: true, prerendered: true } });
    expect(recorded.filter((row) => row.shop === TEST_SHOP && row.prerendered !== null)).toHaveLength(recorded.filter((row) => row.shop === TEST_SHOP).length);
    expect(recorded.filter((row) => row.shop === OTHER_SHOP && row.prerendered !== null)).toHaveLength(0);
    expect(defaultMappings().filter((mapping) => mapping.topic === "orders/fulfilled").length).toBeGreaterThan(0);

    await drain(workerOptions(pipeline.standIn));
    const requests = await db().delivery.findMany({ select: { shop: true, eventType: true, request: true, externalEventId: true, status: true } });
    const byShop = (shop: string) =>
      requests
        .filter((row) => row.shop === shop)
        .map((row) => ({ eventType: row.eventType, status: row.status, request: row.request?.replace(row.externalEventId, "<id>") }))
        .sort((a, b) => a.eventType.localeCompare(b.eventType));
    expect(byShop(TEST_SHOP).length).toBeGreaterThan(0);
    expect(byShop(TEST_SHOP)).toEqual(byShop(OTHER_SHOP));
  });

  it("is erased with the customer's other data by customers/redact before it is sent", async () => {
    await labelMapping("v1");
    await record(order(299938 - 4_600_000_000), await readyAhead(TEST_SHOP));
    expect((await db().delivery.findFirstOrThrow()).prerendered).toContain("john@example.com");

    const redact = fixtureText("customers_redact.json").replace("{shop}.myshopify.com", TEST_SHOP);
    expect((await postWebhook({ topic: "customers/redact", body: redact })).status).toBe(200);
    const redacted = await db().webhook.findFirstOrThrow({ include: { deliveries: true } });
    expect(redacted.body).toBe(REDACTED_BODY);
    expect(redacted.deliveries[0]?.prerendered).toBeNull();
  });
});
