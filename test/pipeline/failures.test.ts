import { describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { drain, FAST_RETRY, postWebhook, TEST_ATTENTIVE_KEY, usePipeline, workerOptions } from "../support/pipeline";
import { fixtureText, fixtureWith } from "../support/webhooks";
import { processDueDeliveries } from "~/delivery/worker.server";
import { deliveriesBySource, deliveryLogPage, retryFailedMatching } from "~/models/Delivery.server";

const fulfilledOrder = fixtureText("orders_fulfilled.derived.json");

const pipeline = usePipeline();

async function onlyDelivery() {
  return db().delivery.findFirstOrThrow({ include: { attemptLog: { orderBy: { number: "asc" } } } });
}

describe("retryable failures", () => {
  it.each([
    ["HTTP 500", { kind: "status" as const, status: 500 }],
    ["HTTP 502", { kind: "status" as const, status: 502 }],
    ["connection reset", { kind: "refuse" as const }],
    ["a timeout", { kind: "hang" as const, ms: 1_500 }],
    ["HTTP 429 with Retry-After", { kind: "rate-limited" as const, retryAfterSeconds: 1 }],
    ["a transient GraphQL error", { kind: "graphql-error" as const, code: "INTERNAL_SERVER_ERROR" }],
    ["malformed JSON", { kind: "malformed" as const }],
  ])("retries after %s, then delivers once with the same externalEventId", async (_name, fault) => {
    pipeline.standIn.injectFaults(fault);
    await postWebhook({ topic: "orders/fulfilled", body: fulfilledOrder });
    const options = workerOptions(pipeline.standIn, { attentive: { apiUrl: pipeline.standIn.graphqlUrl, timeoutMs: 500, propertiesEncoding: "object" } });

    await processDueDeliveries(options);
    const afterFirst = await onlyDelivery();
    expect(afterFirst.status).toBe("pending");
    expect(afterFirst.errorKind).toBe("retryable");
    expect(afterFirst.lastError).toMatch(/retry/i);
    expect(afterFirst.lastError).not.toContain(TEST_ATTENTIVE_KEY);

    await drain(options);
    const delivery = await onlyDelivery();
    expect(delivery.status).toBe("delivered");
    // A 429 is Attentive being busy, not failing: it does not spend the retry budget.
    const rateLimited = fault.kind === "rate-limited";
    expect(delivery.attempts).toBe(rateLimited ? 1 : 2);
    expect(delivery.attemptLog.map((attempt) => attempt.outcome)).toEqual([rateLimited ? "rate limited" : "retryable failure", "delivered"]);
    expect(pipeline.standIn.received).toHaveLength(1);
    expect(pipeline.standIn.received[0]!.input.externalEventId).toBe(delivery.externalEventId);
  });

  it("waits at least as long as Retry-After says", async () => {
    pipeline.standIn.injectFaults({ kind: "rate-limited", retryAfterSeconds: 30 });
    await postWebhook({ topic: "orders/fulfilled", body: fulfilledOrder });
    const before = Date.now();
    await processDueDeliveries(workerOptions(pipeline.standIn));
    const delivery = await onlyDelivery();
    expect(delivery.status).toBe("pending");
    expect(delivery.nextAttemptAt.getTime() - before).toBeGreaterThanOrEqual(29_000);
  });

  it("gives up after the retry budget with the last reason, and a manual retry can still deliver it", async () => {
    pipeline.standIn.injectFaults(...Array.from({ length: FAST_RETRY.maxAttempts }, () => ({ kind: "status" as const, status: 503 })));
    await postWebhook({ topic: "orders/fulfilled", body: fulfilledOrder });
    await drain(workerOptions(pipeline.standIn));
    const failed = await onlyDelivery();
    expect(failed.status).toBe("failed");
    expect(failed.attempts).toBe(FAST_RETRY.maxAttempts);
    expect(failed.lastError).toMatch(new RegExp(`Gave up after ${FAST_RETRY.maxAttempts} attempts`));
    expect(pipeline.standIn.received).toHaveLength(0);

    const { retryDeliveries } = await import("~/models/Delivery.server");
    expect(await retryDeliveries(db(), failed.shop, { id: failed.id })).toBe(1);
    await drain(workerOptions(pipeline.standIn));
    expect((await onlyDelivery()).status).toBe("delivered");
    expect(pipeline.standIn.received.map((event) => event.input.externalEventId)).toEqual([failed.externalEventId]);
  });
});

describe("terminal failures", () => {
  it.each([
    ["HTTP 400", { kind: "status" as const, status: 400, body: '{"error":{"id":1,"message":"bad request"}}' }],
    ["HTTP 401", { kind: "status" as const, status: 401 }],
    ["HTTP 403", { kind: "status" as const, status: 403 }],
    ["a validation GraphQL error", { kind: "graphql-error" as const, code: "BAD_USER_INPUT", message: "type is invalid" }],
  ])("stops at once on %s, with a reason", async (_name, fault) => {
    pipeline.standIn.injectFaults(fault);
    await postWebhook({ topic: "orders/fulfilled", body: fulfilledOrder });
    await drain(workerOptions(pipeline.standIn));
    const delivery = await onlyDelivery();
    expect(delivery.status).toBe("failed");
    expect(delivery.errorKind).toBe("terminal");
    expect(delivery.attempts).toBe(1);
    expect(delivery.lastError!.length).toBeGreaterThan(10);
    expect(delivery.lastError).not.toContain(TEST_ATTENTIVE_KEY);
  });

  it("fails with what to do when the shop has no Attentive key", async () => {
    await db().shop.update({ where: { domain: "test-shop.myshopify.com" }, data: { attentiveKeyCipher: null } });
    await postWebhook({ topic: "orders/fulfilled", body: fulfilledOrder });
    await drain(workerOptions(pipeline.standIn));
    const delivery = await onlyDelivery();
    expect(delivery).toMatchObject({ status: "failed", errorKind: "terminal" });
    expect(delivery.lastError).toMatch(/connect one in Settings/);
  });

  it("records a mapping that cannot render as a failed delivery with the reason", async () => {
    const noIdentity = fixtureWith("orders_fulfilled.derived.json", (body) => {
      body.email = null;
      body.contact_email = null;
      body.phone = null;
      body.customer = null;
      body.shipping_address = null;
      body.billing_address = null;
    });
    await postWebhook({ topic: "orders/fulfilled", body: noIdentity });
    await drain(workerOptions(pipeline.standIn));
    const delivery = await onlyDelivery();
    expect(delivery).toMatchObject({ status: "failed", errorKind: "terminal" });
    expect(delivery.lastError).toMatch(/email|phone/i);
    expect(pipeline.standIn.received).toHaveLength(0);
  });
});

describe("stale events", () => {
  it("flags an event older than 12 hours when sent, and still sends it", async () => {
    const old = new Date(Date.now() - 13 * 60 * 60 * 1000).toISOString();
    const late = fixtureWith("orders_fulfilled.derived.json", (body) => {
      (body.fulfillments as Array<Record<string, unknown>>)[0]!.created_at = old;
    });
    const fresh = fixtureWith("orders_fulfilled.derived.json", (body) => {
      body.admin_graphql_api_id = "gid://shopify/Order/1001";
      body.id = 1001;
      (body.fulfillments as Array<Record<string, unknown>>)[0]!.created_at = new Date().toISOString();
    });
    await postWebhook({ topic: "orders/fulfilled", body: late });
    await postWebhook({ topic: "orders/fulfilled", body: fresh });
    await drain(workerOptions(pipeline.standIn));
    const deliveries = await db().delivery.findMany({ orderBy: { occurredAt: "asc" } });
    expect(deliveries.map((delivery) => [delivery.status, delivery.stale])).toEqual([
      ["delivered", true],
      ["delivered", false],
    ]);
    expect(new Date(pipeline.standIn.received.find((event) => event.input.occurredAt && Date.parse(event.input.occurredAt) < Date.now() - 12 * 3600e3)!.input.occurredAt!).toISOString()).toBe(old);
  });

  it("the delivery log's Stale filter lists the late live events, and a backfill's late ones only under Past orders", async () => {
    const hoursAgo = (hours: number) => new Date(Date.now() - hours * 60 * 60 * 1000).toISOString();
    const order = (id: number, occurredAt: string) =>
      fixtureWith("orders_fulfilled.derived.json", (body) => {
        body.admin_graphql_api_id = `gid://shopify/Order/${id}`;
        body.id = id;
        body.name = `#${id}`;
        (body.fulfillments as Array<Record<string, unknown>>)[0]!.created_at = occurredAt;
      });
    await postWebhook({ topic: "orders/fulfilled", body: order(2001, hoursAgo(13)) });
    await postWebhook({ topic: "orders/fulfilled", body: order(2002, hoursAgo(1)) });
    await postWebhook({ topic: "orders/fulfilled", body: order(2003, hoursAgo(30)) });
    await drain(workerOptions(pipeline.standIn));
    const byOrder = async () => new Map((await db().delivery.findMany()).map((delivery) => [delivery.orderName, delivery]));
    const rows = await byOrder();
    expect([...rows.values()].map((delivery) => [delivery.orderName, delivery.stale]).sort()).toEqual([
      ["#2001", true],
      ["#2002", false],
      ["#2003", true],
    ]);
    // #2003 as a history backfill records a past order: stale by design.
    const shop = rows.get("#2001")!.shop;
    const backfill = await db().backfill.create({
      data: { shop, status: "completed", since: new Date(hoursAgo(48)), until: new Date(), mappingIds: "[]", topics: '["orders/fulfilled"]' },
    });
    await db().delivery.update({ where: { id: rows.get("#2003")!.id }, data: { backfillId: backfill.id } });

    const listed = async (filter: Parameters<typeof deliveryLogPage>[2]) =>
      (await deliveryLogPage(db(), shop, filter, null)).deliveries.map((delivery) => delivery.orderName).sort();
    expect(await listed({})).toEqual(["#2001", "#2002", "#2003"]);
    expect(await listed({ stale: true })).toEqual(["#2001"]);
    expect(await listed({ stale: true, backfill: true })).toEqual(["#2003"]);
    expect(await listed({ stale: false })).toEqual(["#2001", "#2002", "#2003"]);
    expect(await listed({ stale: true, search: "#2002" })).toEqual([]);
    expect(await deliveriesBySource(db(), shop, { stale: true })).toEqual({ webhooks: 1, flow: 0, backfill: 0 });
    expect(await deliveriesBySource(db(), shop, { stale: true, backfill: true })).toEqual({ webhooks: 0, flow: 0, backfill: 1 });

    // Retrying the failed ones among the stale touches only those.
    await db().delivery.updateMany({ data: { status: "failed" } });
    expect(await retryFailedMatching(db(), shop, { stale: true })).toBe(1);
    expect([...(await byOrder()).values()].map((delivery) => [delivery.orderName, delivery.status]).sort()).toEqual([
      ["#2001", "pending"],
      ["#2002", "failed"],
      ["#2003", "failed"],
    ]);
  });
});
