/**
 * The settle step against a real database (SQLite, or PostgreSQL with TEST_DATABASE=postgresql)
 * and the Attentive stand-in over HTTP: absurd Retry-After values, NUL in order data, and a
 * database that refuses the log detail after Attentive accepted the event
 * (docs/decisions/012-one-settle-step.md).
 */
import pino from "pino";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { db, driverOf } from "~/db.server";
import { processDueDeliveries } from "~/delivery/worker.server";
import { MAX_RATE_LIMIT_COOLDOWN_MS } from "~/delivery/retry-policy";
import { retryDeliveries, retryDelivery } from "~/models/Delivery.server";
import { FAST_RETRY, postWebhook, usePipeline, workerOptions } from "../support/pipeline";
import { fixtureWith } from "../support/webhooks";

const pipeline = usePipeline();

function order(change: (body: Record<string, unknown>) => void = () => {}) {
  return fixtureWith("orders_fulfilled.derived.json", change);
}

/** A logger whose lines the test can read. */
function capturedLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level: "info" }, stream), text: () => lines.join("") };
}

describe("Retry-After values no service would mean", () => {
  it("a 429 asking for 99,999,999,999 s puts the delivery back for at most a minute, without spending an attempt", async () => {
    pipeline.standIn.injectFaults({ kind: "status", status: 429, headers: { "retry-after": "99999999999" } });
    expect((await postWebhook({ topic: "orders/fulfilled", body: order() })).status).toBe(200);
    let virtualMs = Date.now();
    const options = workerOptions(pipeline.standIn, { now: () => new Date(virtualMs) });

    await processDueDeliveries(options);
    const waiting = await db().delivery.findFirstOrThrow();
    expect(waiting.status).toBe("pending");
    expect(waiting.attempts).toBe(0);
    expect(waiting.nextAttemptAt.getTime() - virtualMs).toBeLessThanOrEqual(MAX_RATE_LIMIT_COOLDOWN_MS);
    expect(waiting.lastError).toContain("Attentive asked to wait");

    // A minute later (virtual time), the next pass sends it.
    virtualMs += MAX_RATE_LIMIT_COOLDOWN_MS + 1;
    await processDueDeliveries(options);
    expect((await db().delivery.findFirstOrThrow()).status).toBe("delivered");
    expect(pipeline.standIn.received).toHaveLength(1);
  });

  it("a 503 asking for 10^20 s waits at most the policy's longest delay and stores a valid date", async () => {
    pipeline.standIn.injectFaults({ kind: "status", status: 503, headers: { "retry-after": "100000000000000000000" } });
    expect((await postWebhook({ topic: "orders/fulfilled", body: order() })).status).toBe(200);
    const nowMs = Date.now();
    const { logger, text } = capturedLogger();
    await processDueDeliveries(workerOptions(pipeline.standIn, { logger, now: () => new Date(nowMs) }));

    const delivery = await db().delivery.findFirstOrThrow({ include: { attemptLog: true } });
    expect(delivery.status).toBe("pending");
    expect(delivery.errorKind).toBe("retryable");
    expect(Number.isNaN(delivery.nextAttemptAt.getTime())).toBe(false);
    expect(delivery.nextAttemptAt.getTime() - nowMs).toBeLessThanOrEqual(FAST_RETRY.maxDelayMs);
    expect(delivery.lastError).toContain("Attentive asked to wait");
    expect(delivery.attemptLog).toHaveLength(1);
    expect(`${delivery.lastError} ${text()}`).not.toContain("jon@example.com");
  });
});

describe("text the log keeps", () => {
  it("an order whose name and properties carry NUL is sent once and delivered", async () => {
    const body = order((o) => {
      o.name = "#9999\u0000";
      o.note = "gift\u0000wrap";
      (o.customer as Record<string, unknown>).first_name = "Jo\u0000n";
    });
    expect((await postWebhook({ topic: "orders/fulfilled", body })).status).toBe(200);
    const { logger, text } = capturedLogger();
    let virtualMs = Date.now();
    const options = workerOptions(pipeline.standIn, { logger, now: () => new Date(virtualMs) });
    for (let pass = 0; pass < 5; pass++) {
      await processDueDeliveries(options);
      virtualMs += 60_000;
    }

    expect(pipeline.standIn.received).toHaveLength(1);
    const delivery = await db().delivery.findFirstOrThrow({ include: { attemptLog: true } });
    expect(delivery).toMatchObject({ status: "delivered", lastError: null, orderName: "#9999\uFFFD" });
    expect(delivery.attemptLog.map((attempt) => attempt.outcome)).toEqual(["delivered"]);
    expect(text()).not.toContain("mapping");
  });
});

