/**
 * Promise 7: missed webhooks. The reconciliation job asks the (fake, MSW) Admin API for orders
 * fulfilled and refunds created since its last run and records what no webhook brought,
 * through the webhook path's recordWebhook with the same event key: sent once, and a webhook
 * arriving later is a duplicate.
 */
import { Session } from "@shopify/shopify-api";
import pino from "pino";
import { beforeEach, describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { catalogMappings } from "~/mapping/defaults";
import { replaceMappings } from "~/models/Mapping.server";
import { reconcileAllShops, reconcileShop, type ReconcileOptions } from "~/reconciliation/reconcile.server";
import { RECONCILERS } from "~/reconciliation/reconcilers";
import { SHOPIFY_API_VERSION, sessionStorage, unauthenticated } from "~/shopify.server";
import { CATALOG, MAPPABLE_TOPICS } from "~/topics/catalog";
import { fakeAdminApi as admin } from "../stand-ins/shopify-admin";
import { orderBody, refundBody } from "../support/load";
import { drain, postWebhook, usePipeline, workerOptions } from "../support/pipeline";
import { TEST_SHOP } from "../support/webhooks";

const pipeline = usePipeline();
/** Real time (deliveries recorded "now" must be due for the worker), to the second so ISO strings compare. */
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);
const SETTLE_MS = 10 * 60_000;
const minutesAgo = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000).toISOString();

interface AdminState {
  orders: Array<Record<string, unknown>>;
  failNext: number;
}
let state: AdminState;

function adminOrder(id: string, fulfilledAt: string, refunds: Array<{ id: string; createdAt: string }> = []) {
  return {
    id: `gid://shopify/Order/${id}`,
    legacyResourceId: id,
    name: `#${id.slice(-4)}`,
    email: "missed@example.com",
    phone: null,
    createdAt: minutesAgo(600),
    updatedAt: fulfilledAt,
    closedAt: null,
    displayFulfillmentStatus: "FULFILLED",
    currencyCode: "USD",
    statusPageUrl: `https://shop.example/orders/${id}`,
    totalPriceSet: { shopMoney: { amount: "42.00", currencyCode: "USD" } },
    customer: { id: "gid://shopify/Customer/7", legacyResourceId: "7", firstName: "Mia", defaultEmailAddress: { emailAddress: "missed@example.com" }, defaultPhoneNumber: null },
    shippingAddress: { firstName: "Mia", phone: null, countryCodeV2: "US" },
    billingAddress: null,
    fulfillments: [{ id: `gid://shopify/Fulfillment/${id}1`, createdAt: fulfilledAt, trackingInfo: [{ number: "1Z", url: "https://track.example/1Z", company: "UPS" }] }],
    lineItems: { nodes: [{ title: "Socks", quantity: 2 }] },
    refunds: refunds.map((refund) => ({
      id: `gid://shopify/Refund/${refund.id}`,
      legacyResourceId: refund.id,
      createdAt: refund.createdAt,
      note: "damaged",
      transactions: { nodes: [{ kind: "REFUND", status: "SUCCESS", amountSet: { presentmentMoney: { amount: "10.00", currencyCode: "USD" } } }] },
      refundLineItems: { nodes: [{ quantity: 1, lineItem: { title: "Socks" } }] },
    })),
  };
}

function page(nodes: unknown[]) {
  return { data: { orders: { pageInfo: { hasNextPage: false, endCursor: null }, nodes } } };
}

function options(overrides: Partial<ReconcileOptions> = {}): ReconcileOptions {
  return {
    prisma: db(),
    adminForShop: (shop) => unauthenticated.admin(shop),
    logger: pino({ level: "silent" }),
    apiVersion: SHOPIFY_API_VERSION,
    settleMs: SETTLE_MS,
    now: () => NOW,
    ...overrides,
  };
}

