/**
 * The worker claims a little ahead of its lanes (decision 025), on the test file's real database: what it claimed and
 * never sent is given back when it stops, pending as before and without the attempt its claim counted, so another
 * worker takes it at once instead of a minute later when its lease runs out; and what waited for a lane while its
 * shop's sending was paused is given back the same way, not sent.
 */
import { describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { PREFETCH_SHARE, startDeliveryWorker } from "~/delivery/worker.server";
import { loadOrderId, orderBody, waitUntil } from "../support/load";
import { postWebhook, usePipeline, workerOptions } from "../support/pipeline";
import { TEST_SHOP } from "../support/webhooks";

describe("a worker's deliveries claimed ahead of its lanes", () => {
  const pipeline = usePipeline();

  it("are sent only from a lane, and go back to the queue unsent when the worker stops", async () => {
    const queued = 6;
    for (let i = 0; i < queued; i++) {
      expect((await postWebhook({ topic: "orders/fulfilled", body: orderBody(loadOrderId(i)) })).status).toBe(200);
    }
    const concurrency = 2;
    const claimedAhead = Math.max(1, Math.floor(concurrency * PREFETCH_SHARE));
    // Every send stalls until the test lets it go: the two lanes stay busy.
    pipeline.standIn.setFaultPlan(() => ({ kind: "hang" }));
    const worker = startDeliveryWorker(workerOptions(pipeline.standIn, { concurrency }));
    let stopped: Promise<void> | undefined;
    try {
      await pipeline.standIn.waitForRequests(concurrency, 10_000);
      // The claim took the lanes' deliveries and one more; only the lanes' were sent.
      expect(await db().delivery.count({ where: { status: "sending" } })).toBe(concurrency + claimedAhead);
      expect(pipeline.standIn.requests).toBe(concurrency);

      stopped = worker.stop();
      pipeline.standIn.setFaultPlan(null);
      pipeline.standIn.dropHanging();
      await stopped;
    } finally {
      if (!stopped) await worker.stop();
    }

    // The lanes' sends failed (connection dropped) and wait for a retry; nothing else was sent, and the delivery
    // claimed ahead is as if never claimed.
    expect(pipeline.standIn.requests).toBe(concurrency);
    const rows = await db().delivery.findMany({ select: { status: true, attempts: true, leaseOwner: true, leaseExpiresAt: true } });
    expect(rows).toHaveLength(queued);
    expect(rows.filter((row) => row.attempts === 1)).toHaveLength(concurrency);
    for (const row of rows) {
      expect(row.status).toBe("pending");
      expect(row.leaseOwner).toBeNull();
      if (row.attempts === 0) expect(row.leaseExpiresAt).toBeNull();
    }
    expect(await db().deliveryAttempt.count()).toBe(concurrency);
  });

  it("are given back unsent when the shop's sending was paused while they waited for a lane", async () => {
    const queued = 6;
    for (let i = 0; i < queued; i++) {
      expect((await postWebhook({ topic: "orders/fulfilled", body: orderBody(loadOrderId(i)) })).status).toBe(200);
    }
    const concurrency = 2;
    pipeline.standIn.setFaultPlan(() => ({ kind: "hang" }));
    // Every delivery taken from those waiting is checked against the pauses again (the default: after a second).
    const worker = startDeliveryWorker(workerOptions(pipeline.standIn, { concurrency, pauseRecheckMs: 0 }));
    try {
      await pipeline.standIn.waitForRequests(concurrency, 10_000);
      expect(await db().delivery.count({ where: { status: "sending" } })).toBe(concurrency + 1);

      await db().shop.update({ where: { domain: TEST_SHOP }, data: { sendingPaused: true } });
      pipeline.standIn.setFaultPlan(null);
      pipeline.standIn.dropHanging();
      // The lanes' sends fail (connection dropped); the delivery that waited is given back, not sent.
      await waitUntil("nothing left sending", async () => (await db().delivery.count({ where: { status: "sending" } })) === 0, 10_000, 20);
    } finally {
      await worker.stop();
    }

    expect(pipeline.standIn.requests).toBe(concurrency);
    const rows = await db().delivery.findMany({ select: { status: true, attempts: true, leaseOwner: true } });
    expect(rows.every((row) => row.status === "pending" && row.leaseOwner === null)).toBe(true);
    expect(rows.filter((row) => row.attempts === 1)).toHaveLength(concurrency);
    expect(rows.filter((row) => row.attempts === 0)).toHaveLength(queued - concurrency);
  });
});
