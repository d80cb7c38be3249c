/**
 * A shop ahead of its pace is claimed for again as soon as half of its queue has gone (decision 036), not when the
 * worker's estimate of its pace says: that estimate counts every delivery in hand as a paced send, and a delivery that
 * is skipped (its mapping's condition is false) takes no turn. Before, a shop whose events were mostly skipped ran
 * dry long before the estimate, and a history backfill was sent at 80/s of the 120/s it may use.
 *
 * The order lookup is held until the worker is seen waiting on the shop (its debug log), so the estimate is taken
 * while every claimed delivery is still unsent; at one send a second it is then 28 s.
 */
import pino from "pino";
import { beforeEach, describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { PACE_QUEUE_DEPTH, startDeliveryWorker } from "~/delivery/worker.server";
import type { OrderLookup } from "~/shopify/order-lookup.server";
import { loadOrderId, loadRefundId, refundBody, waitUntil } from "../support/load";
import { postWebhook, usePipeline, workerOptions } from "../support/pipeline";
import { TEST_SHOP } from "../support/webhooks";

const REFUNDS = 40;

describe("a paced shop whose events are skipped", () => {
  const pipeline = usePipeline();

  beforeEach(async () => {
    await db().mapping.updateMany({ where: { shop: TEST_SHOP }, data: { enabled: false } });
    // Every refund is skipped: the condition is false once the refund's order is found.
    await db().mapping.updateMany({ where: { shop: TEST_SHOP, topic: "refunds/create" }, data: { enabled: true, when: "false" } });
    for (let i = 0; i < REFUNDS; i++) {
      expect((await postWebhook({ topic: "refunds/create", body: refundBody(loadRefundId(i), loadOrderId(i)) })).status).toBe(200);
    }
  });

  it("is claimed for again when its queue drains, not when its pace would have sent it", async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let lookups = 0;
    const orderLookup: OrderLookup = async (_shop, orderId) => {
      lookups++;
      await released;
      return { kind: "found", order: { id: Number(orderId), email: "buyer@example.com", name: `#${orderId.slice(-4)}` }, source: "webhook" };
    };
    let sawPaceWait!: (ms: number) => void;
    const paceWait = new Promise<number>((resolve) => (sawPaceWait = resolve));
    const logger = pino(
      { level: "debug" },
      {
        write(line: string) {
          const entry = JSON.parse(line) as { msg?: string; shops?: string[]; ms?: number };
          if (entry.msg === "delivery worker waits for shops ahead of their pace" && entry.shops?.includes(TEST_SHOP)) {
            sawPaceWait(entry.ms ?? 0);
          }
        },
      },
    );
    // One send a second, and no idle poll to cut the wait short: by its estimate the worker would wait 28 s for the
    // shop's 32 claimed deliveries to drain to 4.
    const worker = startDeliveryWorker({ ...workerOptions(pipeline.standIn), orderLookup, logger, rateLimitPerSecond: 1, idlePollMs: 60_000 });
    try {
      const estimate = await paceWait;
      // The first claim took half the lanes' worth of the shop (32); its estimate is for all but PACE_QUEUE_DEPTH / 2.
      expect(estimate).toBeGreaterThan(20_000);
      expect(estimate).toBeLessThanOrEqual((32 - PACE_QUEUE_DEPTH / 2) * 1_000);
      expect(lookups).toBeLessThan(REFUNDS);
      release();
      await waitUntil("every refund skipped", async () => (await db().delivery.count({ where: { shop: TEST_SHOP, status: "skipped" } })) === REFUNDS, 15_000);
    } finally {
      release();
      await worker.stop();
    }
    // Every refund was looked up, so the rest were claimed after the first claim's queue drained; each was skipped for
    // its condition (not for some other reason that would also leave it unsent), and nothing reached Attentive.
    expect(lookups).toBe(REFUNDS);
    const skipped = await db().delivery.findMany({ where: { shop: TEST_SHOP }, select: { status: true, lastError: true } });
    expect(skipped).toHaveLength(REFUNDS);
    for (const delivery of skipped) expect(delivery.lastError).toMatch(/^The condition "false" is false for this/);
    expect(pipeline.standIn.received).toHaveLength(0);
  });
});