beforeEach(async () => {
  admin.reset();
  state = { orders: [], failNext: 0 };
  const maybeFail = () => (state.failNext-- > 0 ? { status: 502, body: { errors: "Bad gateway" } } : null);
  admin.answer({
    ReconcileFulfilledOrders: () => maybeFail() ?? { body: page(state.orders.map(({ refunds: _refunds, ...order }) => order)) },
    ReconcileRefunds: () =>
      maybeFail() ?? { body: page(state.orders.map((order) => ({ id: order.id, legacyResourceId: order.legacyResourceId, refunds: order.refunds }))) },
    // A new shop's Order Cancelled mapping is on, so its topic is asked about too.
    ReconcileCancelledOrders: () => maybeFail() ?? { body: page(state.orders.filter((order) => order.cancelledAt).map(({ refunds: _refunds, ...order }) => order)) },
  });
  await sessionStorage.storeSession(
    new Session({ id: `offline_${TEST_SHOP}`, shop: TEST_SHOP, state: "s", isOnline: false, accessToken: "shpat_reconcile", scope: "read_orders" }),
  );
  // Installed well before the window, and reconciled up to an hour ago.
  await db().shop.update({ where: { domain: TEST_SHOP }, data: { installedAt: new Date(NOW.getTime() - 7 * 86_400_000) } });
  await db().reconciliation.create({ data: { shop: TEST_SHOP, checkedUntil: new Date(minutesAgo(60)), lastRunAt: new Date(minutesAgo(55)) } });
});

describe("reconciliation", () => {
  it("records a missed fulfillment and a missed refund, sends each once, and a late webhook is a duplicate", async () => {
    state.orders = [adminOrder("9007199254741001", minutesAgo(30), [{ id: "9007199254741777", createdAt: minutesAgo(20) }])];
    const result = await reconcileShop(options(), TEST_SHOP);
    expect(result).toMatchObject({ recorded: 2, duplicates: 0 });
    expect(result.error).toBeUndefined();
    expect(admin.unexpected).toEqual([]);
    const calls = admin.calls.map((call) => [call.operationName, call.accessToken, call.variables.query]);
    expect(calls).toEqual([
      ["ReconcileFulfilledOrders", "shpat_reconcile", `updated_at:>='${minutesAgo(60)}' fulfillment_status:shipped`],
      ["ReconcileCancelledOrders", "shpat_reconcile", `updated_at:>='${minutesAgo(60)}' status:cancelled`],
      ["ReconcileRefunds", "shpat_reconcile", `updated_at:>='${minutesAgo(60)}'`],
    ]);
    const webhooks = await db().webhook.findMany({ orderBy: { topic: "asc" } });
    expect(webhooks.map((webhook) => [webhook.topic, webhook.eventKey, webhook.webhookId])).toEqual([
      ["orders/fulfilled", "gid://shopify/Order/9007199254741001", "reconciliation:gid://shopify/Order/9007199254741001"],
      ["refunds/create", "gid://shopify/Refund/9007199254741777", "reconciliation:gid://shopify/Refund/9007199254741777"],
    ]);
    expect(await db().reconciliation.findUniqueOrThrow({ where: { shop: TEST_SHOP } })).toMatchObject({
      checkedUntil: new Date(NOW.getTime() - SETTLE_MS),
      lastError: null,
    });

    await drain(workerOptions(pipeline.standIn));
    const sent = pipeline.standIn.received;
    expect(sent.map((event) => event.input.type).sort()).toEqual(["Order Fulfilled", "Order Refunded"]);
    const fulfilled = sent.find((event) => event.input.type === "Order Fulfilled")!;
    expect(fulfilled.input.user.email).toBe("missed@example.com");
    expect(fulfilled.properties).toMatchObject({ orderName: "#1001", trackingNumber: "1Z", itemCount: 2, firstName: "Mia" });
    expect(new Date(fulfilled.input.occurredAt!).toISOString()).toBe(minutesAgo(30));
    const refunded = sent.find((event) => event.input.type === "Order Refunded")!;
    expect(refunded.input.user.email).toBe("missed@example.com"); // from the reconciled order, no extra look-up
    expect(refunded.properties).toMatchObject({ refundAmount: 10, note: "damaged" });

    // Shopify delivers the real webhooks after all: duplicates, nothing more is sent.
    expect((await postWebhook({ topic: "orders/fulfilled", body: orderBody("9007199254741001") })).status).toBe(200);
    expect((await postWebhook({ topic: "refunds/create", body: refundBody("9007199254741777", "9007199254741001") })).status).toBe(200);
    await drain(workerOptions(pipeline.standIn));
    expect(pipeline.standIn.received).toHaveLength(2);
    expect(await db().delivery.count()).toBe(2);
  });

  it("records nothing for events a webhook already brought, and sends nothing twice", async () => {
    expect((await postWebhook({ topic: "orders/fulfilled", body: orderBody("9007199254741002") })).status).toBe(200);
    await drain(workerOptions(pipeline.standIn));
    state.orders = [adminOrder("9007199254741002", minutesAgo(30))];
    expect(await reconcileShop(options(), TEST_SHOP)).toMatchObject({ recorded: 0, duplicates: 1 });
    await drain(workerOptions(pipeline.standIn));
    expect(pipeline.standIn.received).toHaveLength(1);
  });

  it("ignores events outside its window: already checked, or too recent to call missed", async () => {
    state.orders = [
      adminOrder("9007199254741003", minutesAgo(90)), // before checkedUntil: the last run saw it
      adminOrder("9007199254741004", minutesAgo(5)), // within the settle time: its webhook may be on its way
      adminOrder("9007199254741005", minutesAgo(30), [{ id: "9007199254741888", createdAt: minutesAgo(2) }]),
    ];
    expect(await reconcileShop(options(), TEST_SHOP)).toMatchObject({ recorded: 1 });
    expect((await db().webhook.findMany()).map((webhook) => webhook.eventKey)).toEqual(["gid://shopify/Order/9007199254741005"]);
    // The next run, 20 minutes later, picks up the two that were too recent.
    const later = await reconcileShop(options({ now: () => new Date(NOW.getTime() + 20 * 60_000) }), TEST_SHOP);
    expect(later).toMatchObject({ recorded: 2, duplicates: 0 });
  });

  it("keeps its place when the Admin API fails, and covers the window on the next run", async () => {
    state.orders = [adminOrder("9007199254741006", minutesAgo(30))];
    state.failNext = 1;
    const failed = await reconcileShop(options(), TEST_SHOP);
    expect(failed.error).toMatch(/Admin API/);
    const kept = await db().reconciliation.findUniqueOrThrow({ where: { shop: TEST_SHOP } });
    expect(kept).toMatchObject({ checkedUntil: new Date(minutesAgo(60)), lastError: failed.error });
    expect(await reconcileShop(options(), TEST_SHOP)).toMatchObject({ recorded: 1 });
  });

  it("starts a shop's first run at its install, never before", async () => {
    await db().reconciliation.deleteMany();
    await db().shop.update({ where: { domain: TEST_SHOP }, data: { installedAt: new Date(minutesAgo(45)) } });
    state.orders = [adminOrder("9007199254741007", minutesAgo(50)), adminOrder("9007199254741008", minutesAgo(40))];
    expect(await reconcileShop(options(), TEST_SHOP)).toMatchObject({ recorded: 1, from: new Date(minutesAgo(45)) });
  });

  it("asks only for installed shops with an offline session", async () => {
    await db().shop.create({ data: { domain: "gone.myshopify.com", uninstalledAt: NOW } });
    await sessionStorage.storeSession(new Session({ id: "offline_gone.myshopify.com", shop: "gone.myshopify.com", state: "s", isOnline: false, accessToken: "x" }));
    await db().shop.create({ data: { domain: "no-session.myshopify.com" } });
    const results = await reconcileAllShops(options());
    expect(results.map((result) => result.shop)).toEqual([TEST_SHOP]);
    expect(new Set(admin.calls.map((call) => call.shop))).toEqual(new Set([TEST_SHOP]));
  });
});

