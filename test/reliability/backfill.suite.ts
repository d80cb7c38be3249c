/**
 * Issue 11's promise, on the production server as `npm start` runs it: a backfill of BACKFILL_ORDERS (default 10,000)
 * past orders with parcels, carrier updates and refunds, read through Shopify's bulk operation (the strict fake of
 * test/stand-ins/shopify-bulk.ts behind the loopback Admin API stand-in) while live webhooks of the same orders
 * arrive, is SIGKILLed halfway and restarted, and then:
 * - exactly the events the chosen mappings call for reached Attentive (each fact once by externalEventId; a second
 *   send only for an attempt a killed process never recorded, and then with the same id);
 * - the live webhooks of facts the backfill also read sent nothing twice;
 * - the app's peak resident memory stayed under 300 MB in both lives;
 * - a second backfill of the same range records and sends nothing.
 * Runs on SQLite, and on PostgreSQL with TEST_DATABASE=postgresql.
 */
import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { threadNames } from "../../bench/lib/cpu";
import { startAttentiveThread, type StandInThread } from "../stand-ins/attentive-thread";
import { ADMIN_ROUTE_PRELOAD, ADMIN_STAND_IN_URL_VARIABLE, startShopifyAdminStandIn, type ShopifyAdminStandIn } from "../stand-ins/shopify-admin-server";
import { startBulkStandIn, type BulkStandIn } from "../stand-ins/shopify-bulk";
import { historyFacts, historyOrders, type HistoryFact, type HistoryOptions } from "../support/history";
import { forEachConcurrently, reportFigures } from "../support/load";
import { envInteger } from "../support/seeded-random";
import { fixtureWith } from "../support/webhooks";
import { SETUP_TIMEOUT_MS, startProductionServer, type ProductionServer } from "./production-server";

const ORDERS = envInteger("BACKFILL_ORDERS", 10_000);
const LIVE = Math.min(300, Math.floor(ORDERS / 10));
const SHOP = "backfill-suite.myshopify.com";
const KEY = `attentive-backfill-key-${randomUUID().slice(0, 8)}`;
const RSS_LIMIT_KB = 300 * 1024;
const DAY = 86_400_000;
const NOW = Date.now();
const HISTORY: HistoryOptions = { orders: ORDERS, seed: 11, since: new Date(NOW - 50 * DAY), until: new Date(NOW - DAY), shop: SHOP };
const MAPPED = ["Order Shipped", "Order Delivered", "Order Refunded"];

/** The facts the three mappings send: every parcel, every "delivered" update, every refund. */
function sends(fact: HistoryFact): boolean {
  return fact.topic === "fulfillments/create" || fact.topic === "refunds/create" || (fact.topic === "fulfillment_events/create" && fact.status === "delivered");
}

let attentive: StandInThread;
let admin: ShopifyAdminStandIn;
let bulk: BulkStandIn;
let app: ProductionServer;
const facts = historyFacts(HISTORY);

beforeAll(async () => {
  // Attentive's limit raised so the run is bound by the app, not by a wait the test imposes.
  attentive = await startAttentiveThread({ options: { apiKeys: [KEY], rateLimitPerSecond: 1_000 } });
  admin = await startShopifyAdminStandIn();
  const orderCount = ORDERS;
  bulk = await startBulkStandIn({
    lines: () => (function* () {
      for (const order of historyOrders(HISTORY)) yield* order.lines;
    })(),
    count: () => orderCount,
    pollsToComplete: 3,
  });
  admin.answer(bulk.handlers);
  app = await startProductionServer({
    attentiveUrl: attentive.graphqlUrl,
    attentiveTimeoutMs: 5_000,
    nodeArgs: ["--import", pathToFileURL(ADMIN_ROUTE_PRELOAD).href],
    env: {
      [ADMIN_STAND_IN_URL_VARIABLE]: admin.origin,
      BACKFILL_INTERVAL_SECONDS: "1",
      BACKFILL_POLL_SECONDS: "0.2",
      LOG_LEVEL: "warn",
    },
  });
  await app.connectShop(SHOP, KEY);
  await app.storeOfflineSession(SHOP);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await app?.stop();
  await bulk?.close();
  await admin?.close();
  await attentive?.close();
});

