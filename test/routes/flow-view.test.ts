/**
 * The merchant's view of Flow: the home page and the delivery log count events sent from Flow beside those from
 * Shopify webhooks, the log filters by Flow, and a Flow delivery's page names its action run, links to no mapping
 * and can be retried. Runs go through the real Flow action route, signed as Flow signs them, and the real worker
 * sends them to the Attentive stand-in.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { SOURCE_FILTER_GROUPS, sourceLabel, TOPIC_OPTION_GROUPS } from "~/components/format";
import { db } from "~/db.server";
import { replaceMappings } from "~/models/Mapping.server";
import { disconnectAttentive } from "~/models/Shop.server";
import { FLOW_MAPPING_ID, FLOW_TOPIC } from "~/models/delivery-sources";
import * as home from "~/routes/app._index";
import * as deliveries from "~/routes/app.deliveries._index";
import * as deliveryPage from "~/routes/app.deliveries.$id";
import * as settings from "~/routes/app.settings";
import { isMappableTopic } from "~/topics/catalog";
import { adminRequest, call, storeOfflineSession } from "../support/admin-requests";
import { flowRunBody, postFlowRun } from "../support/flow";
import { specExampleMapping } from "../support/mappings";
import { connectTestShop, drain, postWebhook, TEST_ATTENTIVE_KEY, usePipeline, workerOptions } from "../support/pipeline";
import { fixtureText, TEST_SECRET, TEST_SHOP } from "../support/webhooks";

const OTHER_SHOP = "other-shop.myshopify.com";
const pipeline = usePipeline();

interface LogRow {
  id: string;
  topic: string;
  status: string;
  orderName: string | null;
  flowRunId: string | null;
}
interface LogData {
  deliveries: LogRow[];
  bySource: { webhooks: number; flow: number; backfill: number; lastDays: number | null };
}

/** A "Send Attentive event" run as Flow posts it, signed with the app's secret. */
async function runFlowAction(actionRunId: string, options: { shop?: string; eventType?: string } = {}): Promise<void> {
  const settings = { event_type: options.eventType ?? "Loyalty Tier Reached", properties: '{"tier": "gold"}', email: "jane@example.com" };
  const answer = await postFlowRun(flowRunBody({ actionRunId, settings, ...(options.shop ? { shop: options.shop } : {}) }));
  expect(answer, answer.message ?? "").toMatchObject({ status: 200 });
}

/** An orders/fulfilled webhook for another order (the sample's ids changed in the text, so they stay exact). */
async function fulfilOrder(suffix: string): Promise<void> {
  const body = fixtureText("orders_fulfilled.derived.json").replaceAll("820982911946154508", `82098291194615${suffix}`).replaceAll("#9999", `#${suffix}`);
  const response = await postWebhook({ topic: "orders/fulfilled", body });
  expect(response.status).toBe(200);
}

async function load<T>(path: string, shop = TEST_SHOP): Promise<T> {
  const result = await call(path.startsWith("/app/deliveries?") || path === "/app/deliveries" ? deliveries.loader : home.loader, await adminRequest(shop, path));
  expect(result.status).toBe(200);
  return result.body as T;
}

/** The shop's deliveries: 2 from webhooks and 2 from Flow delivered, 1 from Flow failed (no key when it was sent). */
async function mixedLog() {
  await fulfilOrder("1001");
  await fulfilOrder("1002");
  await runFlowAction("run-delivered-1");
  await runFlowAction("run-delivered-2");
  await drain(workerOptions(pipeline.standIn));
  await disconnectAttentive(db(), TEST_SHOP);
  await runFlowAction("run-failed", { eventType: "Flow Failed Here" });
  await drain(workerOptions(pipeline.standIn));
  await connectTestShop();
  // Another shop's Flow run, which no page of the test shop may count or list.
  await runFlowAction("run-other-shop", { shop: OTHER_SHOP });
  await drain(workerOptions(pipeline.standIn));
  const rows = await db().delivery.findMany({ where: { shop: TEST_SHOP }, include: { webhook: true } });
  expect(rows.map((row) => [row.topic, row.status]).sort()).toEqual([
    ["flow/action", "delivered"],
    ["flow/action", "delivered"],
    ["flow/action", "failed"],
    ["orders/fulfilled", "delivered"],
    ["orders/fulfilled", "delivered"],
  ]);
  const byRun = (runId: string) => rows.find((row) => row.webhook.eventKey === runId)!;
  return { rows, failedFlow: byRun("run-failed"), deliveredFlow: byRun("run-delivered-1"), webhook: rows.find((row) => row.topic === "orders/fulfilled")! };
}

