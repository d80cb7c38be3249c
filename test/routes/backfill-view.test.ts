/**
 * The Past orders page (app/routes/app.backfill.tsx) and the delivery log's Backfill source, through their loaders
 * and actions with signed session tokens against the real database, Shopify's Admin API being the strict bulk fake
 * (test/stand-ins/shopify-bulk.ts in the in-process fake): what the page's data holds (and never: tokens, the bulk
 * operation), the start form's errors on the right field, counting, read_all_orders, pause, resume and cancel (which
 * asks Shopify to cancel its bulk operation), and the log filtered to backfilled events.
 */
import pino from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runDueBackfills, type BackfillRunnerOptions } from "~/backfill/runner.server";
import { db } from "~/db.server";
import { latestBackfill } from "~/models/Backfill.server";
import { createMapping } from "~/models/Mapping.server";
import { ensureShop } from "~/models/Shop.server";
import * as home from "~/routes/app._index";
import * as page from "~/routes/app.backfill";
import * as deliveries from "~/routes/app.deliveries._index";
import { SHOPIFY_API_VERSION, unauthenticated } from "~/shopify.server";
import { adminRequest, call, storeOfflineSession } from "../support/admin-requests";
import { fakeAdminApi as admin } from "../stand-ins/shopify-admin";
import { historyAnswers, startBulkStandIn, type BulkStandIn } from "../stand-ins/shopify-bulk";
import { historyOrders, type HistoryOptions } from "../support/history";
import { drain, postWebhook, TEST_ATTENTIVE_KEY, usePipeline, workerOptions } from "../support/pipeline";
import { fixtureText, TEST_SHOP } from "../support/webhooks";

const pipeline = usePipeline();
const DAY = 86_400_000;
const OTHER_SHOP = "other-shop.myshopify.com";
const HISTORY: HistoryOptions = { orders: 12, seed: 3, since: new Date(Date.now() - 20 * DAY), until: new Date(Date.now() - 2 * DAY) };


let bulk: BulkStandIn;
beforeAll(async () => {
  bulk = await startBulkStandIn({ ...historyAnswers(() => historyOrders(HISTORY)), pollsToComplete: 2 });
});
afterAll(() => bulk.close());

beforeEach(async () => {
  admin.reset();
  admin.answer(bulk.handlers);
  bulk.reset();
  // The sessions hold read_orders only (storeOfflineSession), as a fresh install does.
  await storeOfflineSession(TEST_SHOP);
  await storeOfflineSession(OTHER_SHOP);
  await ensureShop(db(), OTHER_SHOP);
});

type LoaderData = Awaited<ReturnType<typeof page.loader>>;
type ActionBody = { ok: true; message: string; count?: { count: number; atLeast: boolean; needsAllOrders: boolean } } | { ok: false; errors: Record<string, string> };

async function load(shop = TEST_SHOP): Promise<LoaderData> {
  const result = await call(page.loader, await adminRequest(shop, "/app/backfill"));
  expect(result.status).toBe(200);
  return result.body as LoaderData;
}

async function post(form: Record<string, string> | Array<[string, string]>, shop = TEST_SHOP) {
  const request = await adminRequest(shop, "/app/backfill", { form: {} });
  // adminRequest takes a record; a repeated field (mappingId) needs the body built here.
  const body = new URLSearchParams(form);
  const signed = new Request(request.url, { method: "POST", headers: request.headers, body });
  const result = await call(page.action, signed);
  return { status: result.status, body: result.body as ActionBody };
}

const day = (msAgo: number) => new Date(Date.now() - msAgo).toISOString().slice(0, 10);

async function enabledChoices(): Promise<string[]> {
  return (await load()).choices.mappings.filter((mapping) => mapping.enabled).map((mapping) => mapping.id);
}

async function turnedOffMapping() {
  await createMapping(db(), TEST_SHOP, { topic: "refunds/create", eventType: "Refund Noted", enabled: false, properties: {} });
}