async function startBackfill(): Promise<string> {
  const mappings = await app.sql.all<{ id: string }>(`SELECT id FROM "Mapping" WHERE shop = $1 AND "eventType" IN ($2, $3, $4)`, SHOP, ...MAPPED);
  expect(mappings).toHaveLength(MAPPED.length);
  const ids = mappings.map((m) => m.id);
  const truth = app.provider === "sqlite" ? 1 : true;
  await app.sql.all(`UPDATE "Mapping" SET enabled = $1 WHERE id IN ($2, $3, $4)`, truth, ...ids);
  const id = `bf-${randomUUID()}`;
  const date = (ms: number) => (app.provider === "sqlite" ? ms : new Date(ms));
  await app.sql.all(
    `INSERT INTO "Backfill" (id, shop, "activeShop", status, since, until, "mappingIds", topics, "nextRunAt", "createdAt", "updatedAt")
     VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $9, $10)`,
    id,
    SHOP,
    SHOP,
    date(HISTORY.since.getTime()),
    date(NOW - 11 * 60_000),
    JSON.stringify(ids),
    JSON.stringify(["fulfillments/create", "fulfillment_events/create", "refunds/create"]),
    date(Date.now()),
    date(Date.now()),
    date(Date.now()),
  );
  return id;
}

const backfillStatus = async (id: string) => (await app.sql.all<{ status: string; lastError: string | null }>(`SELECT status, "lastError" FROM "Backfill" WHERE id = $1`, id))[0];