beforeEach(async () => {
  process.env.ATTENTIVE_API_URL = pipeline.standIn.graphqlUrl;
  await storeOfflineSession(TEST_SHOP);
  await storeOfflineSession(OTHER_SHOP);
  await replaceMappings(db(), TEST_SHOP, [specExampleMapping()]);
});

describe("Flow is a source, not a Shopify topic", () => {
  it("is a choice of the log's filter, never of the catalog or the mapping editor", () => {
    expect(isMappableTopic(FLOW_TOPIC)).toBe(false);
    const options = SOURCE_FILTER_GROUPS.flatMap((group) => group.options);
    expect(options.filter((option) => option.value === FLOW_TOPIC)).toEqual([{ value: FLOW_TOPIC, label: "Flow action" }]);
    expect(options.find((option) => option.value === "orders/fulfilled")?.label).toBe("Order fulfilled");
    expect(TOPIC_OPTION_GROUPS.flatMap((group) => group.options).map((option) => option.value)).not.toContain(FLOW_TOPIC);
    expect(sourceLabel(FLOW_TOPIC)).toBe("Flow action");
  });
});

describe("counts by source", () => {
  it("the home page counts delivered events from webhooks and from Flow, and warns of Flow's failures without a mapping", async () => {
    await mixedLog();
    const data = await load<{ sent7d: unknown; stats: { delivered7d: number }; failing: Array<{ id: string }>; flowFailing: unknown }>("/app");
    expect(data.sent7d).toEqual({ webhooks: 2, flow: 2 });
    expect(data.stats.delivered7d).toBe(4);
    expect(data.flowFailing).toEqual({ failures7d: 1, lastError: expect.stringMatching(/No Attentive API key/) });
    // Mapping banners link to their mapping: Flow has none, so it is never among them.
    expect(data.failing).toEqual([]);
  });

  it("the delivery log counts what matches its filter by source, over the last 7 days unless it has dates", async () => {
    const { deliveredFlow } = await mixedLog();
    expect((await load<LogData>("/app/deliveries")).bySource).toEqual({ webhooks: 2, flow: 3, backfill: 0, lastDays: 7 });
    expect((await load<LogData>("/app/deliveries?status=failed")).bySource).toEqual({ webhooks: 0, flow: 1, backfill: 0, lastDays: 7 });
    expect((await load<LogData>("/app/deliveries?topic=orders%2Ffulfilled")).bySource).toEqual({ webhooks: 2, flow: 0, backfill: 0, lastDays: 7 });

    // A run recorded 10 days ago is out of the default period, and in a period that includes it.
    const tenDaysAgo = new Date(Date.now() - 10 * 24 * 60 * 60 * 1000);
    await db().delivery.update({ where: { id: deliveredFlow.id }, data: { createdAt: tenDaysAgo } });
    expect((await load<LogData>("/app/deliveries")).bySource).toEqual({ webhooks: 2, flow: 2, backfill: 0, lastDays: 7 });
    const from = tenDaysAgo.toISOString().slice(0, 10);
    expect((await load<LogData>(`/app/deliveries?from=${from}`)).bySource).toEqual({ webhooks: 2, flow: 3, backfill: 0, lastDays: null });
    // The home page's figure is for 7 days too.
    expect((await load<{ sent7d: unknown }>("/app")).sent7d).toEqual({ webhooks: 2, flow: 1 });
  });
});

