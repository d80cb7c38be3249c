/**
 * Promise 3: duplicates and order, beyond test/pipeline: redeliveries racing a running worker
 * and arriving after delivery, a refund before its order webhook (with and without access to
 * the Admin API), and two refunds of one order arriving together.
 */
import { Session } from "@shopify/shopify-api";
import { beforeEach, describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { processDueDeliveries, startDeliveryWorker } from "~/delivery/worker.server";
import { retryDeliveries } from "~/models/Delivery.server";
import { sessionStorage } from "~/shopify.server";
import { fakeAdminApi as admin } from "../stand-ins/shopify-admin";
import { loadRefundId, orderBody, refundBody, waitUntil } from "../support/load";
import { drain, postWebhook, usePipeline, workerOptions } from "../support/pipeline";
import { TEST_SHOP } from "../support/webhooks";

const pipeline = usePipeline();
const ORDER_ID = "9007199254745001";

beforeEach(() => {
  admin.reset();
  admin.answer({
    RefundOrderIdentity: (variables) => ({
      body: {
        data: {
          order:
            variables.id === `gid://shopify/Order/${ORDER_ID}`
              ? { id: variables.id, legacyResourceId: ORDER_ID, name: "#5001", email: "admin-api@example.com", customer: null }
              : null,
        },
      },
    }),
  });
});

async function storeOfflineSession() {
  await sessionStorage.storeSession(new Session({ id: `offline_${TEST_SHOP}`, shop: TEST_SHOP, state: "s", isOnline: false, accessToken: "shpat_dup" }));
}

describe("the same event, many times", () => {
  it("is sent once when redeliveries race a running worker and come again after delivery", async () => {
    const worker = startDeliveryWorker(workerOptions(pipeline.standIn, { idlePollMs: 5 }));
    try {
      const body = orderBody(ORDER_ID);
      // Shopify's retry of one delivery (same webhook id) and the same event under new webhook ids.
      const answers = await Promise.all(
        Array.from({ length: 12 }, (_, i) => postWebhook({ topic: "orders/fulfilled", body, webhookId: `wh-${i % 3}`, eventId: `ev-${i % 2}` })),
      );
      expect(answers.map((answer) => answer.status)).toEqual(Array(12).fill(200));
      await waitUntil("delivery", async () => (await db().delivery.count({ where: { status: "delivered" } })) === 1, 30_000, 10);
      for (let i = 0; i < 3; i++) expect((await postWebhook({ topic: "orders/fulfilled", body, webhookId: `late-${i}` })).status).toBe(200);
      // Rather than sleep and hope the running worker had its chance: one explicit pass sends
      // anything the late redeliveries may have made due.
      await processDueDeliveries(workerOptions(pipeline.standIn));
    } finally {
      await worker.stop();
    }
    expect(await db().webhook.count()).toBe(1);
    expect(pipeline.standIn.received).toHaveLength(1);
  });
});

describe("a refund before its order webhook", () => {
  it("without Admin API access: fails with a reason, and a retry after the order arrives sends it once", async () => {
    expect((await postWebhook({ topic: "refunds/create", body: refundBody(loadRefundId(1), ORDER_ID) })).status).toBe(200);
    await drain(workerOptions(pipeline.standIn));
    const refund = await db().delivery.findFirstOrThrow({ where: { topic: "refunds/create" } });
    expect(refund.status).toBe("failed");
    expect(refund.lastError).toMatch(/offline session|reinstall/i);

    expect((await postWebhook({ topic: "orders/fulfilled", body: orderBody(ORDER_ID) })).status).toBe(200);
    expect(await retryDeliveries(db(), TEST_SHOP, { id: refund.id })).toBe(1);
    await drain(workerOptions(pipeline.standIn));
    const types = pipeline.standIn.received.map((event) => event.input.type).sort();
    expect(types).toEqual(["Order Fulfilled", "Order Refunded"]);
    const refunded = pipeline.standIn.received.find((event) => event.input.type === "Order Refunded")!;
    expect(refunded.input.externalEventId).toBe(refund.externalEventId);
    expect(refunded.input.user.email).toBe("jon@example.com"); // the order webhook's
  });

  it("with Admin API access: sent at once from the Admin API's order, and not again when the order webhook arrives", async () => {
    await storeOfflineSession();
    expect((await postWebhook({ topic: "refunds/create", body: refundBody(loadRefundId(2), ORDER_ID) })).status).toBe(200);
    await drain(workerOptions(pipeline.standIn));
    expect(pipeline.standIn.received.map((event) => event.input.user.email)).toEqual(["admin-api@example.com"]);
    expect((await postWebhook({ topic: "orders/fulfilled", body: orderBody(ORDER_ID) })).status).toBe(200);
    await drain(workerOptions(pipeline.standIn));
    expect(pipeline.standIn.received.map((event) => event.input.type)).toEqual(["Order Refunded", "Order Fulfilled"]);
    expect(admin.unexpected).toEqual([]);
  });
});

describe("two refunds of one order", () => {
  it("arriving together, each twice, are two events", async () => {
    await postWebhook({ topic: "orders/fulfilled", body: orderBody(ORDER_ID) });
    const first = refundBody(loadRefundId(3), ORDER_ID);
    const second = refundBody(loadRefundId(4), ORDER_ID);
    const answers = await Promise.all([first, second, first, second].map((body) => postWebhook({ topic: "refunds/create", body })));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
    await drain(workerOptions(pipeline.standIn));
    const refunds = pipeline.standIn.received.filter((event) => event.input.type === "Order Refunded");
    expect(refunds).toHaveLength(2);
    expect(new Set(refunds.map((event) => event.input.externalEventId)).size).toBe(2);
  });
});
