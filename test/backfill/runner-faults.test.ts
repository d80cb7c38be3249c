/**
 * The backfill runner in one process (like runner.test.ts) when things go wrong: bad result lines, downloads broken
 * off (with and without Range support), an expired result, a failed or expired bulk operation, pause and resume,
 * cancel, uninstall, live webhooks of the same facts, the refusals of startBackfill, and the privacy webhooks. Steps
 * are driven by explicit runDueBackfills calls and worker passes; nothing waits on a timer.
 */
import { Session } from "@shopify/shopify-api";
import pino from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BACKFILL_ORDER_TOPIC } from "~/backfill/constants";
import { runDueBackfills, type BackfillRunnerOptions } from "~/backfill/runner.server";
import { db } from "~/db.server";
import { processDueDeliveries } from "~/delivery/worker.server";
import { CANCELLED_REASON, cancelBackfill, latestBackfill, pauseBackfill, resumeBackfill, startBackfill, type BackfillView } from "~/models/Backfill.server";
import { SHOPIFY_API_VERSION, sessionStorage, unauthenticated } from "~/shopify.server";
import { REDACTED_BODY } from "~/webhooks/compliance.server";
import { fakeAdminApi as admin } from "../stand-ins/shopify-admin";
import { historyAnswers, startBulkStandIn, type BulkStandIn } from "../stand-ins/shopify-bulk";
import { historyFacts, historyOrders, type HistoryFact, type HistoryOptions } from "../support/history";
import { drain, postWebhook, usePipeline, workerOptions } from "../support/pipeline";
import { fixtureText, TEST_SHOP } from "../support/webhooks";

const pipeline = usePipeline();
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);
const DAY = 86_400_000;
const HISTORY: HistoryOptions = { orders: 30, seed: 5, since: new Date(NOW.getTime() - 30 * DAY), until: new Date(NOW.getTime() - 2 * DAY) };
const GRANTED = "read_orders,read_fulfillments";

/** The result file's lines; a test may change what the bulk operation answers (bad lines inserted). */
let fileLines: string[] = [];
const historyLinesOf = () => [...historyOrders(HISTORY)].flatMap((order) => order.lines);
/** Whether the file is the range's orders (as Shopify answers), or exactly `fileLines` whatever the range. */
let byRange = true;

let bulk: BulkStandIn;
beforeAll(async () => {
  const answers = historyAnswers(() => historyOrders(HISTORY));
  bulk = await startBulkStandIn({ ...answers, lines: (range) => (byRange ? answers.lines(range) : fileLines), pollsToComplete: 2 });
});
afterAll(() => bulk.close());

beforeEach(async () => {
  admin.reset();
  admin.answer(bulk.handlers);
  bulk.reset();
  fileLines = historyLinesOf();
  byRange = true;
  await sessionStorage.storeSession(new Session({ id: `offline_${TEST_SHOP}`, shop: TEST_SHOP, state: "s", isOnline: false, accessToken: "shpat_backfill", scope: GRANTED }));
});

function runner(overrides: Partial<BackfillRunnerOptions> = {}): BackfillRunnerOptions {
  return { prisma: db(), adminForShop: (shop) => unauthenticated.admin(shop), logger: pino({ level: "silent" }), apiVersion: SHOPIFY_API_VERSION, pollMs: 0, ordersPerWrite: 5, idleMs: 5_000, now: () => NOW, ...overrides };
}

const FINISHED = ["completed", "failed", "cancelled"];

async function view(): Promise<BackfillView> {
  const found = await latestBackfill(db(), TEST_SHOP);
  if (!found) throw new Error("no backfill");
  return found;
}

/** Backfill steps and worker passes until the backfill is finished (bounded). */
async function runUntilSettled(options: BackfillRunnerOptions = runner()): Promise<BackfillView> {
  for (let i = 0; i < 200; i++) {
    await runDueBackfills(options);
    await drain(workerOptions(pipeline.standIn), 30_000);
    const current = await view();
    if (FINISHED.includes(current.status)) return current;
  }
  throw new Error("the backfill did not finish");
}

/** Backfill steps only (no sending) until `done` holds (bounded). */
async function stepUntil(done: (view: BackfillView) => boolean, options: BackfillRunnerOptions = runner()): Promise<BackfillView> {
  for (let i = 0; i < 100; i++) {
    const current = await view();
    if (done(current)) return current;
    await runDueBackfills(options);
  }
  throw new Error("the backfill never reached the state");
}

