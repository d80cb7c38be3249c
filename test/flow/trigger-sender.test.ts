/**
 * The "Attentive event failed" Flow trigger end to end, on the test file's real database (SQLite, or PostgreSQL with
 * TEST_DATABASE=postgresql): the worker sends to the Attentive stand-in over HTTP, a failure queues the trigger in the
 * same write as the outcome, and the sender calls the fake Admin API (MSW), whose flowTriggerReceive is as strict as
 * Shopify's. Time is a clock the test moves; nothing waits on a timer.
 */
import { Session } from "@shopify/shopify-api";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { outcomeStoreOf, type OutcomeWrite } from "~/delivery/outcome-store.server";
import { flowTriggerOptionsFromEnv } from "~/delivery/runtime.server";
import { parseFlowAction } from "~/flow/action";
import { recordFlowAction } from "~/flow/action-route.server";
import { FLOW_SOURCE, FLOW_TRIGGER_HANDLE } from "~/flow/trigger-contract";
import { FLOW_TRIGGER_MUTATION } from "~/flow/trigger-mutation";
import {
  DEFAULT_TRIGGER_RETRY,
  pruneFinishedFlowTriggers,
  sendDueFlowTriggers,
  startFlowTriggerSender,
  type TriggerPassResult,
  type TriggerSenderOptions,
} from "~/flow/trigger-sender.server";
import { retryDelivery } from "~/models/Delivery.server";
import { deleteExpiredDeliveries } from "~/models/Retention.server";
import { markUninstalled } from "~/models/Shop.server";
import { sessionStorage } from "~/shopify.server";
import { fakeAdminApi as admin } from "../stand-ins/shopify-admin";
import { flowTriggerReceiveStandIn, type FlowTriggerReceiveStandIn } from "../support/flow-trigger";
import { orderBody } from "../support/load";
import { drain, postWebhook, usePipeline, workerOptions } from "../support/pipeline";
import { TEST_SHOP } from "../support/webhooks";

const pipeline = usePipeline();
const OFFLINE_TOKEN = "shpat_flow_trigger";
/** What the Admin API stand-in sees: the operation name in the mutation the sender sends. */
const OPERATION = /mutation\s+(\w+)/.exec(FLOW_TRIGGER_MUTATION)![1]!;
const ATTENTIVE_REFUSES = { kind: "status" as const, status: 400, body: '{"errors":[{"message":"The event type is not allowed"}]}' };

let flow: FlowTriggerReceiveStandIn;
let clock: Date;
const jobs: Array<{ stop(): Promise<void> }> = [];

function senderOptions(overrides: Partial<TriggerSenderOptions> = {}): TriggerSenderOptions {
  return { ...flowTriggerOptionsFromEnv(), logger: pino({ level: "silent" }), now: () => clock, random: () => 1, ...overrides };
}

const advance = (ms: number) => {
  clock = new Date(clock.getTime() + ms);
};

/** Posts one fulfilled order per id and runs the worker until each delivery is finished (Attentive refuses them all). */
async function failedDeliveries(...orderIds: string[]) {
  pipeline.standIn.setFaultPlan(() => ATTENTIVE_REFUSES);
  for (const id of orderIds) expect((await postWebhook({ topic: "orders/fulfilled", body: orderBody(id) })).status).toBe(200);
  await drain(workerOptions(pipeline.standIn));
  pipeline.standIn.setFaultPlan(null);
  const deliveries = await db().delivery.findMany({ orderBy: { createdAt: "asc" } });
  expect(deliveries.map((delivery) => delivery.status)).toEqual(orderIds.map(() => "failed"));
  // Sends and failures were written in real time: the test's clock starts after them.
  clock = new Date();
  return deliveries;
}

function triggerCalls() {
  return admin.calls.filter((call) => call.operationName === OPERATION);
}