describe("after Attentive accepted the event", () => {
  /** Run on the driver: Prisma's raw queries do not use the test file's PostgreSQL schema. */
  async function exec(sql: string) {
    const driver = driverOf(db());
    if (driver.provider === "postgresql") await driver.pool.query(sql);
    else driver.db.exec(sql);
  }
  const provider = () => driverOf(db()).provider;

  /** A database that refuses any delivered outcome carrying Attentive's answer, quoting a customer's email. */
  async function refuseDeliveredDetail() {
    if (provider() === "postgresql") {
      await exec(`CREATE OR REPLACE FUNCTION refuse_detail() RETURNS trigger AS $$
        BEGIN
          IF NEW.status = 'delivered' AND NEW.response IS NOT NULL THEN
            RAISE EXCEPTION 'value refused for jon@example.com';
          END IF;
          RETURN NEW;
        END $$ LANGUAGE plpgsql`);
      await exec(`CREATE TRIGGER refuse_detail BEFORE UPDATE ON "Delivery" FOR EACH ROW EXECUTE FUNCTION refuse_detail()`);
    } else {
      await exec(`CREATE TRIGGER refuse_detail BEFORE UPDATE ON "Delivery"
        WHEN NEW.status = 'delivered' AND NEW.response IS NOT NULL
        BEGIN SELECT RAISE(ABORT, 'value refused for jon@example.com'); END`);
    }
  }

  afterEach(async () => {
    await exec(`DROP TRIGGER IF EXISTS refuse_detail${provider() === "postgresql" ? ` ON "Delivery"` : ""}`);
  });

  it("a failure to write the log detail never sends the event again: the status is written alone", async () => {
    expect((await postWebhook({ topic: "orders/fulfilled", body: order() })).status).toBe(200);
    await refuseDeliveredDetail();
    const { logger, text } = capturedLogger();
    let virtualMs = Date.now();
    const options = workerOptions(pipeline.standIn, { logger, now: () => new Date(virtualMs) });
    for (let pass = 0; pass < 5; pass++) {
      await processDueDeliveries(options);
      virtualMs += 60_000;
    }

    expect(pipeline.standIn.received).toHaveLength(1);
    const delivery = await db().delivery.findFirstOrThrow({ include: { attemptLog: true } });
    expect(delivery).toMatchObject({ status: "delivered", lastError: null, response: null, attempts: 1 });
    expect(delivery.attemptLog.map((attempt) => attempt.outcome)).toEqual(["delivered"]);
    expect(text()).toContain("writing the outcome alone");
    expect(text()).not.toContain("jon@example.com");
  });
});

describe("a merchant's Retry", () => {
  it("makes a delivery that waits far in the future due now, and says plainly why a delivered one is not sent again", async () => {
    expect((await postWebhook({ topic: "orders/fulfilled", body: order() })).status).toBe(200);
    // As an earlier version left it after `Retry-After: 99999999999`: pending until the year 5195.
    const waiting = await db().delivery.findFirstOrThrow();
    await db().delivery.update({ where: { id: waiting.id }, data: { nextAttemptAt: new Date("5195-01-01T00:00:00Z"), attempts: 1 } });

    expect(await retryDeliveries(db(), waiting.shop, { id: waiting.id })).toBe(1);
    await processDueDeliveries(workerOptions(pipeline.standIn));
    expect(await db().delivery.findFirstOrThrow()).toMatchObject({ status: "delivered", attempts: 2 });

    const again = await retryDelivery(db(), waiting.shop, waiting.id);
    expect(again).toEqual({ ok: false, message: "This delivery was already delivered: Attentive has the event, so it is not sent again." });
    expect(pipeline.standIn.received).toHaveLength(1);
  });
});