/** A mapping the shop's defaults do not hold (enabled unless told). */
async function addMapping(topic: string, eventType: string, enabled = true): Promise<string> {
  const row = await db().mapping.create({ data: { shop: TEST_SHOP, position: 100, topic, eventType, enabled, properties: JSON.stringify({ orderName: "{{ name }}" }) } });
  return row.id;
}

async function mappingIds(...eventTypes: string[]): Promise<string[]> {
  const rows = await db().mapping.findMany({ where: { shop: TEST_SHOP, eventType: { in: eventTypes } } });
  expect(rows.map((row) => row.eventType).sort()).toEqual([...eventTypes].sort());
  await db().mapping.updateMany({ where: { id: { in: rows.map((r) => r.id) } }, data: { enabled: true } });
  return rows.map((r) => r.id);
}

async function start(ids: string[], overrides: { since?: Date; until?: Date; grantedScope?: string | null } = {}) {
  const answer = await startBackfill(db(), { shop: TEST_SHOP, since: overrides.since ?? HISTORY.since, ...(overrides.until ? { until: overrides.until } : {}), mappingIds: ids, grantedScope: overrides.grantedScope === undefined ? GRANTED : overrides.grantedScope, now: NOW });
  expect(answer).toMatchObject({ ok: true });
  return answer;
}

const SHIPPED_AND_REFUNDED = ["Order Shipped", "Order Refunded"];
function expectedOf(topics: Array<HistoryFact["topic"]>, facts = historyFacts(HISTORY)): string[] {
  return facts
    .filter((fact) => topics.includes(fact.topic))
    .map((fact) => fact.subjectId)
    .sort();
}

/** What Attentive received, each event exactly once, and the subjects of the delivered events. */
async function expectSentOnce(expected: string[]) {
  const sent = pipeline.standIn.received;
  expect(new Set(sent.map((event) => event.input.externalEventId)).size).toBe(sent.length);
  expect(sent.length).toBe(expected.length);
  const webhooks = await db().webhook.findMany({ where: { deliveries: { some: { status: "delivered" } } }, select: { eventKey: true } });
  expect(webhooks.map((w) => w.eventKey).sort()).toEqual(expected);
}

/** Byte offsets at which each order's line starts in the file. */
function orderLineOffsets(lines: string[]): number[] {
  const offsets: number[] = [];
  let at = 0;
  for (const line of lines) {
    if (!line.includes('"__parentId"')) offsets.push(at);
    at += Buffer.byteLength(line) + 1;
  }
  return offsets;
}

describe("bad result lines", () => {
  it("are counted with their line numbers, and every other order is still sent", async () => {
    const orders = [...historyOrders(HISTORY)];
    const longest = Math.max(...orders.flatMap((order) => order.lines.map((line) => Buffer.byteLength(line))));
    const lines: string[] = [];
    const badAt: number[] = [];
    const bad = (line: string) => {
      lines.push(line);
      badAt.push(lines.length);
    };
    orders.forEach((order, n) => {
      lines.push(...order.lines);
      // After whole orders, so no order loses its children to them.
      if (n === 2) bad("{not json");
      if (n === 6) bad(JSON.stringify({ name: "#9999", email: "x@example.com" })); // an order line without an id
      if (n === 11) bad(JSON.stringify({ id: "gid://shopify/LineItem/1", title: "Lost", quantity: 1, __parentId: "gid://shopify/Order/404" }));
      if (n === 17) bad(JSON.stringify({ id: "gid://shopify/LineItem/2", title: "x".repeat(longest + 100), quantity: 1, __parentId: order.id }));
      if (n === 23) bad("[1,2,3]");
    });
    fileLines = lines;
    byRange = false;
    const ids = await mappingIds(...SHIPPED_AND_REFUNDED);
    await start(ids);
    const done = await runUntilSettled(runner({ maxLineBytes: longest + 10 }));
    expect(done.status).toBe("completed");
    expect(done.badLines).toBe(5);
    expect(done.badLineSamples.map((sample) => sample.line).sort((a, b) => a - b)).toEqual(badAt);
    const reasons = Object.fromEntries(done.badLineSamples.map((sample) => [sample.line, sample.reason]));
    expect(reasons[badAt[0]!]).toBe("not JSON");
    expect(reasons[badAt[1]!]).toMatch(/not an order/);
    expect(reasons[badAt[2]!]).toContain("gid://shopify/Order/404");
    expect(reasons[badAt[3]!]).toMatch(/longer than/);
    expect(reasons[badAt[4]!]).toMatch(/not a JSON object/);
    expect(done.ordersRead).toBe(HISTORY.orders);
    expect(done.linesRead).toBe(lines.length);
    await expectSentOnce(expectedOf(["fulfillments/create", "refunds/create"]));
    expect(bulk.violations).toEqual([]);
  });
});