describe("reconciliation of the order's other events", () => {
  const ORDER = "9007199254742001";

  function lifecycleOrder() {
    const { refunds: _refunds, ...order } = adminOrder(ORDER, minutesAgo(40));
    return {
      ...order,
      createdAt: minutesAgo(50),
      cancelledAt: minutesAgo(25),
      cancelReason: "CUSTOMER",
      displayFulfillmentStatus: "PARTIALLY_FULFILLED",
      fulfillments: [
        {
          id: `gid://shopify/Fulfillment/${ORDER}7`,
          legacyResourceId: `${ORDER}7`,
          name: "#2001.1",
          status: "SUCCESS",
          createdAt: minutesAgo(40),
          trackingInfo: [{ number: "1ZPARCEL", url: "https://track.example/1ZPARCEL", company: "UPS" }],
          fulfillmentLineItems: { nodes: [{ quantity: 1, lineItem: { title: "Socks" } }] },
        },
      ],
    };
  }

  async function enable(...topics: string[]) {
    const offered = catalogMappings().filter((mapping) => topics.includes(mapping.topic) && (mapping.enabled || mapping.topic === "orders/create"));
    await replaceMappings(db(), TEST_SHOP, offered.map((mapping) => ({ ...mapping, enabled: true })));
  }

  async function grant(scope: string) {
    await sessionStorage.storeSession(new Session({ id: `offline_${TEST_SHOP}`, shop: TEST_SHOP, state: "s", isOnline: false, accessToken: "shpat_reconcile", scope }));
  }

  beforeEach(() => {
    const order = lifecycleOrder();
    admin.answer({
      ReconcileCreatedOrders: () => ({ body: page([order]) }),
      ReconcileFulfillments: () => ({ body: page([{ id: order.id, legacyResourceId: order.legacyResourceId, email: order.email, fulfillments: order.fulfillments }]) }),
      ReconcileCancelledOrders: () => ({ body: page([order]) }),
    });
  });

  it("records a missed placement, parcel and cancellation, each sent once with what its default mapping reads", async () => {
    await grant("read_orders,read_fulfillments");
    await enable("orders/create", "fulfillments/create", "orders/cancelled");
    const result = await reconcileShop(options(), TEST_SHOP);
    expect(result).toMatchObject({ recorded: 3, duplicates: 0 });
    expect(result.error).toBeUndefined();
    expect(admin.unexpected).toEqual([]);
    expect(admin.calls.map((call) => [call.operationName, call.variables.query])).toEqual([
      ["ReconcileCreatedOrders", `created_at:>='${minutesAgo(60)}'`],
      ["ReconcileFulfillments", `updated_at:>='${minutesAgo(60)}'`],
      ["ReconcileCancelledOrders", `updated_at:>='${minutesAgo(60)}' status:cancelled`],
    ]);
    const webhooks = await db().webhook.findMany({ orderBy: { topic: "asc" } });
    expect(webhooks.map((webhook) => [webhook.topic, webhook.eventKey, webhook.orderId])).toEqual([
      ["fulfillments/create", `gid://shopify/Fulfillment/${ORDER}7`, ORDER],
      ["orders/cancelled", `gid://shopify/Order/${ORDER}`, ORDER],
      ["orders/create", `gid://shopify/Order/${ORDER}`, ORDER],
    ]);

    await drain(workerOptions(pipeline.standIn));
    const byType = new Map(pipeline.standIn.received.map((event) => [event.input.type, event]));
    expect([...byType.keys()].sort()).toEqual(["Order Cancelled", "Order Placed", "Order Shipped"]);
    expect(byType.get("Order Placed")!.properties).toMatchObject({ orderName: "#2001", itemTitles: "Socks", itemCount: 2 });
    expect(byType.get("Order Shipped")!.properties).toMatchObject({ orderName: "#2001", trackingNumber: "1ZPARCEL", trackingCompany: "UPS", itemTitles: "Socks" });
    expect(byType.get("Order Cancelled")!.properties).toMatchObject({ orderName: "#2001", cancelReason: "customer" });
    for (const event of pipeline.standIn.received) expect(event.input.user.email, event.input.type).toBe("missed@example.com");
    expect(new Date(byType.get("Order Shipped")!.input.occurredAt!).toISOString()).toBe(minutesAgo(40));
    expect(new Date(byType.get("Order Cancelled")!.input.occurredAt!).toISOString()).toBe(minutesAgo(25));

    // The webhooks arrive after all: duplicates.
    expect(await reconcileShop(options({ now: () => NOW }), TEST_SHOP)).toMatchObject({ recorded: 0 });
  });

  it("asks nothing about a topic whose scope the shop has not granted, or that no enabled mapping uses", async () => {
    await grant("read_orders");
    await enable("fulfillments/create", "orders/cancelled");
    expect(await reconcileShop(options(), TEST_SHOP)).toMatchObject({ recorded: 1 });
    expect(admin.calls.map((call) => call.operationName)).toEqual(["ReconcileCancelledOrders"]);
    expect((await db().webhook.findMany()).map((webhook) => webhook.topic)).toEqual(["orders/cancelled"]);
  });

  it("has a reconciler for exactly the catalog topics whose entry says the Admin API can find their events", () => {
    for (const topic of MAPPABLE_TOPICS) {
      expect(RECONCILERS[topic] !== undefined, topic).toBe(CATALOG[topic].reconciliation.kind === "query");
    }
  });
});
