/**
 * The driver-level outcome write on the test file's real database, read back through
 * Prisma: what it sets, what it leaves alone, and that a lost lease writes nothing.
 */
import type pg from "pg";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { database, db } from "~/db.server";
import { closeDriver, openDriver } from "~/db/driver.server";
import { openOutcomeStore, PG_OUTCOME_BATCH, type OutcomeWrite } from "~/delivery/outcome-store.server";
import { ensureShop } from "~/models/Shop.server";

const SHOP = "outcome-store.myshopify.com";
const driver = openDriver(database().target);
const store = openOutcomeStore(driver);
afterAll(async () => {
  await store.drain();
  await closeDriver(driver);
});

const at = new Date("2026-11-27T12:00:00.250Z");

async function sendingDelivery(n: number, owner = "worker-a") {
  const webhook = await db().webhook.create({
    data: { shop: SHOP, topic: "orders/fulfilled", eventKey: `k-${n}`, webhookId: `w-${n}`, apiVersion: "2026-10", body: "{}" },
  });
  return db().delivery.create({
    data: {
      shop: SHOP,
      webhookRecordId: webhook.id,
      mappingId: "m",
      topic: "orders/fulfilled",
      eventType: "Old Type",
      externalEventId: `e-${n}`,
      status: "sending",
      attempts: 2,
      leaseOwner: owner,
      leaseExpiresAt: new Date("2026-11-27T12:01:00Z"),
      response: "earlier answer",
      finishedAt: null,
      orderName: "#1001",
    },
  });
}

function write(deliveryId: string, overrides: Partial<OutcomeWrite>): OutcomeWrite {
  return {
    deliveryId,
    workerId: "worker-a",
    status: "delivered",
    lastError: null,
    errorKind: null,
    at,
    attempt: { number: 2, startedAt: new Date("2026-11-27T11:59:59.900Z"), durationMs: 350, outcome: "delivered", httpStatus: 200, error: null, response: "ok" },
    ...overrides,
  };
}

beforeEach(async () => {
  await db().deliveryAttempt.deleteMany();
  await db().delivery.deleteMany();
  await db().webhook.deleteMany();
  await ensureShop(db(), SHOP);
});