describe("the range", () => {
  it("sends only what happened up to its end: a later parcel or refund of an order in it is the live webhooks'", async () => {
    const orders = [...historyOrders(HISTORY)];
    // Just after an order with a parcel and a refund was placed: both came after the range's end.
    const cut = orders.find((order, n) => n > 10 && order.facts.some((f) => f.topic === "fulfillments/create") && order.facts.some((f) => f.topic === "refunds/create"))!;
    const until = new Date(Date.parse(cut.createdAt) + 10 * 60_000);
    await start(await mappingIds(...SHIPPED_AND_REFUNDED), { until });
    const done = await runUntilSettled();
    expect(done.status).toBe("completed");
    expect(done.ordersRead).toBe(orders.filter((order) => order.createdAt <= until.toISOString()).length);
    const facts = historyFacts(HISTORY).filter((fact) => fact.at <= until.toISOString());
    const expected = expectedOf(["fulfillments/create", "refunds/create"], facts);
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.some((id) => cut.facts.some((f) => f.subjectId === id))).toBe(false);
    await expectSentOnce(expected);
  });
});

describe("a download broken off", () => {
  async function brokenOnce(ignoreRange: boolean) {
    const file = fileLines.map((line) => `${line}\n`).join("");
    bulk.faults.breakAfterBytes = Math.floor(Buffer.byteLength(file) * 0.6);
    bulk.faults.ignoreRange = ignoreRange;
    const ids = await mappingIds(...SHIPPED_AND_REFUNDED);
    await start(ids);
    const done = await runUntilSettled();
    expect(done.status).toBe("completed");
    expect(done.lastError).toBeNull();
    expect(bulk.downloads).toHaveLength(2);
    expect(bulk.downloads[0]).toEqual({ range: null, status: 200 });
    const from = Number(/^bytes=(\d+)-$/.exec(bulk.downloads[1]!.range ?? "")?.[1]);
    // From the start of an order saved (after some orders, before the break).
    expect(orderLineOffsets(fileLines)).toContain(from);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(bulk.faults.breakAfterBytes ?? Math.floor(Buffer.byteLength(file) * 0.6));
    expect(bulk.downloads[1]!.status).toBe(ignoreRange ? 200 : 206);
    expect(done.ordersRead).toBe(HISTORY.orders);
    expect(done.linesRead).toBe(fileLines.length);
    expect(done.badLines).toBe(0);
    await expectSentOnce(expectedOf(["fulfillments/create", "refunds/create"]));
  }

  it("is read again with a Range from the last order saved, and every event is sent once", () => brokenOnce(false));
  it("is read again from the last order saved when the server ignores the Range", () => brokenOnce(true));

  it("that stalls is dropped after idleMs and read again from the last order saved", async () => {
    bulk.faults.hangOnce = true;
    const ids = await mappingIds(...SHIPPED_AND_REFUNDED);
    await start(ids);
    // The idle time also runs while the reader waits on its own database writes (a flush of 5 orders): at 200 ms a
    // loaded machine made the healthy re-read look stalled too (CI, 2026-12-01). 1 s keeps the stall quick to find.
    const done = await runUntilSettled(runner({ idleMs: 1_000 }));
    expect(done.status).toBe("completed");
    expect(bulk.downloads.length).toBe(2);
    await expectSentOnce(expectedOf(["fulfillments/create", "refunds/create"]));
  });
});

