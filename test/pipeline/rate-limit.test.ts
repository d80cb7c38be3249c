import { describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { startDeliveryWorker } from "~/delivery/worker.server";
import { loadOrderId, orderBody, waitUntil } from "../support/load";
import { postWebhook, usePipeline, workerOptions } from "../support/pipeline";

const LIMIT = 20;
const pipeline = usePipeline({ rateLimitPerSecond: LIMIT });

describe("a shop busier than Attentive's limit", () => {
  it("streams at the limit without a single 429", async () => {
    const events = 80;
    for (let i = 0; i < events; i++) {
      expect((await postWebhook({ topic: "orders/fulfilled", body: orderBody(loadOrderId(i)) })).status).toBe(200);
    }
    // A generous timeout: on a busy machine a 1 s one can expire on the loopback and send
    // again (legitimately, same externalEventId), which is not what this test is about.
    const base = workerOptions(pipeline.standIn);
    const worker = startDeliveryWorker({
      ...base,
      attentive: { ...base.attentive, timeoutMs: 15_000 },
      leaseMs: 60_000,
      rateLimitPerSecond: LIMIT,
      concurrency: 16,
      idlePollMs: 20,
    });
    try {
      await waitUntil("every event delivered", async () => (await db().delivery.count({ where: { status: "delivered" } })) === events, 20_000);
    } finally {
      await worker.stop();
    }
    // Each send waits a window past the answer of the send `LIMIT` before it, so no
    // window of the stand-in's can hold more than LIMIT of them: not even the first.
    const refused = await db().deliveryAttempt.count({ where: { httpStatus: 429 } });
    expect(refused).toBe(0);
    expect(pipeline.standIn.received).toHaveLength(events);
  });
});
