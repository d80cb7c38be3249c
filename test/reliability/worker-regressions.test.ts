/**
 * Three ways the worker broke the promise, found by the reliability suites and fixed in
 * app/delivery/worker.server.ts; each test fails on the code before the fix.
 */
import { describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { processDueDeliveries, startDeliveryWorker } from "~/delivery/worker.server";
import { startAttentiveStandIn } from "../stand-ins/attentive";
import { forEachConcurrently, loadOrderId, orderBody, waitUntil } from "../support/load";
import { postWebhook, TEST_ATTENTIVE_KEY, usePipeline, workerOptions } from "../support/pipeline";

const pipeline = usePipeline({ rateLimitPerSecond: 5 });

async function post(count: number) {
  await forEachConcurrently(Array.from({ length: count }, (_, i) => i), 4, async (i) => {
    expect((await postWebhook({ topic: "orders/fulfilled", body: orderBody(loadOrderId(i)) })).status).toBe(200);
  });
}

describe("worker bugs found by the reliability suites", () => {
  it("a rate limit alone does not use up the retry budget (every 429 counted as an attempt, and a claimed batch kept sending after one)", async () => {
    await post(40);
    const worker = startDeliveryWorker(workerOptions(pipeline.standIn, { retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 50 }, idlePollMs: 20 }));
    try {
      await waitUntil("the queue to empty", async () => (await db().delivery.count({ where: { status: { in: ["pending", "sending"] } } })) === 0, 30_000);
    } finally {
      await worker.stop();
    }
    // Attentive is healthy, only busy: every event must arrive.
    expect(await db().delivery.count({ where: { status: "failed" } })).toBe(0);
  });

  it("a batch that outlives its lease is not sent twice (the lease was taken once per batch and not checked or renewed before each send)", async () => {
    // Production's ratio, scaled down: lease = 3x the timeout; one worker works through a
    // claimed batch one by one while Attentive is slow. Time is virtual: both workers read
    // the same clock, and each send of worker A moves it on by 1.1 s, so which leases have
    // run out at each step is certain, however busy the machine is.
    await post(10);
    // An Attentive without this file's low rate limit: here it is slow, not busy.
    const standIn = await startAttentiveStandIn({ apiKeys: [TEST_ATTENTIVE_KEY] });
    let virtualMs = Date.now();
    const now = () => new Date(virtualMs);
    const base = workerOptions(standIn, { leaseMs: 3_000, batchSize: 10, concurrency: 1, now });
    const attentive = (fetchImpl?: typeof fetch) => ({
      apiUrl: standIn.graphqlUrl,
      timeoutMs: 1_000,
      propertiesEncoding: "object" as const,
      ...(fetchImpl ? { fetch: fetchImpl } : {}),
    });
    // When worker A sends a delivery whose lease has run out, worker B (another process)
    // makes one pass right then: it may claim expired leases. Running B from inside A's
    // request makes the order of events certain rather than a matter of timing.
    let secondPassDone = false;
    let sendsByA = 0;
    const slowFetch: typeof fetch = async (url, init) => {
      sendsByA++;
      virtualMs += 1_100;
      // As soon as some of worker A's claims have run out, worker B makes one pass.
      if (!secondPassDone) {
        const expired = await db().delivery.count({ where: { leaseOwner: "worker-a", status: "sending", leaseExpiresAt: { lt: now() } } });
        if (expired > 0) {
          secondPassDone = true;
          await processDueDeliveries({ ...base, workerId: "worker-b", attentive: attentive() });
        }
      }
      return fetch(url, init);
    };
    try {
      await processDueDeliveries({ ...base, workerId: "worker-a", attentive: attentive(slowFetch) });
    } finally {
      await standIn.close();
    }
    expect(secondPassDone).toBe(true);
    const ids = standIn.received.map((event) => event.input.externalEventId);
    expect(ids.length - new Set(ids).size).toBe(0);
    expect(new Set(ids).size).toBe(10);
    expect(await db().delivery.count({ where: { status: "delivered" } })).toBe(10);
    // Worker B took over what A's lease no longer covered, and A sent none of those.
    expect(sendsByA).toBeLessThan(10);
  });

  it("a delivery whose processing throws ends failed with a reason (it was claimed again after every lease, forever)", async () => {
    await post(1);
    // A mapping row the current code cannot read (a future version's format, a bad manual edit).
    await db().mapping.updateMany({ data: { properties: "not json" } });
    // Virtual time: a second passes between passes, past any retry delay or lease here.
    let virtualMs = Date.now();
    const options = workerOptions(pipeline.standIn, {
      leaseMs: 20,
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
      now: () => new Date(virtualMs),
    });
    for (let pass = 0; pass < 10; pass++) {
      await processDueDeliveries(options);
      virtualMs += 1_000;
    }
    const delivery = await db().delivery.findFirstOrThrow();
    expect(delivery.attempts).toBe(3);
    expect(delivery).toMatchObject({ status: "failed" });
    expect(delivery.lastError).toMatch(/could not process this delivery.*Gave up after 3 attempts: Check the mapping/);
  });
});