describe("a backfill that cannot finish", () => {
  it("fails when the result is gone, telling the merchant to start again, and frees the shop for a new one", async () => {
    bulk.faults.gone = true;
    const ids = await mappingIds(...SHIPPED_AND_REFUNDED);
    await start(ids);
    const done = await runUntilSettled();
    expect(done.status).toBe("failed");
    expect(done.lastError).toMatch(/can no longer be read/);
    expect(done.lastError).toMatch(/start the backfill again/);
    expect(bulk.downloads).toEqual([{ range: null, status: 403 }]);
    expect((await db().backfill.findFirstOrThrow({ where: { shop: TEST_SHOP } })).activeShop).toBeNull();
    expect(pipeline.standIn.received).toEqual([]);

    bulk.faults.gone = false;
    await start(ids);
    expect((await runUntilSettled()).status).toBe("completed");
    await expectSentOnce(expectedOf(["fulfillments/create", "refunds/create"]));
  });

  it.each([
    ["FAILED", /bulk operation failed \(INTERNAL_SERVER_ERROR\).*start the backfill again/],
    ["EXPIRED", /expired before it was read.*start the backfill again/],
    ["CANCELED", /cancelled in Shopify.*start the backfill again/],
  ] as const)("fails with a clear message when Shopify's bulk operation ends %s", async (outcome, message) => {
    bulk.faults.outcome = outcome;
    const ids = await mappingIds(...SHIPPED_AND_REFUNDED);
    await start(ids);
    const done = await runUntilSettled();
    expect(done.status).toBe("failed");
    expect(done.lastError).toMatch(message);
    expect(done.finishedAt).not.toBeNull();
    expect(bulk.downloads).toEqual([]);
    expect((await db().backfill.findFirstOrThrow({ where: { shop: TEST_SHOP } })).activeShop).toBeNull();
  });

  it("says to grant access when the bulk operation is denied access", async () => {
    bulk.faults.outcome = "FAILED";
    bulk.faults.errorCode = "ACCESS_DENIED";
    await start(await mappingIds(...SHIPPED_AND_REFUNDED));
    const done = await runUntilSettled();
    expect(done.lastError).toMatch(/ACCESS_DENIED.*after granting the app access/);
  });
});

describe("pausing", () => {
  it("stops reading and sending; resuming finishes with everything sent once", async () => {
    const ids = await mappingIds(...SHIPPED_AND_REFUNDED);
    await start(ids);
    // Small writes and a small high water: one reading step records a few orders and stops.
    const options = runner({ ordersPerWrite: 2, highWater: 3 });
    const reading = await stepUntil((v) => v.status === "reading" && v.ordersRead > 0 && v.counts.pending > 0, options);
    expect(reading.ordersRead).toBeLessThan(HISTORY.orders);
    expect((await pauseBackfill(db(), TEST_SHOP, NOW)).ok).toBe(true);

    const paused = await view();
    expect(paused.status).toBe("paused");
    const downloads = bulk.downloads.length;
    for (let i = 0; i < 3; i++) expect(await runDueBackfills(options)).toBe(0);
    for (let i = 0; i < 3; i++) await processDueDeliveries(workerOptions(pipeline.standIn));
    const still = await view();
    expect(still).toMatchObject({ status: "paused", ordersRead: paused.ordersRead, linesRead: paused.linesRead });
    expect(still.counts).toEqual(paused.counts);
    expect(bulk.downloads.length).toBe(downloads);
    expect(pipeline.standIn.received).toEqual([]);

    expect((await resumeBackfill(db(), TEST_SHOP, NOW)).ok).toBe(true);
    expect((await view()).status).toBe("reading");
    const done = await runUntilSettled(options);
    expect(done.status).toBe("completed");
    await expectSentOnce(expectedOf(["fulfillments/create", "refunds/create"]));
  });

  it("in the middle of a reading step ends the step at its next save, and resuming goes on at once", async () => {
    const ids = await mappingIds(...SHIPPED_AND_REFUNDED);
    await start(ids);
    const fileBytes = fileLines.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0);
    let pausedAt: number | null = null;
    // A download that, a third of the way in, waits for the merchant's pause to be saved before it goes on.
    const pausingFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const reader = response.body!.getReader();
      let read = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const chunk = await reader.read();
          if (chunk.done) {
            controller.close();
            return;
          }
          read += chunk.value.length;
          if (pausedAt === null && read > fileBytes / 3) {
            pausedAt = read;
            expect((await pauseBackfill(db(), TEST_SHOP, NOW)).ok).toBe(true);
          }
          controller.enqueue(chunk.value);
        },
        cancel: (reason) => reader.cancel(reason),
      });
      return new Response(body, { status: response.status, headers: response.headers });
    };
    const options = runner({ ordersPerWrite: 3, fetch: pausingFetch });
    await stepUntil((v) => v.status === "paused" || FINISHED.includes(v.status) || v.status === "sending", options);
    expect(pausedAt).not.toBeNull();
    const paused = await view();
    expect(paused.status).toBe("paused");
    // It stopped at the save after the pause: not at the end of the file.
    expect(paused.ordersRead).toBeLessThan(HISTORY.orders);
    expect(await runDueBackfills(options)).toBe(0);

    expect((await resumeBackfill(db(), TEST_SHOP, NOW)).ok).toBe(true);
    // The step the pause ended let go of the backfill: the resumed one runs now, not when a lease runs out.
    expect(await runDueBackfills(options)).toBe(1);
    const done = await runUntilSettled(options);
    expect(done.status).toBe("completed");
    expect(done.ordersRead).toBe(HISTORY.orders);
    await expectSentOnce(expectedOf(["fulfillments/create", "refunds/create"]));
  });
});

