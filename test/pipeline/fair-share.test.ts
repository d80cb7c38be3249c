/**
 * One shop's backlog does not hold up another shop's events (docs/decisions/022), on the test file's real database
 * (SQLite, or PostgreSQL with TEST_DATABASE=postgresql): a claim takes at most `perShopLimit` deliveries of one shop,
 * and the worker claims none of a shop whose deliveries already queue for its pace.
 */
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { database, db } from "~/db.server";
import { closeDriver, openDriver } from "~/db/driver.server";
import { openClaimStore } from "~/delivery/claim-store.server";
import { startDeliveryWorker } from "~/delivery/worker.server";
import { ensureShop } from "~/models/Shop.server";
import { loadOrderId, orderBody, waitUntil } from "../support/load";
import { queuedDelivery } from "../support/queued-deliveries";
import { connectTestShop, postWebhook, usePipeline, workerOptions } from "../support/pipeline";
import { TEST_SHOP } from "../support/webhooks";

const BUSY = "busy-shop.myshopify.com";
const QUIET = "quiet-shop.myshopify.com";

describe("the claim's share per shop", () => {
  const driver = openDriver(database().target);
  const store = openClaimStore(driver);
  afterAll(async () => {
    await store.drain();
    await closeDriver(driver);
  });
  const now = new Date("2026-11-30T12:00:00.000Z");
  const due = (shop: string, secondsAgo: number) => queuedDelivery(shop, { nextAttemptAt: new Date(now.getTime() - secondsAgo * 1000) });

  beforeEach(async () => {
    await db().delivery.deleteMany();
    await db().webhook.deleteMany();
    await ensureShop(db(), BUSY);
    await ensureShop(db(), QUIET);
  });

  it("takes at most perShopLimit of one shop, then the next shop's, earliest due first", async () => {
    // Within the candidates a claim reads (twice its limit when a shop's share is capped).
    const busy = [];
    for (let i = 0; i < 8; i++) busy.push(await due(BUSY, 100 - i));
    const quiet = [await due(QUIET, 50), await due(QUIET, 40)];

    const claimed = await store.claim({ workerId: "w", limit: 6, perShopLimit: 3, leaseMs: 60_000, now, excludeShops: [] });
    expect(claimed.map((row) => row.id)).toEqual([...busy.slice(0, 3), ...quiet].map((row) => row.id));

    // Without a share, the claim is earliest due first whatever the shop.
    const next = await store.claim({ workerId: "w", limit: 4, leaseMs: 60_000, now, excludeShops: [] });
    expect(next.map((row) => row.id)).toEqual(busy.slice(3, 7).map((row) => row.id));
  });

  it("skips a shop it is told to leave alone, however much of it is due first", async () => {
    for (let i = 0; i < 30; i++) await due(BUSY, 100 - i);
    const quiet = await due(QUIET, 1);
    const claimed = await store.claim({ workerId: "w", limit: 5, perShopLimit: 5, leaseMs: 60_000, now, excludeShops: [BUSY] });
    expect(claimed.map((row) => row.id)).toEqual([quiet.id]);
  });
});

describe("a worker with one shop's backlog", () => {
  const pipeline = usePipeline({ apiKeys: ["attentive-test-key-0001", "attentive-quiet-key"], latencyMs: 2 });

  beforeEach(async () => {
    await connectTestShop(QUIET, "attentive-quiet-key");
  });

  it("sends another shop's event among the first of the backlog, not after it", async () => {
    const backlog = 120;
    for (let i = 0; i < backlog; i++) {
      expect((await postWebhook({ topic: "orders/fulfilled", body: orderBody(loadOrderId(i)) })).status).toBe(200);
    }
    // Recorded after the whole backlog, so due after every delivery in it.
    expect((await postWebhook({ topic: "orders/fulfilled", shop: QUIET, body: orderBody(loadOrderId(backlog)) })).status).toBe(200);
    const quiet = await db().delivery.findFirstOrThrow({ where: { shop: QUIET } });

    // The backlog's shop is paced at 40 sends a second: its 120 take three seconds; the quiet shop's needs none of that.
    const base = workerOptions(pipeline.standIn);
    const worker = startDeliveryWorker({ ...base, attentive: { ...base.attentive, timeoutMs: 15_000 }, leaseMs: 60_000, rateLimitPerSecond: 40 });
    try {
      await waitUntil("the quiet shop's event delivered", async () => (await db().delivery.findUniqueOrThrow({ where: { id: quiet.id } })).status === "delivered", 20_000);
    } finally {
      await worker.stop();
    }
    const order = pipeline.standIn.received.map((event) => event.input.externalEventId);
    const position = order.indexOf(quiet.externalEventId);
    expect(position).toBeGreaterThanOrEqual(0);
    // The first claim takes half of the lanes (32) of the backlog's shop; the next leaves that shop alone while
    // 8 or more of its deliveries wait unsent. Before, the quiet shop's event came after all 120.
    expect(position).toBeLessThan(40);
    expect(await db().delivery.count({ where: { shop: TEST_SHOP, status: "delivered" } })).toBeLessThan(backlog);
  });
});
