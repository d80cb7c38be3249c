/**
 * customers/redact naming thousands of orders (a customer with a long history) erases all of
 * them, through the production server: before, 997 or more order ids made one statement with
 * more parameters than SQLite allows, the webhook answered 503 forever and the customer was
 * never erased. Run on SQLite and on PostgreSQL (TEST_DATABASE=postgresql).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { ensureShop } from "~/models/Shop.server";
import { REDACTED_BODY } from "~/webhooks/compliance.server";
import { TEST_SHOP, webhookHeaders } from "../support/webhooks";
import { startProductionServer, type RunningServer } from "./production-server";

const ORDERS = 5_000;
const EMAIL = "long-history@example.com";
const orderId = (i: number) => String(820_000_000_000 + i);

let app: RunningServer;

beforeAll(async () => {
  app = await startProductionServer();
  await ensureShop(db(), TEST_SHOP);
  const mapping = await db().mapping.findFirstOrThrow({ where: { shop: TEST_SHOP } });
  // One more order than named, of another customer: it must stay as it is.
  for (let start = 0; start <= ORDERS; start += 100) {
    const indexes = Array.from({ length: Math.min(100, ORDERS + 1 - start) }, (_, k) => start + k);
    const other = (i: number) => i === ORDERS;
    await db().webhook.createMany({
      data: indexes.map((i) => ({
        id: `wh${i}`,
        shop: TEST_SHOP,
        topic: "orders/fulfilled",
        eventKey: `gid://shopify/Order/${orderId(i)}`,
        webhookId: `webhook-${i}`,
        apiVersion: "2026-10",
        orderId: orderId(i),
        body: JSON.stringify({ id: Number(orderId(i)), email: other(i) ? "someone-else@example.com" : EMAIL }),
      })),
    });
    await db().delivery.createMany({
      data: indexes.map((i) => ({
        id: `d${i}`,
        shop: TEST_SHOP,
        webhookRecordId: `wh${i}`,
        mappingId: mapping.id,
        topic: "orders/fulfilled",
        eventType: "Order Fulfilled",
        externalEventId: `event-${i}`,
        status: "delivered",
        request: `{"user":{"email":"${other(i) ? "someone-else@example.com" : EMAIL}"}}`,
        response: '{"ok":true}',
        email: other(i) ? "someone-else@example.com" : EMAIL,
        orderName: `#${i}`,
      })),
    });
    await db().deliveryAttempt.createMany({
      data: indexes.map((i) => ({ deliveryId: `d${i}`, number: 1, startedAt: new Date(), durationMs: 5, outcome: "delivered", response: '{"ok":true}' })),
    });
  }
}, 120_000);

afterAll(async () => {
  await app.close();
});

describe(`customers/redact naming ${ORDERS} orders`, () => {
  it("is answered 200 and erases every one of them, and nothing of another customer", async () => {
    const body = JSON.stringify({
      shop_id: 954889,
      shop_domain: TEST_SHOP,
      customer: { id: 191167, email: EMAIL, phone: "555-625-1199" },
      orders_to_redact: Array.from({ length: ORDERS }, (_, i) => Number(orderId(i))),
    });
    const response = await fetch(`${app.origin}/webhooks/compliance`, {
      method: "POST",
      headers: webhookHeaders({ topic: "customers/redact", body }),
      body,
    });
    expect({ status: response.status, text: await response.text() }).toEqual({ status: 200, text: "" });

    expect(await db().webhook.count({ where: { shop: TEST_SHOP, orderId: { not: null }, body: { not: REDACTED_BODY } } })).toBe(1);
    expect(await db().webhook.count({ where: { body: REDACTED_BODY } })).toBe(ORDERS);
    expect(await db().delivery.count({ where: { OR: [{ email: { not: null } }, { request: { not: null } }, { response: { not: null } }, { orderName: { not: null } }] } })).toBe(1);
    expect(await db().deliveryAttempt.count({ where: { response: { not: null } } })).toBe(1);
    const kept = await db().delivery.findUniqueOrThrow({ where: { id: `d${ORDERS}` } });
    expect(kept.email).toBe("someone-else@example.com");
    const everything = JSON.stringify(await db().delivery.findMany({ select: { request: true, email: true } }));
    expect(everything).not.toContain(EMAIL);
  }, 60_000);
});
