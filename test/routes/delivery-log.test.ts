/**
 * The delivery log's view as its URL holds it (the IndexFilters page reads and writes only the URL), its saved
 * views, and its pages newest first in both directions.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { EMPTY_LOG_VIEW, logViewFrom, logViewParams, logViewUrl, SAVED_LOG_VIEWS, savedLogViewIndex } from "~/admin/delivery-log-views";
import { db } from "~/db.server";
import { decodeCursor, deliveryLogPage } from "~/models/Delivery.server";
import { replaceMappings } from "~/models/Mapping.server";
import * as deliveries from "~/routes/app.deliveries._index";
import { adminRequest, call, storeOfflineSession } from "../support/admin-requests";
import { specExampleMapping } from "../support/mappings";
import { drain, postWebhook, usePipeline, workerOptions } from "../support/pipeline";
import { fixtureWith, TEST_SHOP } from "../support/webhooks";

const pipeline = usePipeline();

describe("the log's view in the URL", () => {
  it("reads each filter, ignores what is not valid or not a filter, and writes it back in one order", () => {
    const view = logViewFrom(
      new URLSearchParams(
        "embedded=1&id_token=x&after=abc&q=%20%231001%20&stale=1&to=2025-02-28&from=2025-02-30&eventType=Order%20Fulfilled&topic=orders%2Ffulfilled&status=sending&status=nope&status=pending&status=pending",
      ),
    );
    expect(view).toEqual({ status: ["pending", "sending"], topic: "orders/fulfilled", eventType: "Order Fulfilled", to: "2025-02-28", stale: true, q: "#1001" });
    expect(logViewParams(view).toString()).toBe("status=pending&status=sending&topic=orders%2Ffulfilled&eventType=Order+Fulfilled&to=2025-02-28&stale=1&q=%231001");
    expect(logViewFrom(new URLSearchParams("topic=flow%2Ftrigger&stale=yes&q=" + "x".repeat(201)))).toEqual(EMPTY_LOG_VIEW);
    expect(logViewFrom(new URLSearchParams("topic=backfill&stale=true")).topic).toBe("backfill");
    expect(logViewUrl(EMPTY_LOG_VIEW)).toBe("/app/deliveries");
    expect(logViewUrl({ ...EMPTY_LOG_VIEW, status: ["failed"] }, { after: "c1" })).toBe("/app/deliveries?status=failed&after=c1");
  });

  it("selects a saved view only when the URL is exactly it: the links the app already has land on their tab", () => {
    const index = (query: string) => savedLogViewIndex(logViewFrom(new URLSearchParams(query)));
    expect(SAVED_LOG_VIEWS.map((saved) => saved.name)).toEqual(["All", "Failed", "Stale", "Waiting", "Past orders"]);
    expect(index("")).toBe(0);
    expect(index("embedded=1&shop=x&after=abc")).toBe(0);
    expect(index("status=failed")).toBe(1);
    expect(index("stale=1")).toBe(2);
    expect(index("status=sending&status=pending")).toBe(3);
    expect(index("topic=backfill")).toBe(4);
    expect(index("status=pending")).toBe(-1);
    expect(index("status=failed&q=%231001")).toBe(-1);
    expect(index(`status=failed&topic=${encodeURIComponent("flow/action")}`)).toBe(-1);
  });
});

describe("the log's loader", () => {
  const names = (body: unknown) => (body as { deliveries: Array<{ orderName: string }> }).deliveries.map((row) => row.orderName);

  beforeEach(async () => {
    process.env.ATTENTIVE_API_URL = pipeline.standIn.graphqlUrl;
    await storeOfflineSession(TEST_SHOP);
    await replaceMappings(db(), TEST_SHOP, [specExampleMapping()]);
    for (const id of [3001, 3002, 3003, 3004, 3005]) {
      const body = fixtureWith("orders_fulfilled.derived.json", (order) => {
        order.admin_graphql_api_id = `gid://shopify/Order/${id}`;
        order.id = id;
        order.name = `#${id}`;
      });
      expect((await postWebhook({ topic: "orders/fulfilled", body })).status).toBe(200);
    }
    await drain(workerOptions(pipeline.standIn));
    // One a minute apart, #3005 the newest; then the statuses the tabs are about.
    for (const id of [3001, 3002, 3003, 3004, 3005]) {
      await db().delivery.updateMany({ where: { orderName: `#${id}` }, data: { createdAt: new Date(Date.UTC(2030, 0, 1, 12, id - 3000)) } });
    }
    await db().delivery.updateMany({ where: { orderName: "#3001" }, data: { status: "pending" } });
    await db().delivery.updateMany({ where: { orderName: "#3002" }, data: { status: "sending" } });
    await db().delivery.updateMany({ where: { orderName: "#3003" }, data: { status: "failed" } });
  });

  it("filters by any of several statuses: the Waiting view", async () => {
    const load = async (query: string) => names((await call(deliveries.loader, await adminRequest(TEST_SHOP, `/app/deliveries?${query}`))).body);
    expect(await load("status=pending&status=sending")).toEqual(["#3002", "#3001"]);
    expect(await load("status=failed")).toEqual(["#3003"]);
    expect(await load("status=failed&status=bogus")).toEqual(["#3003"]);
    expect(await load("")).toEqual(["#3005", "#3004", "#3003", "#3002", "#3001"]);
  });

  it("pages newest first, to older rows and back to newer ones", async () => {
    const page = (position: Parameters<typeof deliveryLogPage>[3]) => deliveryLogPage(db(), TEST_SHOP, {}, position, 2);
    const names = (rows: { deliveries: Array<{ orderName: string | null }> }) => rows.deliveries.map((row) => row.orderName);
    const cursor = (value: string | null) => {
      const decoded = decodeCursor(value);
      expect(decoded).not.toBeNull();
      return decoded!;
    };

    const first = await page(null);
    expect([names(first), first.previousCursor]).toEqual([["#3005", "#3004"], null]);
    const second = await page({ after: cursor(first.nextCursor) });
    expect(names(second)).toEqual(["#3003", "#3002"]);
    const third = await page({ after: cursor(second.nextCursor) });
    expect([names(third), third.nextCursor]).toEqual([["#3001"], null]);
    const backToSecond = await page({ before: cursor(third.previousCursor) });
    expect(names(backToSecond)).toEqual(["#3003", "#3002"]);
    expect(backToSecond.nextCursor).toBe(second.nextCursor);
    const backToFirst = await page({ before: cursor(backToSecond.previousCursor) });
    expect([names(backToFirst), backToFirst.previousCursor]).toEqual([["#3005", "#3004"], null]);
    expect(backToFirst.nextCursor).toBe(first.nextCursor);
  });
});
