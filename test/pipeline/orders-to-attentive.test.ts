import { describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { externalEventId } from "~/delivery/external-event-id";
import { replaceMappings } from "~/models/Mapping.server";
import { drain, postWebhook, TEST_ATTENTIVE_KEY, usePipeline, workerOptions } from "../support/pipeline";
import { fixtureText, signedWebhookRequest, TEST_SHOP } from "../support/webhooks";

const fulfilledOrder = fixtureText("orders_fulfilled.derived.json");
const order = JSON.parse(fulfilledOrder) as {
  email: string;
  name: string;
  admin_graphql_api_id: string;
  fulfillments: Array<{ created_at: string }>;
};


const pipeline = usePipeline();

describe("orders/fulfilled to Attentive", () => {
  it("answers 200, records one delivery for the default mapping and sends it once", async () => {
    const response = await postWebhook({ topic: "orders/fulfilled", body: fulfilledOrder });
    expect(response.status).toBe(200);

    const deliveries = await db().delivery.findMany();
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject({ status: "pending", eventType: "Order Fulfilled", topic: "orders/fulfilled" });
    expect(pipeline.standIn.received).toHaveLength(0); // nothing is sent inside the webhook request

    await drain(workerOptions(pipeline.standIn));

    const [sent] = pipeline.standIn.received;
    expect(pipeline.standIn.received).toHaveLength(1);
    expect(sent!.apiKey).toBe(TEST_ATTENTIVE_KEY);
    expect(sent!.input.type).toBe("Order Fulfilled");
    expect(sent!.input.user.email).toBe(order.email);
    expect(new Date(sent!.input.occurredAt!).toISOString()).toBe(new Date(order.fulfillments[0]!.created_at).toISOString());
    const mapping = await db().mapping.findFirstOrThrow({ where: { topic: "orders/fulfilled" } });
    expect(sent!.input.externalEventId).toBe(
      externalEventId({ shop: TEST_SHOP, topic: "orders/fulfilled", eventKey: order.admin_graphql_api_id, mappingId: mapping.id }),
    );

    const delivered = await db().delivery.findFirstOrThrow();
    expect(delivered).toMatchObject({ status: "delivered", attempts: 1, orderName: order.name, lastError: null });
    expect(JSON.parse(delivered.request!)).toMatchObject({ variables: { input: { externalEventId: sent!.input.externalEventId } } });
    expect(delivered.request).not.toContain(TEST_ATTENTIVE_KEY);
    expect(await db().deliveryAttempt.count({ where: { deliveryId: delivered.id } })).toBe(1);
  });

  it("sends text in any script exactly as Shopify sent it", async () => {
    // The claim hands the worker each body as its UTF-8 bytes (claim-sql.ts); what reaches Attentive is the text.
    const name = "Zoë 配達 🚚 \u00e9\u0301";
    const body = JSON.parse(fulfilledOrder) as { customer: { first_name: string } };
    body.customer.first_name = name;
    expect((await postWebhook({ topic: "orders/fulfilled", body: JSON.stringify(body) })).status).toBe(200);
    await drain(workerOptions(pipeline.standIn));
    expect(pipeline.standIn.received).toHaveLength(1);
    expect(pipeline.standIn.received[0]!.properties).toMatchObject({ firstName: name });
  });

  it("sends typed properties from a merchant's mapping", async () => {
    await replaceMappings(db(), TEST_SHOP, [
      {
        topic: "orders/fulfilled",
        eventType: "Order Shipped",
        enabled: true,
        when: "total_price > 0",
        properties: {
          orderName: "{{ name }}",
          total: "{{ total_price | plus: 0 }}",
          items: "{{ line_items | map: 'title' }}",
          test: "{{ test }}",
          summary: "{{ name }} for {{ total_price }}",
        },
        user: { email: "{{ email }}" },
      },
    ]);
    expect((await postWebhook({ topic: "orders/fulfilled", body: fulfilledOrder })).status).toBe(200);
    await drain(workerOptions(pipeline.standIn));

    const body = JSON.parse(fulfilledOrder) as { name: string; total_price: string; line_items: Array<{ title: string }>; test: boolean };
    expect(pipeline.standIn.received).toHaveLength(1);
    expect(pipeline.standIn.received[0]!.input.type).toBe("Order Shipped");
    expect(pipeline.standIn.received[0]!.properties).toEqual({
      orderName: body.name,
      total: Number(body.total_price),
      items: body.line_items.map((item) => item.title),
      test: body.test,
      summary: `${body.name} for ${body.total_price}`,
    });
  });

  it("skips, with the rule, an event whose condition is false", async () => {
    await replaceMappings(db(), TEST_SHOP, [
      { topic: "orders/fulfilled", eventType: "Big Order Shipped", enabled: true, when: "total_price > 100000", properties: {} },
    ]);
    await postWebhook({ topic: "orders/fulfilled", body: fulfilledOrder });
    await drain(workerOptions(pipeline.standIn));
    expect(pipeline.standIn.received).toHaveLength(0);
    const delivery = await db().delivery.findFirstOrThrow();
    expect(delivery.status).toBe("skipped");
    expect(delivery.lastError).toContain("total_price > 100000");
  });

  it("makes one delivery per enabled mapping and none for a disabled one", async () => {
    await replaceMappings(db(), TEST_SHOP, [
      { topic: "orders/fulfilled", eventType: "Order Shipped", enabled: true, properties: { n: "{{ name }}" } },
      { topic: "orders/fulfilled", eventType: "Order Shipped VIP", enabled: true, properties: {} },
      { topic: "orders/fulfilled", eventType: "Off", enabled: false, properties: {} },
      { topic: "refunds/create", eventType: "Refunded", enabled: true, properties: {} },
    ]);
    await postWebhook({ topic: "orders/fulfilled", body: fulfilledOrder });
    await drain(workerOptions(pipeline.standIn));
    expect(pipeline.standIn.received.map((event) => event.input.type).sort()).toEqual(["Order Shipped", "Order Shipped VIP"]);
    const ids = new Set(pipeline.standIn.received.map((event) => event.input.externalEventId));
    expect(ids.size).toBe(2);
  });
});

describe("duplicates", () => {
  it("records a redelivered event once and sends it once, however it arrives", async () => {
    const eventId = "evt-duplicate-1";
    const first = await postWebhook({ topic: "orders/fulfilled", body: fulfilledOrder, eventId, webhookId: "wh-1" });
    // Shopify retrying the same delivery, and the same event under a new webhook id, concurrently.
    const again = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        postWebhook({ topic: "orders/fulfilled", body: fulfilledOrder, eventId: i % 2 ? eventId : `evt-${i}`, webhookId: `wh-${i % 2}` }),
      ),
    );
    expect([first, ...again].map((response) => response.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(await db().webhook.count()).toBe(1);
    expect(await db().delivery.count()).toBe(1);

    await drain(workerOptions(pipeline.standIn));
    await postWebhook({ topic: "orders/fulfilled", body: fulfilledOrder, eventId, webhookId: "wh-1" }); // hours later
    await drain(workerOptions(pipeline.standIn));
    expect(pipeline.standIn.received).toHaveLength(1);
  });
});

describe("authentication", () => {
  it("answers 401 to a bad HMAC and records nothing", async () => {
    const response = await postWebhook({ topic: "orders/fulfilled", body: fulfilledOrder, hmac: "bm90IHRoZSByaWdodCBobWFj" });
    expect(response.status).toBe(401);
    const wrongSecret = await postWebhook({ topic: "orders/fulfilled", body: fulfilledOrder, secret: "another-app-secret" });
    expect(wrongSecret.status).toBe(401);
    expect(await db().webhook.count()).toBe(0);
  });

  it("answers 400 when Shopify's headers are missing", async () => {
    const response = await postWebhook({ topic: "orders/fulfilled", body: fulfilledOrder, hmac: null });
    expect(response.status).toBe(400);
    const noTopic = await postWebhook(
      signedWebhookRequest({ topic: "orders/fulfilled", body: fulfilledOrder, omitHeaders: ["x-shopify-topic"] }),
    );
    expect(noTopic.status).toBe(400);
    expect(await db().webhook.count()).toBe(0);
  });

  it("answers 413 to a body over the limit without recording it", async () => {
    const huge = JSON.stringify({ ...JSON.parse(fulfilledOrder), note: "x".repeat(3 * 1024 * 1024) });
    const response = await postWebhook({ topic: "orders/fulfilled", body: huge });
    expect(response.status).toBe(413);
    expect(await db().webhook.count()).toBe(0);
  });
});

describe("the Attentive API key", () => {
  it("is stored encrypted, with only its last 4 characters in clear", async () => {
    const shop = await db().shop.findUniqueOrThrow({ where: { domain: TEST_SHOP } });
    expect(shop.attentiveKeyCipher).toBeTruthy();
    expect(shop.attentiveKeyCipher).not.toContain(TEST_ATTENTIVE_KEY);
    expect(Buffer.from(shop.attentiveKeyCipher!.split(":").at(-1)!, "base64url").toString("utf8")).not.toContain("attentive");
    expect(shop.attentiveKeyLast4).toBe(TEST_ATTENTIVE_KEY.slice(-4));
  });
});