describe("cancelling", () => {
  it("while Shopify is collecting asks Shopify to stop its bulk operation", async () => {
    await start(await mappingIds(...SHIPPED_AND_REFUNDED));
    await stepUntil((v) => v.status === "querying");
    const { admin: client } = await unauthenticated.admin(TEST_SHOP);
    const answer = await cancelBackfill(db(), TEST_SHOP, { admin: client, now: NOW });
    expect(answer.ok).toBe(true);
    expect(admin.calls.map((call) => call.operationName)).toContain("BackfillBulkOperationCancel");
    expect(bulk.operations[0]!.status).toBe("CANCELING");
    const done = await view();
    expect(done.status).toBe("cancelled");
    expect((await db().backfill.findFirstOrThrow({ where: { shop: TEST_SHOP } })).activeShop).toBeNull();
    expect(await runDueBackfills(runner())).toBe(0);
    expect(bulk.downloads).toEqual([]);
  });

  it("while reading skips its unsent deliveries with the reason, and sends none of them", async () => {
    await start(await mappingIds(...SHIPPED_AND_REFUNDED));
    const reading = await stepUntil((v) => v.status === "reading" && v.counts.pending > 0, runner({ ordersPerWrite: 2, highWater: 4 }));
    const { admin: client } = await unauthenticated.admin(TEST_SHOP);
    expect((await cancelBackfill(db(), TEST_SHOP, { admin: client, now: NOW })).ok).toBe(true);
    // The bulk operation had finished: nothing to stop.
    expect(admin.calls.map((call) => call.operationName)).not.toContain("BackfillBulkOperationCancel");
    const skipped = await db().delivery.findMany({ where: { backfillId: reading.id } });
    expect(skipped.length).toBe(reading.counts.pending);
    for (const row of skipped) expect(row).toMatchObject({ status: "skipped", lastError: CANCELLED_REASON });
    expect(await runDueBackfills(runner())).toBe(0);
    await drain(workerOptions(pipeline.standIn));
    expect(pipeline.standIn.received).toEqual([]);
    expect((await view()).status).toBe("cancelled");
    // The shop may start another.
    await start(await mappingIds(...SHIPPED_AND_REFUNDED));
  });

  it("happens when the app is uninstalled", async () => {
    await start(await mappingIds(...SHIPPED_AND_REFUNDED));
    await stepUntil((v) => v.status === "reading" && v.counts.pending > 0, runner({ ordersPerWrite: 2, highWater: 4 }));
    expect((await postWebhook({ topic: "app/uninstalled", body: fixtureText("app_uninstalled.json") })).status).toBe(200);
    const done = await view();
    expect(done.status).toBe("cancelled");
    expect(done.lastError).toMatch(/uninstalled/);
    expect(done.counts.pending).toBe(0);
    expect(await runDueBackfills(runner())).toBe(0);
    expect((await db().backfill.findFirstOrThrow({ where: { shop: TEST_SHOP } })).activeShop).toBeNull();
  });
});

/** The derived orders/create sample made about another order (ids replaced in the text, so they stay exact). */
function liveOrderCreated(legacyId: string): string {
  const text = fixtureText("orders_create.derived.json");
  const sample = /"admin_graphql_api_id":\s*"gid:\/\/shopify\/Order\/(\d+)"/.exec(text)![1]!;
  return text.replaceAll(sample, legacyId).replaceAll(sample.slice(0, -2) + "00", legacyId);
}