/** The parcel webhook Shopify would send for a generated order's parcel. */
function liveParcel(fact: HistoryFact): string {
  return fixtureWith("fulfillments_create.json", (body) => {
    body.id = fact.subjectId.replace(/^.*\//, "");
    body.admin_graphql_api_id = fact.subjectId;
    body.order_id = fact.orderId;
    body.created_at = fact.at;
  });
}

describe("history backfill on the production server", () => {
  it(`sends ${ORDERS} orders' mapped history once through live webhooks, a SIGKILL and a second run, under 300 MB`, async () => {
    const expected = new Set(facts.filter(sends).map((f) => f.subjectId));
    const parcels = facts.filter((f) => f.topic === "fulfillments/create");
    const idleRssKb = app.rssKb();
    const startedAt = Date.now();
    const id = await startBackfill();

    // Live webhooks of parcels the backfill also reads: the first half before it reaches them, the rest as it goes.
    const live = parcels.slice(0, LIVE);
    let liveAcknowledged = 0;
    const postLive = forEachConcurrently(live, 4, async (fact) => {
      for (;;) {
        const answer = await app.postWebhook({ topic: "fulfillments/create", shop: SHOP, body: liveParcel(fact), triggeredAt: fact.at });
        if (answer.status === 200) break;
        // No answer (the app is down: killed below) or 503: Shopify sends it again later, and so does this.
        if (answer.status !== 0 && answer.status !== 503) throw new Error(`live webhook answered ${answer.status}: ${answer.body}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      liveAcknowledged += 1;
    });

    // Halfway: SIGKILL, with the memory it peaked at so far.
    const half = Math.floor(expected.size / 2);
    await app.waitFor(
      "half of the backfill to be sent",
      async () => (await app.sql.count(`SELECT COUNT(*) FROM "Delivery" WHERE shop = $1 AND status = 'delivered'`, SHOP)) >= half,
      900_000,
      200,
    );
    const peakBeforeKb = app.peakRssKb();
    // The three mappings render on the worker's own thread (decision 024), so no render thread was ever started
    // (decision 033): about 30 MB each of the 300.
    const renderThreads = [...threadNames(app.pid).values()].filter((name) => name === "render").length;
    const killedAfterMs = Date.now() - startedAt;
    await app.kill();
    await app.restart();
    await postLive;

    await app.waitFor(
      "the backfill to complete after the restart",
      async () => {
        const row = await backfillStatus(id);
        if (row?.status === "failed" || row?.status === "cancelled") throw new Error(`backfill ${row.status}: ${row.lastError}`);
        return row?.status === "completed";
      },
      900_000,
      250,
    );
    const peakAfterKb = app.peakRssKb();
    const totalMs = Date.now() - startedAt;
    expect(bulk.violations).toEqual([]);
    expect(admin.unexpected).toEqual([]);
    expect(liveAcknowledged).toBe(live.length);

    // Every expected fact delivered, nothing else; repeats only for sends a killed process never recorded.
    const rows = await app.sql.all<{ eventKey: string; externalEventId: string; status: string; attempts: number; logged: number }>(
      `SELECT w."eventKey", d."externalEventId", d.status, d.attempts,
              (SELECT COUNT(*) FROM "DeliveryAttempt" a WHERE a."deliveryId" = d.id) AS logged
       FROM "Delivery" d JOIN "Webhook" w ON w.id = d."webhookRecordId" WHERE d.shop = $1 AND d.status = 'delivered'`,
      SHOP,
    );
    expect(new Set(rows.map((row) => row.eventKey))).toEqual(expected);
    expect(rows).toHaveLength(expected.size);
    const open = await app.sql.count(`SELECT COUNT(*) FROM "Delivery" WHERE shop = $1 AND status NOT IN ('delivered', 'skipped')`, SHOP);
    expect(open).toBe(0);
    const { received } = await attentive.stats();
    const sent = new Map<string, number>();
    for (const externalId of received) sent.set(externalId, (sent.get(externalId) ?? 0) + 1);
    const known = new Set(rows.map((row) => row.externalEventId));
    expect([...sent.keys()].filter((externalId) => !known.has(externalId))).toEqual([]);
    const unexplained = rows.filter((row) => (sent.get(row.externalEventId) ?? 0) - 1 > Number(row.attempts) - Number(row.logged));
    expect(unexplained).toEqual([]);
    const repeats = received.length - sent.size;

    // The live parcels: one webhook row each (the backfill's or the live one), never two deliveries.
    const liveRows = await app.sql.count(`SELECT COUNT(*) FROM "Webhook" WHERE shop = $1 AND topic = 'fulfillments/create' AND "webhookId" NOT LIKE 'backfill:%'`, SHOP);

    // A second backfill of the same range: read again, nothing recorded, nothing sent.
    const before = received.length;
    const again = await startBackfill();
    await app.waitFor("the second backfill to complete", async () => (await backfillStatus(again))?.status === "completed", 900_000, 250);
    expect(await app.sql.count(`SELECT COUNT(*) FROM "Delivery" WHERE "backfillId" = $1`, again)).toBe(0);
    expect((await attentive.stats()).received.length).toBe(before);
    expect(bulk.operations).toHaveLength(2);
    // The restart resumed the file from its saved place (a Range request) rather than from the start, if it was reading.
    const ranged = bulk.downloads.filter((d) => d.range !== null).length;

    reportFigures("backfill", {
      orders: ORDERS,
      facts: facts.length,
      eventsExpected: expected.size,
      eventsDelivered: received.length,
      repeatsFromCrashWindow: repeats,
      liveWebhooks: live.length,
      liveWebhooksRecordedAsLive: liveRows,
      killedAfterMs,
      totalMs,
      eventsPerSecond: Math.round((expected.size / totalMs) * 1000),
      idleRssMbBeforeBackfill: Math.round(idleRssKb / 1024),
      renderThreadsBeforeKill: renderThreads,
      peakRssMbBeforeKill: Math.round(peakBeforeKb / 1024),
      peakRssMbAfterRestart: Math.round(peakAfterKb / 1024),
      downloads: bulk.downloads.length,
      rangedDownloads: ranged,
    });
    expect(renderThreads).toBe(0);
    expect(peakBeforeKb).toBeLessThan(RSS_LIMIT_KB);
    expect(peakAfterKb).toBeLessThan(RSS_LIMIT_KB);
  });
});