function runner(): BackfillRunnerOptions {
  return { prisma: db(), adminForShop: (shop) => unauthenticated.admin(shop), logger: pino({ level: "silent" }), apiVersion: SHOPIFY_API_VERSION, pollMs: 0 };
}

async function runUntilSettled() {
  for (let i = 0; i < 100; i++) {
    await runDueBackfills(runner());
    await drain(workerOptions(pipeline.standIn), 30_000);
    const view = await latestBackfill(db(), TEST_SHOP);
    if (view && ["completed", "failed", "cancelled"].includes(view.status)) return view;
  }
  throw new Error("the backfill did not finish");
}

describe("the page's data", () => {
  it("offers the shop's mappings with a history (turned-off ones too), the topics without one and why, and no backfill yet", async () => {
    await turnedOffMapping();
    const data = await load();
    expect(data.backfill).toBeNull();
    expect(data.choices.mappings.length).toBeGreaterThan(0);
    const own = await db().mapping.findMany({ where: { shop: TEST_SHOP } });
    for (const choice of data.choices.mappings) expect(own.find((mapping) => mapping.id === choice.id)).toMatchObject({ enabled: choice.enabled, eventType: choice.eventType });
    expect(data.choices.mappings.some((mapping) => !mapping.enabled)).toBe(true);
    expect(data.choices.unavailable.length).toBeGreaterThan(0);
    for (const topic of data.choices.unavailable) expect(topic.why.length).toBeGreaterThan(10);
    expect(data.recentFrom < data.defaultSince).toBe(true);
    expect(data.defaultSince < data.today).toBe(true);
  });

  it("holds no token, key, bulk operation id or result URL, even with a backfill under way", async () => {
    const started = await post([["intent", "start"], ["since", day(10 * DAY)], ...(await enabledChoices()).map((id): [string, string] => ["mappingId", id])]);
    expect(started).toMatchObject({ status: 200, body: { ok: true, message: "Backfill started" } });
    await runDueBackfills(runner());
    const row = await db().backfill.findFirstOrThrow({ where: { shop: TEST_SHOP } });
    expect(row.bulkOperationId).toMatch(/^gid:\/\/shopify\/BulkOperation\//);
    const text = JSON.stringify(await load());
    const session = await db().session.findFirstOrThrow({ where: { shop: TEST_SHOP } });
    for (const secret of [session.accessToken, TEST_ATTENTIVE_KEY, row.bulkOperationId!, bulk.origin, row.leaseOwner ?? "no-lease-owner"]) expect(text).not.toContain(secret);
    expect(JSON.parse(text)).toMatchObject({ backfill: { id: row.id, status: "querying" } });
    // Another shop sees none of it.
    expect((await load(OTHER_SHOP)).backfill).toBeNull();
  });
});

describe("starting", () => {
  it("answers each mistake on its field, and records nothing", async () => {
    const ids = await enabledChoices();
    const mapping = (id: string): [string, string] => ["mappingId", id];
    const cases: Array<{ form: Array<[string, string]>; field: string; says: RegExp }> = [
      { form: [["since", ""], mapping(ids[0]!)], field: "since", says: /first day/ },
      { form: [["since", "2026-13-45"], mapping(ids[0]!)], field: "since", says: /first day/ },
      { form: [["since", day(5 * DAY)], ["until", "soon"], mapping(ids[0]!)], field: "until", says: /last day/ },
      { form: [["since", day(2 * DAY)], ["until", day(5 * DAY)], mapping(ids[0]!)], field: "since", says: /before the last day/ },
      { form: [["since", day(5 * DAY)]], field: "mappings", says: /at least one mapping/ },
      { form: [["since", day(5 * DAY)], mapping("not-a-mapping")], field: "mappings", says: /no longer exists/ },
    ];
    for (const { form, field, says } of cases) {
      const result = await post([["intent", "start"], ...form]);
      expect(result.status, JSON.stringify(form)).toBe(400);
      expect(result.body.ok).toBe(false);
      const errors = (result.body as { errors: Record<string, string> }).errors;
      expect(Object.keys(errors), JSON.stringify(form)).toEqual([field]);
      expect(errors[field]).toMatch(says);
    }
    expect(await db().backfill.count()).toBe(0);
  });

  it("refuses a turned-off mapping, and another shop's mapping as if it did not exist", async () => {
    await turnedOffMapping();
    const off = (await load()).choices.mappings.find((mapping) => !mapping.enabled)!;
    const refused = await post([["intent", "start"], ["since", day(5 * DAY)], ["mappingId", off.id]]);
    expect(refused.body).toEqual({ ok: false, errors: { mappings: expect.stringMatching(/turned off/) } });
    const foreign = await db().mapping.findFirstOrThrow({ where: { shop: OTHER_SHOP, enabled: true } });
    const stolen = await post([["intent", "start"], ["since", day(5 * DAY)], ["mappingId", foreign.id]]);
    expect(stolen.body).toEqual({ ok: false, errors: { mappings: expect.stringMatching(/no longer exists/) } });
    expect(await db().backfill.count()).toBe(0);
  });

  it("allows one backfill at a time per shop: a second start is a form error", async () => {
    const form: Array<[string, string]> = [["intent", "start"], ["since", day(5 * DAY)], ...(await enabledChoices()).map((id): [string, string] => ["mappingId", id])];
    expect((await post(form)).status).toBe(200);
    const second = await post(form);
    expect(second.status).toBe(409);
    expect(second.body).toEqual({ ok: false, errors: { form: expect.stringMatching(/already under way/) } });
  });

  it("rejects an unknown intent", async () => {
    expect(await post({ intent: "explode" })).toEqual({ status: 400, body: { ok: false, errors: { form: expect.stringMatching(/Unknown action/) } } });
  });
});

describe("counting and read_all_orders", () => {
  it("counts the range's orders with Shopify (the session's shop, the same search the bulk query uses)", async () => {
    const counted = await post({ intent: "count", since: day(30 * DAY), until: "" });
    expect(counted).toEqual({
      status: 200,
      body: { ok: true, message: `${HISTORY.orders} orders in this range`, count: { count: HISTORY.orders, atLeast: false, needsAllOrders: false, since: day(30 * DAY), until: "" } },
    });
    expect(admin.calls.map((c) => [c.operationName, c.shop])).toEqual([["BackfillOrdersCount", TEST_SHOP]]);
    expect(bulk.violations).toEqual([]);
  });

  it("says 10,000+ when Shopify's count is a floor", async () => {
    admin.answer({ BackfillOrdersCount: () => ({ body: { data: { ordersCount: { count: 10_000, precision: "AT_LEAST" } } } }) });
    const counted = await post({ intent: "count", since: day(30 * DAY) });
    expect(counted.body).toMatchObject({ ok: true, message: "10,000+ orders in this range", count: { atLeast: true } });
  });

  it("answers a failed count with something to do, and a bad range on its field without asking Shopify", async () => {
    admin.answer({ BackfillOrdersCount: () => ({ status: 500, body: { errors: "Internal error" } }) });
    const failed = await post({ intent: "count", since: day(30 * DAY) });
    expect(failed).toEqual({ status: 502, body: { ok: false, errors: { form: expect.stringMatching(/Try again/) } } });
    admin.reset();
    const bad = await post({ intent: "count", since: "yesterday" });
    expect(bad).toEqual({ status: 400, body: { ok: false, errors: { since: expect.stringMatching(/first day/) } } });
    expect(admin.calls).toEqual([]);
  });

  it("needs read_all_orders beyond 60 days: the page knows it lacks it, the count says so, start refuses; once granted, all pass", async () => {
    expect((await load()).allOrdersGranted).toBe(false);
    const old = day(90 * DAY);
    expect((await load()).recentFrom > old).toBe(true);
    expect((await post({ intent: "count", since: old })).body).toMatchObject({ ok: true, count: { needsAllOrders: true } });
    expect((await post({ intent: "count", since: day(59 * DAY) })).body).toMatchObject({ ok: true, count: { needsAllOrders: false } });
    const ids = await enabledChoices();
    const refused = await post([["intent", "start"], ["since", old], ["mappingId", ids[0]!]]);
    expect(refused).toEqual({ status: 400, body: { ok: false, errors: { since: expect.stringMatching(/read_all_orders/) } } });

    // The merchant granted it in Shopify's dialog: the page asks Shopify, not the browser.
    admin.answer({
      ...bulk.handlers,
      FetchAccessScopes: () => ({
        body: {
          data: {
            app: {
              requestedAccessScopes: [{ handle: "read_orders" }],
              optionalAccessScopes: [{ handle: "read_fulfillments" }, { handle: "read_returns" }, { handle: "read_all_orders" }],
              installation: { accessScopes: [{ handle: "read_orders" }, { handle: "read_all_orders" }] },
            },
          },
        },
      }),
    });
    expect(await post({ intent: "scopes-granted" })).toEqual({ status: 200, body: { ok: true, message: "Access granted" } });
    expect((await load()).allOrdersGranted).toBe(true);
    expect((await post({ intent: "count", since: old })).body).toMatchObject({ ok: true, count: { needsAllOrders: false } });
    expect((await post([["intent", "start"], ["since", old], ["mappingId", ids[0]!]])).status).toBe(200);
    // The other shop's grant is its own.
    expect((await load(OTHER_SHOP)).allOrdersGranted).toBe(false);
  });
});

describe("pause, resume and cancel", () => {
  it("say so when there is nothing to change", async () => {
    for (const intent of ["pause", "resume", "cancel"]) {
      const result = await post({ intent });
      expect(result.status, intent).toBe(409);
      expect(result.body).toEqual({ ok: false, errors: { form: expect.stringMatching(/No (paused )?backfill/) } });
    }
  });

  it("pause and resume the shop's backfill; cancel skips what waits and cancels Shopify's bulk operation", async () => {
    const ids = await enabledChoices();
    expect((await post([["intent", "start"], ["since", day(19 * DAY)], ...ids.map((id): [string, string] => ["mappingId", id])])).status).toBe(200);
    await runDueBackfills(runner());
    expect((await load()).backfill).toMatchObject({ status: "querying" });

    expect(await post({ intent: "pause" })).toEqual({ status: 200, body: { ok: true, message: expect.stringMatching(/paused/) } });
    expect((await load()).backfill).toMatchObject({ status: "paused" });
    // Another shop's actions touch nothing of this one.
    expect((await post({ intent: "resume" }, OTHER_SHOP)).status).toBe(409);
    expect((await post({ intent: "cancel" }, OTHER_SHOP)).status).toBe(409);
    expect((await load()).backfill).toMatchObject({ status: "paused" });

    expect(await post({ intent: "resume" })).toEqual({ status: 200, body: { ok: true, message: "Backfill resumed." } });
    expect((await load()).backfill).toMatchObject({ status: "querying" });

    admin.calls.length = 0;
    expect(await post({ intent: "cancel" })).toEqual({ status: 200, body: { ok: true, message: expect.stringMatching(/cancelled/) } });
    const data = await load();
    expect(data.backfill).toMatchObject({ status: "cancelled", finishedAt: expect.any(String) });
    const cancels = admin.calls.filter((c) => c.operationName === "BackfillBulkOperationCancel");
    expect(cancels).toEqual([expect.objectContaining({ shop: TEST_SHOP, variables: { id: bulk.operations[0]!.id } })]);
    expect(bulk.operations[0]!.status).toBe("CANCELING");
    // A new one can start after.
    expect((await post([["intent", "start"], ["since", day(19 * DAY)], ["mappingId", ids[0]!]])).status).toBe(200);
  });
});

describe("the delivery log's Backfill source", () => {
  it("lists only backfilled deliveries, marked as past orders, and counts them apart from live webhooks", async () => {
    // One live webhook delivery first.
    await postWebhook({ topic: "orders/fulfilled", body: fixtureText("orders_fulfilled.derived.json") });
    await drain(workerOptions(pipeline.standIn));
    const live = await db().delivery.findMany({ where: { shop: TEST_SHOP } });
    expect(live.length).toBeGreaterThan(0);

    const ids = await enabledChoices();
    expect((await post([["intent", "start"], ["since", day(25 * DAY)], ...ids.map((id): [string, string] => ["mappingId", id])])).status).toBe(200);
    const view = await runUntilSettled();
    expect(view.status).toBe("completed");
    expect(view.counts.recorded).toBeGreaterThan(0);
    const backfilled = await db().delivery.count({ where: { shop: TEST_SHOP, backfillId: view.id } });
    expect(backfilled).toBe(view.counts.recorded);

    type Log = { deliveries: Array<{ id: string; pastOrder: boolean }>; bySource: { webhooks: number; flow: number; backfill: number } };
    const all = (await call(deliveries.loader, await adminRequest(TEST_SHOP, "/app/deliveries"))).body as Log;
    expect(all.bySource).toMatchObject({ webhooks: live.length, flow: 0, backfill: backfilled });
    // Newest first: the backfilled deliveries were recorded after the live one.
    expect(all.deliveries.filter((d) => d.pastOrder)).toHaveLength(Math.min(50, backfilled));

    const only = (await call(deliveries.loader, await adminRequest(TEST_SHOP, "/app/deliveries?topic=backfill"))).body as Log;
    expect(only.bySource).toEqual({ webhooks: 0, flow: 0, backfill: backfilled, lastDays: 7 });
    expect(only.deliveries.length).toBe(Math.min(50, backfilled));
    expect(only.deliveries.every((d) => d.pastOrder)).toBe(true);
    expect(only.deliveries.map((d) => d.id)).not.toContain(live[0]!.id);

    const delivered = (await call(deliveries.loader, await adminRequest(TEST_SHOP, "/app/deliveries?topic=backfill&status=delivered"))).body as Log;
    expect(delivered.bySource.backfill).toBe(view.counts.delivered);

    // A catalog topic still filters as before, live and past deliveries of that topic alike.
    const topic = live[0]!.topic;
    const byTopic = (await call(deliveries.loader, await adminRequest(TEST_SHOP, `/app/deliveries?topic=${encodeURIComponent(topic)}`))).body as Log;
    const ofTopic = await db().delivery.count({ where: { shop: TEST_SHOP, topic } });
    expect(byTopic.bySource.webhooks + byTopic.bySource.backfill).toBe(ofTopic);

    // Other shops see none of it.
    const other = (await call(deliveries.loader, await adminRequest(OTHER_SHOP, "/app/deliveries?topic=backfill"))).body as Log;
    expect(other.deliveries).toEqual([]);

    // Past events are stale by design: Home's late-events warning counts live ones only.
    expect(await db().delivery.count({ where: { backfillId: view.id, stale: true } })).toBeGreaterThan(0);
    const homeData = (await call(home.loader, await adminRequest(TEST_SHOP, "/app"))).body as { stats: { stale24h: number }; backfill: unknown };
    expect(homeData.stats.stale24h).toBe(await db().delivery.count({ where: { shop: TEST_SHOP, stale: true, backfillId: null } }));
    // A finished backfill gets no card on Home.
    expect(homeData.backfill).toBeNull();
  });
});

describe("Home", () => {
  it("has a card with the status and progress of a backfill under way, and only that", async () => {
    const ids = await enabledChoices();
    expect((await post([["intent", "start"], ["since", day(19 * DAY)], ...ids.map((id): [string, string] => ["mappingId", id])])).status).toBe(200);
    await runDueBackfills(runner());
    const homeData = (await call(home.loader, await adminRequest(TEST_SHOP, "/app"))).body as { backfill: unknown };
    expect(homeData.backfill).toEqual({ status: "querying", percent: 5, ordersRead: 0 });
    const other = (await call(home.loader, await adminRequest(OTHER_SHOP, "/app"))).body as { backfill?: unknown };
    expect(other.backfill ?? null).toBeNull();
  });
});