describe("live webhooks of the same facts", () => {
  it("posted before the backfill: it records no delivery for them, and each fact is sent once", async () => {
    const ids = [await addMapping("orders/create", "Order Placed"), ...(await mappingIds(...SHIPPED_AND_REFUNDED))];
    const orders = [...historyOrders(HISTORY)];
    for (const order of orders.slice(0, 3)) expect((await postWebhook({ topic: "orders/create", body: liveOrderCreated(order.legacyResourceId) })).status).toBe(200);
    await drain(workerOptions(pipeline.standIn));
    expect(pipeline.standIn.received).toHaveLength(3);

    await start(ids);
    const done = await runUntilSettled();
    expect(done.status).toBe("completed");
    const backfilled = await db().delivery.findMany({ where: { backfillId: done.id }, include: { webhook: { select: { eventKey: true } } } });
    const liveKeys = new Set(orders.slice(0, 3).map((order) => order.id));
    expect(backfilled.filter((row) => liveKeys.has(row.webhook.eventKey))).toEqual([]);
    expect(done.counts.recorded).toBe(expectedOf(["orders/create", "fulfillments/create", "refunds/create"]).length - 3);
    await expectSentOnce(expectedOf(["orders/create", "fulfillments/create", "refunds/create"]));
  });

  it("posted after the backfill: duplicates, nothing sent twice", async () => {
    const ids = [await addMapping("orders/create", "Order Placed"), ...(await mappingIds(...SHIPPED_AND_REFUNDED))];
    await start(ids);
    expect((await runUntilSettled()).status).toBe("completed");
    const sent = pipeline.standIn.received.length;
    const deliveries = await db().delivery.count();
    for (const order of [...historyOrders(HISTORY)].slice(0, 3)) expect((await postWebhook({ topic: "orders/create", body: liveOrderCreated(order.legacyResourceId) })).status).toBe(200);
    await drain(workerOptions(pipeline.standIn));
    expect(pipeline.standIn.received.length).toBe(sent);
    expect(await db().delivery.count()).toBe(deliveries);
    await expectSentOnce(expectedOf(["orders/create", "fulfillments/create", "refunds/create"]));
  });
});

describe("startBackfill", () => {
  const refused = async (request: Partial<Parameters<typeof startBackfill>[1]>, field: string, message: RegExp) => {
    const answer = await startBackfill(db(), { shop: TEST_SHOP, since: HISTORY.since, mappingIds: [], grantedScope: GRANTED, now: NOW, ...request });
    expect(answer).toMatchObject({ ok: false, field });
    if (!answer.ok) expect(answer.message).toMatch(message);
    expect(await db().backfill.count()).toBe(0);
  };

  it("refuses a range that ends before it starts, or within the last 10 minutes", async () => {
    const ids = await mappingIds("Order Shipped");
    await refused({ mappingIds: ids, since: new Date(NOW.getTime() - DAY), until: new Date(NOW.getTime() - 2 * DAY) }, "since", /before the last day/);
    await refused({ mappingIds: ids, since: new Date(NOW.getTime() - 5 * 60_000) }, "since", /before the last day/);
    await refused({ mappingIds: ids, since: new Date("not a date") }, "since", /as a date/);
  });

  it("refuses no mappings, an unknown one, a disabled one, and one whose topic has no history", async () => {
    await refused({ mappingIds: [] }, "mappings", /at least one/);
    await refused({ mappingIds: ["no-such-mapping"] }, "mappings", /no longer exists/);
    const [shipped] = await mappingIds("Order Shipped");
    await db().mapping.update({ where: { id: shipped! }, data: { enabled: false } });
    await refused({ mappingIds: [shipped!] }, "mappings", /turned off/);
    const paid = await addMapping("orders/paid", "Order Paid");
    await refused({ mappingIds: [paid] }, "mappings", /cannot be sent from history \(orders\/paid\)/);
    // One bad mapping among good ones is refused too.
    await refused({ mappingIds: [await addMapping("fulfillments/create", "Shipped Again"), paid] }, "mappings", /orders\/paid/);
    const returns = await addMapping("returns/request", "Return Requested");
    await refused({ mappingIds: [returns] }, "mappings", /cannot be sent from history/);
  });

  it("refuses more than 60 days back without read_all_orders, and accepts it with it", async () => {
    const ids = await mappingIds("Order Shipped");
    const old = new Date(NOW.getTime() - 61 * DAY);
    await refused({ mappingIds: ids, since: old, grantedScope: "read_orders" }, "since", /read_all_orders/);
    expect(await startBackfill(db(), { shop: TEST_SHOP, since: new Date(NOW.getTime() - 59 * DAY), mappingIds: ids, grantedScope: "read_orders", now: NOW })).toMatchObject({ ok: true });
    await db().backfill.deleteMany();
    expect(await startBackfill(db(), { shop: TEST_SHOP, since: old, mappingIds: ids, grantedScope: "read_orders,read_all_orders", now: NOW })).toMatchObject({ ok: true });
  });

  it("refuses a second backfill while one is under way (paused too), and accepts one once it is finished", async () => {
    const ids = await mappingIds("Order Shipped");
    await start(ids);
    const again = await startBackfill(db(), { shop: TEST_SHOP, since: HISTORY.since, mappingIds: ids, grantedScope: GRANTED, now: NOW });
    expect(again).toMatchObject({ ok: false, field: "backfill" });
    await pauseBackfill(db(), TEST_SHOP, NOW);
    expect(await startBackfill(db(), { shop: TEST_SHOP, since: HISTORY.since, mappingIds: ids, grantedScope: GRANTED, now: NOW })).toMatchObject({ ok: false, field: "backfill" });
    await cancelBackfill(db(), TEST_SHOP, { now: NOW });
    const second = await start(ids);
    expect(await db().backfill.count()).toBe(2);
    // Both were created at the same instant: the shop's latest is the new one, on every database.
    expect(await view()).toMatchObject({ id: second.ok ? second.id : "", status: "queued" });
  });

  it("clamps the range's end to 10 minutes before now", async () => {
    const answer = await start(await mappingIds("Order Shipped"), { until: new Date(NOW.getTime() + DAY) });
    const row = await db().backfill.findUniqueOrThrow({ where: { id: answer.ok ? answer.id : "" } });
    expect(row.until.toISOString()).toBe(new Date(NOW.getTime() - 10 * 60_000).toISOString());
  });
});

