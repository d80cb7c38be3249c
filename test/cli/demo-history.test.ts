/**
 * The demo's history backfill parts (app/cli/demo-history.ts) through the real runner and worker in process: its
 * JSONL must read as Shopify's grouped format does (no bad line), its bulk-operation answers must take the runner's
 * queries, and the five past orders must become exactly the events the demo promises, stale, once; a second backfill
 * of the same days sends nothing. CI also runs the demo itself against the built app.
 */
import { Session } from "@shopify/shopify-api";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runDueBackfills, type BackfillRunnerOptions } from "~/backfill/runner.server";
import { demoHistory, startDemoBulkStandIn, type DemoBulkStandIn } from "~/cli/demo-history";
import { demoMappings, demoWebhooks } from "~/cli/demo-scenario";
import { db } from "~/db.server";
import { latestBackfill, startBackfill } from "~/models/Backfill.server";
import { replaceMappings } from "~/models/Mapping.server";
import { SHOPIFY_API_VERSION, sessionStorage, unauthenticated } from "~/shopify.server";
import { fakeAdminApi as admin } from "../stand-ins/shopify-admin";
import { drain, usePipeline, workerOptions } from "../support/pipeline";
import { TEST_SHOP } from "../support/webhooks";

const pipeline = usePipeline();
const NOW = new Date();
const DAY = 86_400_000;
let bulk: DemoBulkStandIn;

beforeEach(async () => {
  admin.reset();
  bulk = await startDemoBulkStandIn(demoHistory(NOW, TEST_SHOP));
  admin.answer(bulk.handlers);
  await sessionStorage.storeSession(new Session({ id: `offline_${TEST_SHOP}`, shop: TEST_SHOP, state: "s", isOnline: false, accessToken: "shpat_demo", scope: "read_orders" }));
  await replaceMappings(db(), TEST_SHOP, demoMappings(demoWebhooks(NOW)));
});
afterEach(async () => {
  await bulk.close();
});

const runner: BackfillRunnerOptions = {
  prisma: db(),
  adminForShop: (shop) => unauthenticated.admin(shop),
  logger: pino({ level: "silent" }),
  apiVersion: SHOPIFY_API_VERSION,
  pollMs: 0,
};

async function backfill() {
  const mappings = await db().mapping.findMany({ where: { shop: TEST_SHOP, enabled: true, topic: { in: ["fulfillments/create", "fulfillment_events/create", "refunds/create"] } } });
  const started = await startBackfill(db(), { shop: TEST_SHOP, since: new Date(NOW.getTime() - 25 * DAY), until: new Date(NOW.getTime() - 2 * DAY), mappingIds: mappings.map((m) => m.id), grantedScope: "read_orders" });
  expect(started).toMatchObject({ ok: true });
  const before = pipeline.standIn.received.length;
  for (let i = 0; i < 50; i++) {
    await runDueBackfills(runner);
    await drain(workerOptions(pipeline.standIn), 30_000);
    const view = await latestBackfill(db(), TEST_SHOP);
    if (view?.status === "completed") return { view, sent: pipeline.standIn.received.slice(before) };
    expect(view?.status).not.toMatch(/failed|cancelled/);
  }
  throw new Error("the demo's backfill did not complete");
}

describe("the demo's history backfill", () => {
  it("reads five past orders into the promised events, stale and once; a second run sends nothing", async () => {
    const { view, sent } = await backfill();
    expect(view.ordersRead).toBe(5);
    expect(view.badLines).toBe(0);
    expect(bulk.unexpected).toEqual([]);
    expect(admin.unexpected).toEqual([]);
    const byType = (type: string) => sent.filter((e) => e.input.type === type).map((e) => e.properties.orderName).sort();
    expect(byType("Order Shipped")).toEqual(["#9001", "#9002", "#9003", "#9004", "#9005"]);
    expect(byType("Order In Transit")).toEqual(["#9001", "#9002", "#9003", "#9004", "#9005"]);
    expect(byType("Order Out For Delivery")).toEqual(["#9001", "#9002", "#9003", "#9004"]);
    expect(byType("Order Delivered")).toEqual(["#9001", "#9002", "#9003", "#9004"]);
    expect(byType("Order Refunded")).toEqual(["#9002"]);
    expect(sent).toHaveLength(19);
    for (const event of sent) expect(event.input.user.email).toBe("jon@example.com");
    expect(await db().delivery.count({ where: { backfillId: view.id, status: "delivered", stale: false } })).toBe(0);

    const second = await backfill();
    expect(second.view.counts.recorded).toBe(0);
    expect(second.sent).toEqual([]);
    expect(bulk.operations).toBe(2);
  });
});
