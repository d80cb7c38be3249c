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
import { reconcileAllShops, reconcileShop, type ReconcileOptions } from "~/reconciliation/reconcile.server";
import { SHOPIFY_API_VERSION, sessionStorage, unauthenticated } from "~/shopify.server";
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
    // Created 10 hours ago and never cancelled: in no window here, but asked about all the same.
    ReconcileCreatedOrders: () => maybeFail() ?? { body: page(state.orders.map(({ refunds: _refunds, ...order }) => order)) },
    ReconcileCancelledOrders: () => maybeFail() ?? { body: page(state.orders.map(({ refunds: _refunds, ...order }) => order)) },
    ReconcileFulfilledOrders: () => maybeFail() ?? { body: page(state.orders.map(({ refunds: _refunds, ...order }) => order)) },
    ReconcileRefunds: () =>
      maybeFail() ?? { body: page(state.orders.map((order) => ({ id: order.id, legacyResourceId: order.legacyResourceId, refunds: order.refunds }))) },
  });
  await sessionStorage.storeSession(
    new Session({ id: `offline_${TEST_SHOP}`, shop: TEST_SHOP, state: "s", isOnline: false, accessToken: "shpat_reconcile", scope: "read_orders" }),
  );
  // Installed well before the window, and reconciled up to an hour ago.
  await db().shop.update({ where: { domain: TEST_SHOP }, data: { installedAt: new Date(NOW.getTime() - 7 * 86_400_000) } });
  await db().reconciliation.create({ data: { shop: TEST_SHOP, checkedUntil: new Date(minutesAgo(60)), lastRunAt: new Date(minutesAgo(55)) } });
});

describe("reconciliation", () => {
  it("makes the shop's run row on its first run and adds each later run's count to it", async () => {
    await db().reconciliation.delete({ where: { shop: TEST_SHOP } });
    state.orders = [adminOrder("9007199254741001", minutesAgo(30), [{ id: "9007199254741777", createdAt: minutesAgo(20) }])];
    // With no row the run starts at the install, so the order's creation is in it too.
    const first = await reconcileShop(options(), TEST_SHOP);
    expect(first.recorded).toBe(3);
    expect(await db().reconciliation.findUniqueOrThrow({ where: { shop: TEST_SHOP } })).toMatchObject({
      checkedUntil: new Date(NOW.getTime() - SETTLE_MS),
      lastError: null,
      recorded: 3,
    });
    // A second run finds the same events already recorded: the row keeps the first run's count.
    const second = await reconcileShop(options(), TEST_SHOP);
    expect(second.recorded).toBe(0);
    expect((await db().reconciliation.findUniqueOrThrow({ where: { shop: TEST_SHOP } })).recorded).toBe(3);
  });

  it("records a missed fulfillment and a missed refund, sends each once, and a late webhook is a duplicate", async () => {
    state.orders = [adminOrder("9007199254741001", minutesAgo(30), [{ id: "9007199254741777", createdAt: minutesAgo(20) }])];
    const result = await reconcileShop(options(), TEST_SHOP);
    expect(result).toMatchObject({ recorded: 2, duplicates: 0 });
    expect(result.error).toBeUndefined();
    expect(admin.unexpected).toEqual([]);
    const calls = admin.calls.map((call) => [call.operationName, call.accessToken, call.variables.query]);
    expect(calls).toEqual([
      ["ReconcileCreatedOrders", "shpat_reconcile", `created_at:>='${minutesAgo(60)}'`],
      ["ReconcileFulfilledOrders", "shpat_reconcile", `updated_at:>='${minutesAgo(60)}' fulfillment_status:shipped`],
      ["ReconcileCancelledOrders", "shpat_reconcile", `updated_at:>='${minutesAgo(60)}'`],
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