describe("the delivery log", () => {
  it("filtered by Flow lists only the shop's Flow deliveries, each named by its run", async () => {
    await mixedLog();
    const flow = await load<LogData>(`/app/deliveries?topic=${encodeURIComponent(FLOW_TOPIC)}`);
    expect(flow.deliveries.map((row) => row.flowRunId).sort()).toEqual(["run-delivered-1", "run-delivered-2", "run-failed"]);
    expect(flow.deliveries.every((row) => row.topic === FLOW_TOPIC && row.orderName === null)).toBe(true);

    const webhooks = await load<LogData>("/app/deliveries?topic=orders%2Ffulfilled");
    expect(webhooks.deliveries.map((row) => [row.orderName, row.flowRunId]).sort()).toEqual([
      ["#1001", null],
      ["#1002", null],
    ]);
    // The unfiltered log has all five; a topic that is neither a catalog topic nor Flow is ignored, not an error.
    expect((await load<LogData>("/app/deliveries")).deliveries).toHaveLength(5);
    expect((await load<LogData>("/app/deliveries?topic=flow%2Ftrigger")).deliveries).toHaveLength(5);
  });

  it("retries the failed Flow deliveries matching the filter", async () => {
    const { failedFlow } = await mixedLog();
    const result = await call(
      deliveries.action,
      await adminRequest(TEST_SHOP, "/app/deliveries", { form: { intent: "retry-failed", filter: `topic=${encodeURIComponent(FLOW_TOPIC)}` } }),
    );
    expect(result.body).toEqual({ ok: true, message: "1 failed delivery queued again" });
    expect((await db().delivery.findUniqueOrThrow({ where: { id: failedFlow.id } })).status).toBe("pending");
  });
});

describe("a Flow delivery's page", () => {
  it("names its action run, links to no mapping, and shows no secret", async () => {
    const { failedFlow, webhook } = await mixedLog();
    const page = await call(deliveryPage.loader, await adminRequest(TEST_SHOP, `/app/deliveries/${failedFlow.id}`), { id: failedFlow.id });
    expect(page.status).toBe(200);
    const data = page.body as { delivery: Record<string, unknown>; webhook: { body: string } };
    expect(data.delivery).toMatchObject({ topic: FLOW_TOPIC, eventType: "Flow Failed Here", flowRunId: "run-failed", orderName: null, status: "failed" });
    expect(JSON.parse(data.webhook.body)).toMatchObject({ action_run_id: "run-failed" });
    const text = JSON.stringify(page.body);
    expect(data.delivery).not.toHaveProperty("mappingId");
    expect(text).not.toContain("/app/mappings");
    expect(text).not.toContain(FLOW_MAPPING_ID);

    const webhookPage = await call(deliveryPage.loader, await adminRequest(TEST_SHOP, `/app/deliveries/${webhook.id}`), { id: webhook.id });
    expect((webhookPage.body as { delivery: { flowRunId: unknown } }).delivery.flowRunId).toBeNull();
  });

  it("is retried like any other and then reaches Attentive", async () => {
    const { failedFlow } = await mixedLog();
    const before = pipeline.standIn.received.length;
    const retried = await call(deliveryPage.action, await adminRequest(TEST_SHOP, `/app/deliveries/${failedFlow.id}`, { form: {} }), { id: failedFlow.id });
    expect(retried).toMatchObject({ status: 200, body: { ok: true, message: "Delivery queued for another attempt" } });
    await drain(workerOptions(pipeline.standIn));
    expect(await db().delivery.findUniqueOrThrow({ where: { id: failedFlow.id } })).toMatchObject({ status: "delivered", externalEventId: failedFlow.externalEventId });
    const sent = pipeline.standIn.received.slice(before);
    expect(sent.map((event) => [event.input.type, event.input.externalEventId])).toEqual([["Flow Failed Here", failedFlow.externalEventId]]);
  });
});

describe("no secret reaches the browser", () => {
  it("in the data of the home page, the log, a Flow delivery's page and Settings", async () => {
    const { failedFlow } = await mixedLog();
    const shop = await db().shop.findUniqueOrThrow({ where: { domain: TEST_SHOP } });
    const pages = [
      await call(home.loader, await adminRequest(TEST_SHOP, "/app")),
      await call(deliveries.loader, await adminRequest(TEST_SHOP, `/app/deliveries?topic=${encodeURIComponent(FLOW_TOPIC)}`)),
      await call(deliveryPage.loader, await adminRequest(TEST_SHOP, `/app/deliveries/${failedFlow.id}`), { id: failedFlow.id }),
      await call(settings.loader, await adminRequest(TEST_SHOP, "/app/settings")),
    ];
    for (const page of pages) {
      expect(page.status).toBe(200);
      const text = JSON.stringify(page.body);
      expect(text).not.toContain(TEST_ATTENTIVE_KEY);
      expect(text).not.toContain(shop.attentiveKeyCipher!);
      // The app's secret signs Flow's requests; it is never part of what was recorded.
      expect(text).not.toContain(TEST_SECRET);
    }
  });
});
