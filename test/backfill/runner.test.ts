/**
 * The backfill runner end to end in one process: a range's orders read through the (fake, strict) bulk operation and
 * its JSONL result, recorded as the events the chosen mappings call for, sent once by the real worker; a second
 * backfill of the same range sends nothing.
 */
import { Session } from "@shopify/shopify-api";
import pino from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runDueBackfills, type BackfillRunnerOptions } from "~/backfill/runner.server";
import { db } from "~/db.server";
import { latestBackfill, startBackfill } from "~/models/Backfill.server";
import { SHOPIFY_API_VERSION, sessionStorage, unauthenticated } from "~/shopify.server";
import { fakeAdminApi as admin } from "../stand-ins/shopify-admin";
import { historyAnswers, startBulkStandIn, type BulkStandIn } from "../stand-ins/shopify-bulk";
import { historyFacts, historyOrders, type HistoryOptions } from "../support/history";
import { drain, usePipeline, workerOptions } from "../support/pipeline";
import { TEST_SHOP } from "../support/webhooks";

const pipeline = usePipeline();
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);
const DAY = 86_400_000;
const HISTORY: HistoryOptions = { orders: 40, seed: 7, since: new Date(NOW.getTime() - 30 * DAY), until: new Date(NOW.getTime() - 2 * DAY) };

let bulk: BulkStandIn;
beforeAll(async () => {
  bulk = await startBulkStandIn({ ...historyAnswers(() => historyOrders(HISTORY)), pollsToComplete: 2 });
});
afterAll(() => bulk.close());

beforeEach(async () => {
  admin.reset();
  admin.answer(bulk.handlers);
  bulk.reset();
  await sessionStorage.storeSession(new Session({ id: `offline_${TEST_SHOP}`, shop: TEST_SHOP, state: "s", isOnline: false, accessToken: "shpat_backfill", scope: "read_orders,read_fulfillments" }));
});

function runner(overrides: Partial<BackfillRunnerOptions> = {}): BackfillRunnerOptions {
  return { prisma: db(), adminForShop: (shop) => unauthenticated.admin(shop), logger: pino({ level: "silent" }), apiVersion: SHOPIFY_API_VERSION, pollMs: 0, ordersPerWrite: 7, ...overrides };
}

async function runUntilSettled(options: BackfillRunnerOptions) {
  for (let i = 0; i < 200; i++) {
    await runDueBackfills(options);
    await drain(workerOptions(pipeline.standIn), 30_000);
    const view = await latestBackfill(db(), TEST_SHOP);
    if (view && ["completed", "failed", "cancelled"].includes(view.status)) return view;
  }
  throw new Error("the backfill did not finish");
}

async function mappingIds(...eventTypes: string[]) {
  const rows = await db().mapping.findMany({ where: { shop: TEST_SHOP, eventType: { in: eventTypes } } });
  await db().mapping.updateMany({ where: { id: { in: rows.map((r) => r.id) } }, data: { enabled: true } });
  return rows.map((r) => r.id);
}

describe("a history backfill", () => {
  it("sends exactly the events the chosen mappings call for, once, and a second backfill of the range sends nothing", async () => {
    const ids = await mappingIds("Order Shipped", "Order Delivered", "Order Refunded");
    expect(ids).toHaveLength(3);
    const started = await startBackfill(db(), { shop: TEST_SHOP, since: HISTORY.since, mappingIds: ids, grantedScope: "read_orders,read_fulfillments", now: NOW });
    expect(started).toMatchObject({ ok: true });
    const view = await runUntilSettled(runner({ now: () => NOW }));
    expect(view.status).toBe("completed");
    expect(bulk.violations).toEqual([]);
    expect(admin.unexpected).toEqual([]);

    const facts = historyFacts(HISTORY);
    const expected = facts
      .filter((f) => f.topic === "fulfillments/create" || f.topic === "refunds/create" || (f.topic === "fulfillment_events/create" && f.status === "delivered"))
      .map((f) => f.subjectId)
      .sort();
    const sent = pipeline.standIn.received;
    expect(sent.length).toBe(expected.length);
    expect(new Set(sent.map((e) => e.input.externalEventId)).size).toBe(sent.length);
    const webhooks = await db().webhook.findMany({ where: { deliveries: { some: { status: "delivered" } } }, select: { eventKey: true } });
    expect(webhooks.map((w) => w.eventKey).sort()).toEqual(expected);
    expect(view.counts.delivered).toBe(expected.length);
    expect(view.ordersRead).toBe(HISTORY.orders);
    expect(view.badLines).toBe(0);
    // Every parcel event found its order in the snapshot the backfill kept: no Admin API order look-up.
    expect(admin.calls.filter((c) => !c.operationName.startsWith("Backfill"))).toEqual([]);
    const delivered = sent.find((e) => e.input.type === "Order Delivered")!;
    expect(delivered.input.properties).toMatchObject({ status: "delivered" });

    const again = await startBackfill(db(), { shop: TEST_SHOP, since: HISTORY.since, mappingIds: ids, grantedScope: "read_orders,read_fulfillments", now: NOW });
    expect(again).toMatchObject({ ok: true });
    const second = await runUntilSettled(runner({ now: () => NOW }));
    expect(second.status).toBe("completed");
    expect(second.counts.recorded).toBe(0);
    expect(pipeline.standIn.received.length).toBe(expected.length);
  });
});