describe("privacy webhooks", () => {
  it("shop/redact removes the shop's backfills", async () => {
    await start(await mappingIds(...SHIPPED_AND_REFUNDED));
    expect((await runUntilSettled()).status).toBe("completed");
    await start(await mappingIds(...SHIPPED_AND_REFUNDED));
    expect(await db().backfill.count({ where: { shop: TEST_SHOP } })).toBe(2);
    const redact = fixtureText("shop_redact.json").replace("{shop}.myshopify.com", TEST_SHOP);
    expect((await postWebhook({ topic: "shop/redact", body: redact })).status).toBe(200);
    expect(await db().backfill.count({ where: { shop: TEST_SHOP } })).toBe(0);
    expect(await db().webhook.count({ where: { shop: TEST_SHOP } })).toBe(0);
  });

  it("customers/redact naming an order redacts the backfill's snapshot of it and its events", async () => {
    await start(await mappingIds(...SHIPPED_AND_REFUNDED));
    expect((await runUntilSettled()).status).toBe("completed");
    const orders = [...historyOrders(HISTORY)];
    const shipped = orders.find((order) => order.facts.some((fact) => fact.topic === "fulfillments/create"))!;
    const other = orders.find((order) => order !== shipped && order.facts.some((fact) => fact.topic === "fulfillments/create"))!;
    const snapshot = await db().webhook.findFirstOrThrow({ where: { shop: TEST_SHOP, topic: BACKFILL_ORDER_TOPIC, orderId: shipped.legacyResourceId } });
    expect(snapshot.body).toContain(shipped.email);
    const redact = JSON.stringify({ shop_id: 1, shop_domain: TEST_SHOP, customer: { id: 1, email: shipped.email, phone: null }, orders_to_redact: [shipped.legacyResourceId] });
    expect((await postWebhook({ topic: "customers/redact", body: redact })).status).toBe(200);
    expect((await db().webhook.findUniqueOrThrow({ where: { id: snapshot.id } })).body).toBe(REDACTED_BODY);
    const rows = await db().webhook.findMany({ where: { shop: TEST_SHOP, orderId: shipped.legacyResourceId } });
    expect(rows.length).toBeGreaterThan(1);
    for (const row of rows) expect(row.body).toBe(REDACTED_BODY);
    const everything = JSON.stringify(await db().webhook.findMany({ include: { deliveries: true } }));
    expect(everything).not.toContain(shipped.email);
    expect(everything).toContain(other.email);
  });
});
