import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { startDeliveryWorker } from "~/delivery/worker.server";
import { startAttentiveStandIn, type AttentiveStandIn } from "../stand-ins/attentive";
import { connectTestShop, postWebhook, TEST_ATTENTIVE_KEY, workerOptions } from "../support/pipeline";
import { fixtureWith } from "../support/webhooks";
import { testProvider } from "../support/test-database";

let standIn: AttentiveStandIn;
beforeAll(async () => {
  standIn = await startAttentiveStandIn({ apiKeys: [TEST_ATTENTIVE_KEY], latencyMs: 5, rateLimitPerSecond: 10_000 });
  await connectTestShop();
});
afterAll(() => standIn.close());

describe(`two workers on one ${testProvider()} database`, () => {
  it("never send one delivery twice, and take over one a crashed worker left sending", async () => {
    const orders = 120;
    for (let i = 0; i < orders; i++) {
      const body = fixtureWith("orders_fulfilled.derived.json", (order) => {
        order.id = 5000 + i;
        order.admin_graphql_api_id = `gid://shopify/Order/${5000 + i}`;
      });
      expect((await postWebhook({ topic: "orders/fulfilled", body })).status).toBe(200);
    }
    // A worker that died mid-send: its lease is in the past.
    const orphan = await db().delivery.findFirstOrThrow();
    await db().delivery.update({
      where: { id: orphan.id },
      data: { status: "sending", leaseOwner: "worker-that-crashed", leaseExpiresAt: new Date(Date.now() - 1_000), attempts: 1 },
    });

    // A generous Attentive timeout: on a busy machine a 1 s one expires on the loopback and the
    // event is sent again (legitimately, same externalEventId), which is not what this test is about.
    const base = workerOptions(standIn);
    const options = { ...base, attentive: { ...base.attentive, timeoutMs: 15_000 }, leaseMs: 60_000, batchSize: 10, concurrency: 4, idlePollMs: 20 };
    const workers = [1, 2].map(() => startDeliveryWorker(options));
    const deadline = Date.now() + 20_000;
    while ((await db().delivery.count({ where: { status: "delivered" } })) < orders && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await Promise.all(workers.map((worker) => worker.stop()));

    const ids = standIn.received.map((event) => event.input.externalEventId);
    expect(ids).toHaveLength(orders);
    expect(new Set(ids).size).toBe(orders);
    expect(await db().delivery.count({ where: { status: "delivered" } })).toBe(orders);
    const taken = await db().delivery.findUniqueOrThrow({ where: { id: orphan.id } });
    expect(taken.status).toBe("delivered");
    expect(taken.attempts).toBe(2);
  });
});