describe("the outcome write", () => {
  it("writes a delivered outcome with what was sent, releases the lease and logs the attempt", async () => {
    const delivery = await sendingDelivery(1);
    const sent = { request: '{"query":"…"}', stale: true, orderName: "#1002", email: "a@example.com", eventType: "Order Fulfilled" };
    expect(await store.finish(write(delivery.id, { finishedAt: at, response: '{"data":{}}', sent }))).toBe(true);
    const row = await db().delivery.findUniqueOrThrow({ where: { id: delivery.id }, include: { attemptLog: true } });
    expect(row).toMatchObject({
      status: "delivered",
      response: '{"data":{}}',
      lastError: null,
      errorKind: null,
      leaseOwner: null,
      leaseExpiresAt: null,
      request: sent.request,
      stale: true,
      orderName: "#1002",
      email: "a@example.com",
      eventType: "Order Fulfilled",
    });
    expect(row.finishedAt?.toISOString()).toBe(at.toISOString());
    expect(row.updatedAt.toISOString()).toBe(at.toISOString());
    expect(row.attemptLog).toHaveLength(1);
    expect(row.attemptLog[0]).toMatchObject({ number: 2, durationMs: 350, outcome: "delivered", httpStatus: 200, error: null, response: "ok" });
    expect(row.attemptLog[0]!.startedAt.toISOString()).toBe("2026-11-27T11:59:59.900Z");
    // A time-ordered id (decision 027): attempts are appended, not scattered over their table's index.
    expect(row.attemptLog[0]!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("leaves alone what an outcome does not set: a skip keeps the earlier answer, a retry keeps finishedAt empty", async () => {
    const skipped = await sendingDelivery(2);
    await store.finish(write(skipped.id, { status: "skipped", finishedAt: at, lastError: "The mapping was turned off." }));
    expect(await db().delivery.findUniqueOrThrow({ where: { id: skipped.id } })).toMatchObject({
      status: "skipped",
      response: "earlier answer",
      lastError: "The mapping was turned off.",
      eventType: "Old Type",
      orderName: "#1001",
    });

    const retried = await sendingDelivery(3);
    const next = new Date("2026-11-27T12:00:05Z");
    await store.finish(write(retried.id, { status: "pending", nextAttemptAt: next, response: null, lastError: "HTTP 502", errorKind: "retryable" }));
    const row = await db().delivery.findUniqueOrThrow({ where: { id: retried.id } });
    expect(row).toMatchObject({ status: "pending", finishedAt: null, response: null, errorKind: "retryable" });
    expect(row.nextAttemptAt.toISOString()).toBe(next.toISOString());
    // Due again for the worker's claim, which compares through Prisma.
    expect(await db().delivery.count({ where: { id: retried.id, status: "pending", nextAttemptAt: { lte: next } } })).toBe(1);
  });

  it("writes nothing, not even the attempt, when the lease is another worker's", async () => {
    const delivery = await sendingDelivery(4, "worker-b");
    expect(await store.finish(write(delivery.id, { finishedAt: at, response: "x" }))).toBe(false);
    expect(await db().delivery.findUniqueOrThrow({ where: { id: delivery.id } })).toMatchObject({ status: "sending", leaseOwner: "worker-b" });
    expect(await db().deliveryAttempt.count()).toBe(0);
  });

  it("writes many outcomes given at once, each under its own lease", async () => {
    const mine = await Promise.all(Array.from({ length: 20 }, (_, i) => sendingDelivery(100 + i)));
    const theirs = await sendingDelivery(200, "worker-b");
    const results = await Promise.all([...mine, theirs].map((delivery) => store.finish(write(delivery.id, { finishedAt: at, response: "ok" }))));
    expect(results.filter(Boolean)).toHaveLength(20);
    expect(await db().delivery.count({ where: { status: "delivered" } })).toBe(20);
    expect(await db().deliveryAttempt.count()).toBe(20);
  });
});

describe("outcomes given together", () => {
  const attempt = (durationMs: number): OutcomeWrite["attempt"] => ({
    number: 2,
    startedAt: at,
    durationMs,
    outcome: "delivered",
    httpStatus: 200,
    error: null,
    response: "ok",
  });

  it("refuses only the outcome that cannot be written and writes the others", async () => {
    const deliveries = await Promise.all(Array.from({ length: 6 }, (_, i) => sendingDelivery(300 + i)));
    // NaN is no integer: both databases refuse the attempt row (PostgreSQL its syntax, SQLite its NOT NULL).
    const results = await Promise.allSettled(
      deliveries.map((delivery, i) => store.finish(write(delivery.id, { finishedAt: at, attempt: attempt(i === 2 ? Number.NaN : 350) }))),
    );
    expect(results.map((result) => result.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled", "fulfilled"]);
    expect(await db().delivery.count({ where: { status: "delivered" } })).toBe(5);
    expect(await db().delivery.findUniqueOrThrow({ where: { id: deliveries[2]!.id } })).toMatchObject({ status: "sending", leaseOwner: "worker-a" });
    expect(await db().deliveryAttempt.count()).toBe(5);
  });

  it("writes the first of two outcomes of one delivery given at once; the second finds the lease gone", async () => {
    const delivery = await sendingDelivery(400);
    const results = await Promise.all([
      store.finish(write(delivery.id, { finishedAt: at, response: "first" })),
      store.finish(write(delivery.id, { finishedAt: at, response: "second" })),
    ]);
    expect(results).toEqual([true, false]);
    expect(await db().delivery.findUniqueOrThrow({ where: { id: delivery.id } })).toMatchObject({ status: "delivered", response: "first" });
    expect(await db().deliveryAttempt.count()).toBe(1);
  });

  it("drain() waits for outcomes given but not yet written", async () => {
    const delivery = await sendingDelivery(500);
    const written = store.finish(write(delivery.id, { finishedAt: at }));
    await store.drain();
    expect(await db().delivery.findUniqueOrThrow({ where: { id: delivery.id } })).toMatchObject({ status: "delivered" });
    await expect(written).resolves.toBe(true);
  });

  it.runIf(driver.provider === "postgresql")(
    "PostgreSQL: the outcomes of one turn share a statement, up to its limit, and what is over it goes in another at once",
    async () => {
      if (driver.provider !== "postgresql") return;
      const pool = driver.pool;
      const statements: number[] = [];
      let running = 0;
      let overlapped = false;
      const counting = {
        query(config: pg.QueryConfig) {
          statements.push((config.values?.[0] as unknown[]).length);
          if (++running > 1) overlapped = true;
          return pool.query(config).finally(() => running--);
        },
      } as unknown as pg.Pool;
      const grouped = openOutcomeStore({ ...driver, pool: counting });
      const count = PG_OUTCOME_BATCH + 6;
      const deliveries = await Promise.all(Array.from({ length: count }, (_, i) => sendingDelivery(600 + i)));
      const results = await Promise.all(deliveries.map((delivery) => grouped.finish(write(delivery.id, { finishedAt: at }))));
      expect(results.every(Boolean)).toBe(true);
      expect(statements).toEqual([PG_OUTCOME_BATCH, 6]);
      expect(overlapped).toBe(true);
      expect(await db().delivery.count({ where: { status: "delivered" } })).toBe(count);
      expect(await db().deliveryAttempt.count()).toBe(count);
    },
  );
});