beforeEach(async () => {
  admin.reset();
  flow = flowTriggerReceiveStandIn();
  admin.answer({ [OPERATION]: flow.handler });
  await sessionStorage.storeSession(
    new Session({ id: `offline_${TEST_SHOP}`, shop: TEST_SHOP, state: "s", isOnline: false, accessToken: OFFLINE_TOKEN, scope: "read_orders" }),
  );
  clock = new Date();
});

afterEach(async () => {
  await Promise.all(jobs.splice(0).map((job) => job.stop()));
  pipeline.standIn.setFaultPlan(null);
  expect(admin.unexpected).toEqual([]);
});

describe("a failed delivery", () => {
  it("makes exactly one flowTriggerReceive call with the trigger's fields, with the shop's offline token", async () => {
    const [delivery] = await failedDeliveries("9007199254740993");
    expect(delivery!.lastError).toBeTruthy();
    expect(delivery!.orderName).toMatch(/^#/);
    const [queued] = await db().flowTrigger.findMany();
    expect(queued).toMatchObject({ shop: TEST_SHOP, kind: "delivery_failed", deliveryId: delivery!.id, dedupeKey: `delivery:${delivery!.id}:1`, status: "pending" });

    expect(await sendDueFlowTriggers(senderOptions())).toEqual({ sent: 1, dropped: 0, retrying: 0 });
    expect(triggerCalls()).toHaveLength(1);
    expect(triggerCalls()[0]).toMatchObject({ shop: TEST_SHOP, accessToken: OFFLINE_TOKEN });
    expect(flow.refused).toEqual([]);
    expect(flow.accepted).toHaveLength(1);
    expect(flow.accepted[0]!.handle).toBe(FLOW_TRIGGER_HANDLE);
    expect(flow.accepted[0]!.payload).toEqual({
      "Event type": delivery!.eventType,
      Source: "orders/fulfilled",
      "Order name": delivery!.orderName,
      Reason: delivery!.lastError,
      "Delivery URL": `https://${TEST_SHOP}/admin/apps/test-api-key/app/deliveries/${delivery!.id}`,
    });
    const row = await db().flowTrigger.findUniqueOrThrow({ where: { id: queued!.id } });
    expect(row).toMatchObject({ status: "sent", attempts: 1, lastError: null, leaseOwner: null, leaseExpiresAt: null });
    expect(row.sentAt?.toISOString()).toBe(clock.toISOString());

    // Sent once: later passes, a day later, call nothing.
    advance(24 * 3_600_000);
    expect(await sendDueFlowTriggers(senderOptions())).toEqual({ sent: 0, dropped: 0, retrying: 0 });
    expect(triggerCalls()).toHaveLength(1);
  });

  it("names Flow as the Source of an event a Flow action sent, with an empty order name", async () => {
    const text = JSON.stringify({
      shop_id: "1",
      shopify_domain: TEST_SHOP,
      action_run_id: "run-trigger-1",
      action_definition_id: "Send Attentive event",
      handle: "send-attentive-event",
      properties: { event_type: "VIP Upgrade", email: "vip@example.com" },
    });
    const parsed = parseFlowAction(JSON.parse(text));
    if (!parsed.ok) throw new Error(parsed.reason);
    await recordFlowAction({ prisma: db() }, parsed.request, parsed.event, text);
    pipeline.standIn.setFaultPlan(() => ATTENTIVE_REFUSES);
    await drain(workerOptions(pipeline.standIn));
    const delivery = await db().delivery.findFirstOrThrow();
    expect(delivery.status).toBe("failed");
    clock = new Date();

    await sendDueFlowTriggers(senderOptions());
    expect(flow.accepted.map((entry) => entry.payload)).toEqual([
      {
        "Event type": "VIP Upgrade",
        Source: FLOW_SOURCE,
        "Order name": "",
        Reason: delivery.lastError,
        "Delivery URL": `https://${TEST_SHOP}/admin/apps/test-api-key/app/deliveries/${delivery.id}`,
      },
    ]);
  });

  it("a delivered one makes no call and queues nothing", async () => {
    await postWebhook({ topic: "orders/fulfilled", body: orderBody("9007199254740995") });
    await drain(workerOptions(pipeline.standIn));
    expect((await db().delivery.findFirstOrThrow()).status).toBe("delivered");
    expect(await db().flowTrigger.count()).toBe(0);
    expect(await sendDueFlowTriggers(senderOptions())).toEqual({ sent: 0, dropped: 0, retrying: 0 });
    expect(triggerCalls()).toEqual([]);
  });

  it("a merchant's retry that fails again is announced again; each failure once", async () => {
    const [delivery] = await failedDeliveries("9007199254740997");
    await sendDueFlowTriggers(senderOptions());
    expect(await retryDelivery(db(), TEST_SHOP, delivery!.id)).toMatchObject({ ok: true });
    pipeline.standIn.setFaultPlan(() => ATTENTIVE_REFUSES);
    await drain(workerOptions(pipeline.standIn));
    pipeline.standIn.setFaultPlan(null);
    // Retry resets the attempt count: the second failure is attempt 1 again, and still a failure of its own.
    expect(await db().delivery.findUniqueOrThrow({ where: { id: delivery!.id } })).toMatchObject({ status: "failed", attempts: 1 });
    clock = new Date();
    await sendDueFlowTriggers(senderOptions());
    await sendDueFlowTriggers(senderOptions());
    const rows = await db().flowTrigger.findMany({ orderBy: { createdAt: "asc" } });
    expect(rows.map((row) => [row.dedupeKey, row.status])).toEqual([
      [`delivery:${delivery!.id}:1`, "sent"],
      [`delivery:${delivery!.id}:2`, "sent"],
    ]);
    expect(flow.accepted).toHaveLength(2);
  });
});

describe("the outbox row", () => {
  async function sendingDelivery(owner: string) {
    await postWebhook({ topic: "orders/fulfilled", body: orderBody("9007199254741101") });
    const delivery = await db().delivery.findFirstOrThrow();
    return db().delivery.update({
      where: { id: delivery.id },
      data: { status: "sending", attempts: 1, leaseOwner: owner, leaseExpiresAt: new Date(Date.now() + 60_000) },
    });
  }
  const failure = (deliveryId: string, workerId: string): OutcomeWrite => ({
    deliveryId,
    workerId,
    status: "failed",
    finishedAt: new Date(),
    lastError: "Attentive refused the event.",
    errorKind: "terminal",
    at: new Date(),
    attempt: { number: 1, startedAt: new Date(), durationMs: 5, outcome: "terminal failure", httpStatus: 400, error: "refused", response: null },
  });

  it("is written with the failure and only with it: not under a lost lease, not twice for one failure", async () => {
    const delivery = await sendingDelivery("worker-b");
    const store = outcomeStoreOf(db());
    expect(await store.finish(failure(delivery.id, "worker-a"))).toBe(false);
    expect(await db().flowTrigger.count()).toBe(0);
    expect(await store.finish(failure(delivery.id, "worker-b"))).toBe(true);
    // The same write again finds the lease released: nothing more.
    expect(await store.finish(failure(delivery.id, "worker-b"))).toBe(false);
    const rows = await db().flowTrigger.findMany();
    expect(rows.map((row) => [row.deliveryId, row.dedupeKey, row.status, row.kind, row.shop])).toEqual([
      [delivery.id, `delivery:${delivery.id}:1`, "pending", "delivery_failed", TEST_SHOP],
    ]);
    expect(await db().deliveryAttempt.count()).toBe(1);
  });

  it("is not written for a delivered, skipped or retried outcome", async () => {
    const delivery = await sendingDelivery("worker-a");
    const store = outcomeStoreOf(db());
    expect(await store.finish({ ...failure(delivery.id, "worker-a"), status: "pending", finishedAt: undefined, nextAttemptAt: new Date(), errorKind: "retryable" })).toBe(true);
    await db().delivery.update({ where: { id: delivery.id }, data: { status: "sending", leaseOwner: "worker-a" } });
    expect(await store.finish({ ...failure(delivery.id, "worker-a"), status: "skipped", errorKind: null })).toBe(true);
    expect(await db().flowTrigger.count()).toBe(0);
  });
});

describe("when Shopify is busy or refuses", () => {
  it("retries after HTTP 503 and THROTTLED, with growing waits, and sends once", async () => {
    await failedDeliveries("9007199254741001");
    flow.busy("unavailable", "throttled");
    expect(await sendDueFlowTriggers(senderOptions())).toEqual({ sent: 0, dropped: 0, retrying: 1 });
    let row = await db().flowTrigger.findFirstOrThrow();
    expect(row).toMatchObject({ status: "pending", attempts: 1, leaseOwner: null });
    expect(row.lastError).toContain("HTTP 503");
    expect(row.nextAttemptAt.getTime() - clock.getTime()).toBe(DEFAULT_TRIGGER_RETRY.baseDelayMs);

    // Not due yet: no call.
    advance(DEFAULT_TRIGGER_RETRY.baseDelayMs - 1);
    expect(await sendDueFlowTriggers(senderOptions())).toEqual({ sent: 0, dropped: 0, retrying: 0 });
    expect(triggerCalls()).toHaveLength(1);

    advance(1);
    expect(await sendDueFlowTriggers(senderOptions())).toEqual({ sent: 0, dropped: 0, retrying: 1 });
    row = await db().flowTrigger.findFirstOrThrow();
    expect(row.lastError).toMatch(/THROTTLED/);
    expect(row.nextAttemptAt.getTime() - clock.getTime()).toBe(2 * DEFAULT_TRIGGER_RETRY.baseDelayMs);

    advance(2 * DEFAULT_TRIGGER_RETRY.baseDelayMs);
    expect(await sendDueFlowTriggers(senderOptions())).toEqual({ sent: 1, dropped: 0, retrying: 0 });
    expect(triggerCalls()).toHaveLength(3);
    expect(flow.accepted).toHaveLength(1);
    expect(await db().flowTrigger.findFirstOrThrow()).toMatchObject({ status: "sent", attempts: 3, lastError: null });
  });

  it("drops a trigger Shopify refuses with userErrors, with the reason, and never calls again", async () => {
    await failedDeliveries("9007199254741003");
    // The app version with the trigger is not deployed: Shopify knows no such handle.
    flow.deployed.clear();
    expect(await sendDueFlowTriggers(senderOptions())).toEqual({ sent: 0, dropped: 1, retrying: 0 });
    const row = await db().flowTrigger.findFirstOrThrow();
    expect(row.status).toBe("dropped");
    expect(row.lastError).toContain(`Invalid handle '${FLOW_TRIGGER_HANDLE}'`);
    expect(row.lastError).toMatch(/deployed/);
    advance(7 * 24 * 3_600_000);
    await sendDueFlowTriggers(senderOptions());
    expect(triggerCalls()).toHaveLength(1);
  });

  it("drops on a 4xx without retrying (the shop's access is gone)", async () => {
    await failedDeliveries("9007199254741005");
    flow.busy({ status: 401 });
    expect(await sendDueFlowTriggers(senderOptions())).toEqual({ sent: 0, dropped: 1, retrying: 0 });
    expect((await db().flowTrigger.findFirstOrThrow()).lastError).toMatch(/HTTP 401.*open the app in Shopify admin/);
    advance(3_600_000);
    await sendDueFlowTriggers(senderOptions());
    expect(triggerCalls()).toHaveLength(1);
  });

  it("gives up a day after the failure when Shopify never answers, with the last reason", async () => {
    await failedDeliveries("9007199254741007");
    const start = clock.getTime();
    flow.busy(...Array.from({ length: 100 }, () => "unavailable" as const));
    let calls = 0;
    while (clock.getTime() - start <= DEFAULT_TRIGGER_RETRY.giveUpAfterMs + DEFAULT_TRIGGER_RETRY.maxDelayMs) {
      await sendDueFlowTriggers(senderOptions());
      const row = await db().flowTrigger.findFirstOrThrow();
      if (row.status !== "pending") break;
      calls += 1;
      // The cap holds: never more than 30 minutes between two calls.
      expect(row.nextAttemptAt.getTime() - clock.getTime()).toBeLessThanOrEqual(DEFAULT_TRIGGER_RETRY.maxDelayMs);
      clock = row.nextAttemptAt;
    }
    const row = await db().flowTrigger.findFirstOrThrow();
    expect(row.status).toBe("dropped");
    expect(row.lastError).toMatch(/within 24 hours.*HTTP 503/);
    expect(triggerCalls()).toHaveLength(calls + 1);
    expect(flow.accepted).toEqual([]);
  });

  it("drops without a call when the shop has no offline session or uninstalled the app", async () => {
    await failedDeliveries("9007199254741009", "9007199254741011");
    await sessionStorage.deleteSession(`offline_${TEST_SHOP}`);
    expect(await sendDueFlowTriggers(senderOptions())).toEqual({ sent: 0, dropped: 2, retrying: 0 });
    expect((await db().flowTrigger.findMany()).map((row) => row.lastError)).toEqual([expect.stringMatching(/no offline session/), expect.stringMatching(/no offline session/)]);

    await db().flowTrigger.updateMany({ data: { status: "pending", lastError: null } });
    await markUninstalled(db(), TEST_SHOP);
    expect(await sendDueFlowTriggers(senderOptions())).toEqual({ sent: 0, dropped: 2, retrying: 0 });
    expect((await db().flowTrigger.findFirstOrThrow()).lastError).toMatch(/uninstalled/);
    expect(triggerCalls()).toEqual([]);
  });
});

describe("a delivery that changed before its trigger was sent", () => {
  it("drops the trigger of a delivery deleted meanwhile (log retention), without a call", async () => {
    const [delivery] = await failedDeliveries("9007199254741013");
    expect(await deleteExpiredDeliveries(db(), TEST_SHOP, new Date(Date.now() + 60_000), 10)).toMatchObject({ found: 1, deleted: 1 });
    expect(await sendDueFlowTriggers(senderOptions())).toEqual({ sent: 0, dropped: 1, retrying: 0 });
    expect(await db().flowTrigger.findFirstOrThrow()).toMatchObject({ deliveryId: delivery!.id, status: "dropped", lastError: expect.stringMatching(/deleted/) });
    expect(triggerCalls()).toEqual([]);
  });

  it("drops the trigger of a delivery the merchant retried meanwhile", async () => {
    const [delivery] = await failedDeliveries("9007199254741015");
    await retryDelivery(db(), TEST_SHOP, delivery!.id);
    await drain(workerOptions(pipeline.standIn));
    expect(await sendDueFlowTriggers(senderOptions())).toEqual({ sent: 0, dropped: 1, retrying: 0 });
    expect((await db().flowTrigger.findFirstOrThrow()).lastError).toMatch(/retried.*delivered now/);
    expect(triggerCalls()).toEqual([]);
  });

  it("finished rows are pruned after their keeping time; a pending one never is", async () => {
    const old = new Date(Date.now() - 31 * 24 * 3_600_000);
    const row = (status: string, key: string, createdAt: Date) => ({ shop: TEST_SHOP, kind: "delivery_failed", deliveryId: key, dedupeKey: key, status, createdAt });
    await db().flowTrigger.createMany({
      data: [row("sent", "a", old), row("dropped", "b", old), row("pending", "c", old), row("sent", "d", new Date())],
    });
    expect(await pruneFinishedFlowTriggers(db(), new Date(Date.now() - 30 * 24 * 3_600_000))).toBe(2);
    expect((await db().flowTrigger.findMany({ orderBy: { dedupeKey: "asc" } })).map((left) => left.dedupeKey)).toEqual(["c", "d"]);
  });

  it("erasing the shop's data (shop/redact) erases its triggers too", async () => {
    await failedDeliveries("9007199254741017");
    const { redactShop } = await import("~/webhooks/compliance.server");
    await redactShop(db(), TEST_SHOP);
    expect(await db().flowTrigger.count()).toBe(0);
  });
});

describe("crashes and concurrency", () => {
  it("after a crash between the failure and the call, a fresh sender calls exactly once", async () => {
    // The failure is committed and no sender ran (the process died first).
    await failedDeliveries("9007199254741019");
    expect(triggerCalls()).toEqual([]);

    const passes: TriggerPassResult[] = [];
    const firstPass = new Promise<void>((resolve) => {
      jobs.push(
        startFlowTriggerSender({
          ...senderOptions({
            hooks: {
              afterPass: (result) => {
                passes.push(result);
                resolve();
              },
            },
          }),
          intervalMs: 3_600_000,
          firstDelayMs: 0,
        }),
      );
    });
    await firstPass;
    expect(passes[0]).toEqual({ sent: 1, dropped: 0, retrying: 0 });
    expect(triggerCalls()).toHaveLength(1);
  });

  it("a sender that died holding the lease: its row is sent once by another after the lease runs out", async () => {
    await failedDeliveries("9007199254741021");
    const leaseExpiresAt = new Date(clock.getTime() + 60_000);
    await db().flowTrigger.updateMany({ data: { leaseOwner: "flow-trigger-dead", leaseExpiresAt, attempts: 1 } });
    expect(await sendDueFlowTriggers(senderOptions())).toEqual({ sent: 0, dropped: 0, retrying: 0 });
    clock = leaseExpiresAt;
    expect(await sendDueFlowTriggers(senderOptions())).toEqual({ sent: 1, dropped: 0, retrying: 0 });
    expect(await sendDueFlowTriggers(senderOptions())).toEqual({ sent: 0, dropped: 0, retrying: 0 });
    expect(triggerCalls()).toHaveLength(1);
    expect(await db().flowTrigger.findFirstOrThrow()).toMatchObject({ status: "sent", attempts: 2 });
  });

  it("two senders that read the same due rows call once per row", async () => {
    const deliveries = await failedDeliveries(...Array.from({ length: 6 }, (_, i) => String(9007199254742000 + i * 2)));
    // Both read the rows before either claims one.
    let arrived = 0;
    let release!: () => void;
    const bothRead = new Promise<void>((resolve) => (release = resolve));
    const afterRead = async () => {
      if (++arrived === 2) release();
      await bothRead;
    };
    const [a, b] = await Promise.all([
      sendDueFlowTriggers(senderOptions({ senderId: "sender-a", hooks: { afterRead } })),
      sendDueFlowTriggers(senderOptions({ senderId: "sender-b", hooks: { afterRead } })),
    ]);
    expect(a.sent + b.sent).toBe(6);
    expect(triggerCalls()).toHaveLength(6);
    const urls = flow.accepted.map((entry) => entry.payload["Delivery URL"]);
    expect(new Set(urls).size).toBe(6);
    expect(urls.sort()).toEqual(deliveries.map((delivery) => `https://${TEST_SHOP}/admin/apps/test-api-key/app/deliveries/${delivery.id}`).sort());
  });

  it("a failure written in this process wakes the running sender at once, not at its next interval", async () => {
    const sent = new Promise<TriggerPassResult>((resolve) => {
      jobs.push(
        startFlowTriggerSender({
          ...senderOptions({
            now: () => new Date(),
            hooks: {
              afterPass: (result) => {
                if (result.sent > 0) resolve(result);
              },
            },
          }),
          intervalMs: 3_600_000,
          firstDelayMs: 3_600_000,
        }),
      );
    });
    pipeline.standIn.setFaultPlan(() => ATTENTIVE_REFUSES);
    await postWebhook({ topic: "orders/fulfilled", body: orderBody("9007199254741023") });
    await drain(workerOptions(pipeline.standIn));
    expect(await sent).toEqual({ sent: 1, dropped: 0, retrying: 0 });
    expect(triggerCalls()).toHaveLength(1);
  });
});
