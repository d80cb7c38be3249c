/**
 * Promise 7 for the topics reconciliation.test.ts does not cover: a placed order, a cancellation and a parcel that no
 * webhook brought are found through the (fake, MSW) Admin API, recorded under the webhook's event key, sent once,
 * and the webhook is a duplicate whether it came before or after; parcels only for shops granted read_fulfillments.
 */
import { Session } from "@shopify/shopify-api";
import pino from "pino";
import { beforeEach, describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { reconcileShop, type ReconcileOptions } from "~/reconciliation/reconcile.server";
import { SHOPIFY_API_VERSION, sessionStorage, unauthenticated } from "~/shopify.server";
import { fakeAdminApi as admin } from "../stand-ins/shopify-admin";
import { drain, postWebhook, usePipeline, workerOptions } from "../support/pipeline";
import { fixtureText, TEST_SHOP } from "../support/webhooks";

const pipeline = usePipeline();
/** Real time (deliveries recorded "now" must be due for the worker), to the second so ISO strings compare. */
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);
const SETTLE_MS = 10 * 60_000;
const minutesAgo = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000).toISOString();
const CHECKED_UNTIL = minutesAgo(60);

/** Ids above 2^53, kept exact from the Admin API's strings to the event key. */
const PLACED = "9007199254742001";
const CANCELLED = "9007199254742003";
const PARCEL = "9007199254742101";

const SAMPLE_ORDER = /"admin_graphql_api_id":\s*"gid:\/\/shopify\/Order\/(\d+)"/.exec(fixtureText("orders_create.derived.json"))![1]!;
const SAMPLE_PARCEL = "4451825467446";

/** The derived sample of a topic made about other ids (in the text, so they stay exact). */
function webhookBody(name: string, orderId: string, parcelId = SAMPLE_PARCEL): string {
  return fixtureText(name)
    .replaceAll(SAMPLE_ORDER, orderId)
    .replaceAll(SAMPLE_ORDER.slice(0, -2) + "00", orderId) // the sample's rounded copy of the order id
    .replaceAll(SAMPLE_PARCEL, parcelId);
}

interface Parcel {
  id: string;
  createdAt: string;
  status?: string;
}

/** An order as the reconciliation's queries get it from the Admin API (every topic's fields; each keeps its own). */
function adminOrder(id: string, options: { createdAt: string; cancelledAt?: string; parcels?: Parcel[] }) {
  const lines = [
    { title: "Socks", name: "Socks - Blue", quantity: 2 },
    { title: "Hat", name: "Hat", quantity: 1 },
  ];
  return {
    id: `gid://shopify/Order/${id}`,
    legacyResourceId: id,
    name: `#${id.slice(-4)}`,
    number: Number(id.slice(-4)),
    email: "missed@example.com",
    phone: null,
    currencyCode: "USD",
    presentmentCurrencyCode: "USD",
    statusPageUrl: `https://shop.example/orders/${id}`,
    totalPriceSet: { shopMoney: { amount: "42.00", currencyCode: "USD" } },
    customer: { id: "gid://shopify/Customer/7", legacyResourceId: "7", firstName: "Mia", defaultEmailAddress: { emailAddress: "missed@example.com" }, defaultPhoneNumber: null },
    shippingAddress: { firstName: "Mia", lastName: "Lane", phone: null, countryCodeV2: "US" },
    billingAddress: null,
    createdAt: options.createdAt,
    updatedAt: minutesAgo(15),
    processedAt: options.createdAt,
    closedAt: null,
    cancelledAt: options.cancelledAt ?? null,
    cancelReason: options.cancelledAt ? "INVENTORY" : null,
    displayFulfillmentStatus: (options.parcels ?? []).length > 0 ? "PARTIALLY_FULFILLED" : "UNFULFILLED",
    lineItems: { nodes: lines },
    fulfillments: (options.parcels ?? []).map((parcel) => ({
      id: `gid://shopify/Fulfillment/${parcel.id}`,
      legacyResourceId: parcel.id,
      name: `#${id.slice(-4)}.1`,
      status: parcel.status ?? "SUCCESS",
      createdAt: parcel.createdAt,
      updatedAt: parcel.createdAt,
      trackingInfo: [{ number: "1Z-MISSED", url: "https://track.example/1Z-MISSED", company: "UPS" }],
      fulfillmentLineItems: { nodes: [{ quantity: 2, lineItem: { title: "Socks", name: "Socks - Blue" } }] },
    })),
    refunds: [],
  };
}

let orders: Array<ReturnType<typeof adminOrder>>;

function page(nodes: unknown[]) {
  return { data: { orders: { pageInfo: { hasNextPage: false, endCursor: null }, nodes } } };
}

async function storeSession(scope: string) {
  await sessionStorage.storeSession(new Session({ id: `offline_${TEST_SHOP}`, shop: TEST_SHOP, state: "s", isOnline: false, accessToken: "shpat_reconcile", scope }));
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

async function recorded() {
  const webhooks = await db().webhook.findMany({ orderBy: [{ topic: "asc" }, { eventKey: "asc" }] });
  return webhooks.map((webhook) => [webhook.topic, webhook.eventKey]);
}

beforeEach(async () => {
  admin.reset();
  orders = [];
  // The fake answers every order query with every order, as a search that matched them all would: which events
  // count is the job's to decide from the times.
  const all = () => ({ body: page(orders) });
  admin.answer({
    ReconcileCreatedOrders: all,
    ReconcileFulfillments: all,
    ReconcileFulfilledOrders: all,
    ReconcileCancelledOrders: all,
    ReconcileRefunds: all,
  });
  await storeSession("read_orders,read_fulfillments");
  await db().shop.update({ where: { domain: TEST_SHOP }, data: { installedAt: new Date(NOW.getTime() - 7 * 86_400_000) } });
  await db().reconciliation.create({ data: { shop: TEST_SHOP, checkedUntil: new Date(CHECKED_UNTIL), lastRunAt: new Date(minutesAgo(55)) } });
});

describe("reconciliation of placed, cancelled and shipped orders", () => {
  it("records a missed order, cancellation and parcel once each, sends the mapped ones, and later webhooks are duplicates", async () => {
    orders = [
      adminOrder(PLACED, { createdAt: minutesAgo(40), parcels: [{ id: PARCEL, createdAt: minutesAgo(30) }] }),
      adminOrder(CANCELLED, { createdAt: minutesAgo(600), cancelledAt: minutesAgo(20) }),
    ];
    const result = await reconcileShop(options(), TEST_SHOP);
    expect(result).toMatchObject({ recorded: 3, duplicates: 0 });
    expect(result.error).toBeUndefined();
    expect(admin.unexpected).toEqual([]);
    expect(admin.calls.map((call) => [call.operationName, call.variables.query, call.variables.fulfillmentSearch ?? null])).toEqual([
      ["ReconcileCreatedOrders", `created_at:>='${CHECKED_UNTIL}'`, null],
      ["ReconcileFulfillments", `updated_at:>='${CHECKED_UNTIL}'`, `created_at:>='${CHECKED_UNTIL}'`],
      ["ReconcileFulfilledOrders", `updated_at:>='${CHECKED_UNTIL}' fulfillment_status:shipped`, null],
      ["ReconcileCancelledOrders", `updated_at:>='${CHECKED_UNTIL}'`, null],
      ["ReconcileRefunds", `updated_at:>='${CHECKED_UNTIL}'`, null],
    ]);
    expect(await recorded()).toEqual([
      ["fulfillments/create", `gid://shopify/Fulfillment/${PARCEL}`],
      ["orders/cancelled", `gid://shopify/Order/${CANCELLED}`],
      ["orders/create", `gid://shopify/Order/${PLACED}`],
    ]);
    const parcel = await db().webhook.findFirstOrThrow({ where: { topic: "fulfillments/create" } });
    expect(parcel).toMatchObject({ orderId: PLACED, triggeredAt: new Date(minutesAgo(30)), webhookId: `reconciliation:gid://shopify/Fulfillment/${PARCEL}` });

    await drain(workerOptions(pipeline.standIn));
    // orders/create's default mapping is off for new shops: recorded, nothing sent.
    const sent = pipeline.standIn.received;
    expect(sent.map((event) => event.input.type).sort()).toEqual(["Order Cancelled", "Order Shipped"]);
    const shipped = sent.find((event) => event.input.type === "Order Shipped")!;
    // The order comes from the orders/create the same run recorded: no Admin API look-up.
    expect(shipped.input.user.email).toBe("missed@example.com");
    expect(shipped.properties).toMatchObject({ orderName: "#2001", firstName: "Mia", trackingNumber: "1Z-MISSED", trackingCompany: "UPS", itemTitles: "Socks", itemCount: 2 });
    expect(new Date(shipped.input.occurredAt!).toISOString()).toBe(minutesAgo(30));
    const cancelled = sent.find((event) => event.input.type === "Order Cancelled")!;
    expect(cancelled.input.user.email).toBe("missed@example.com");
    expect(cancelled.properties).toMatchObject({ orderName: "#2003", orderNumber: 2003, cancelReason: "inventory", itemTitles: "Socks, Hat", itemCount: 3 });
    expect(new Date(cancelled.input.occurredAt!).toISOString()).toBe(minutesAgo(20));
    expect(admin.unexpected).toEqual([]);

    // Shopify delivers the real webhooks after all: duplicates, nothing more is sent.
    for (const [topic, body] of [
      ["orders/create", webhookBody("orders_create.derived.json", PLACED)],
      ["orders/cancelled", webhookBody("orders_cancelled.derived.json", CANCELLED)],
      ["fulfillments/create", webhookBody("fulfillments_create.derived.json", PLACED, PARCEL)],
    ] as const) {
      expect((await postWebhook({ topic, body })).status, topic).toBe(200);
    }
    await drain(workerOptions(pipeline.standIn));
    expect(pipeline.standIn.received).toHaveLength(2);
    expect(await db().delivery.count()).toBe(2);
    expect(await recorded()).toHaveLength(3);
  });

  it("counts each event whose webhook already came as a duplicate, and sends nothing again", async () => {
    for (const [topic, body] of [
      ["orders/create", webhookBody("orders_create.derived.json", PLACED)],
      ["orders/cancelled", webhookBody("orders_cancelled.derived.json", CANCELLED)],
      ["fulfillments/create", webhookBody("fulfillments_create.derived.json", PLACED, PARCEL)],
    ] as const) {
      expect((await postWebhook({ topic, body })).status, topic).toBe(200);
    }
    await drain(workerOptions(pipeline.standIn));
    const sentBefore = pipeline.standIn.received.length;
    orders = [
      adminOrder(PLACED, { createdAt: minutesAgo(40), parcels: [{ id: PARCEL, createdAt: minutesAgo(30) }] }),
      adminOrder(CANCELLED, { createdAt: minutesAgo(600), cancelledAt: minutesAgo(20) }),
    ];
    expect(await reconcileShop(options(), TEST_SHOP)).toMatchObject({ recorded: 0, duplicates: 3 });
    await drain(workerOptions(pipeline.standIn));
    expect(pipeline.standIn.received).toHaveLength(sentBefore);
    expect(await recorded()).toHaveLength(3);
  });

  it("leaves out what falls outside the window or is not an event: too recent, already checked, a parcel that did not ship", async () => {
    orders = [
      adminOrder("9007199254742011", { createdAt: minutesAgo(5) }), // within the settle time: its webhook may be on its way
      adminOrder("9007199254742012", { createdAt: minutesAgo(600), cancelledAt: minutesAgo(90) }), // the last run saw it
      adminOrder("9007199254742013", {
        createdAt: minutesAgo(600),
        parcels: [
          { id: "9007199254742111", createdAt: minutesAgo(30), status: "CANCELLED" },
          { id: "9007199254742112", createdAt: minutesAgo(3) },
        ],
      }),
    ];
    expect(await reconcileShop(options(), TEST_SHOP)).toMatchObject({ recorded: 0, duplicates: 0 });
    // Twenty minutes later the recent order and parcel are due; the cancelled parcel and the old cancellation never are.
    expect(await reconcileShop(options({ now: () => new Date(NOW.getTime() + 20 * 60_000) }), TEST_SHOP)).toMatchObject({ recorded: 2 });
    expect(await recorded()).toEqual([
      ["fulfillments/create", "gid://shopify/Fulfillment/9007199254742112"],
      ["orders/create", "gid://shopify/Order/9007199254742011"],
    ]);
  });

  it("asks about parcels only when the shop granted read_fulfillments", async () => {
    await storeSession("read_orders");
    orders = [adminOrder(PLACED, { createdAt: minutesAgo(600), parcels: [{ id: PARCEL, createdAt: minutesAgo(30) }] })];
    expect(await reconcileShop(options(), TEST_SHOP)).toMatchObject({ recorded: 0 });
    expect(admin.calls.map((call) => call.operationName)).toEqual(["ReconcileCreatedOrders", "ReconcileFulfilledOrders", "ReconcileCancelledOrders", "ReconcileRefunds"]);
    expect(await recorded()).toEqual([]);
  });

  it("keeps its place when one topic's answer has an unexpected shape, naming the topic", async () => {
    admin.answer({
      ReconcileCreatedOrders: () => ({ body: page([]) }),
      ReconcileFulfillments: () => ({ body: page([{ id: "gid://shopify/Order/1" }]) }),
    });
    const failed = await reconcileShop(options(), TEST_SHOP);
    expect(failed.error).toBe("the Admin API answered the fulfillments/create query with an unexpected shape");
    expect(await db().reconciliation.findUniqueOrThrow({ where: { shop: TEST_SHOP } })).toMatchObject({ checkedUntil: new Date(CHECKED_UNTIL), lastError: failed.error });
    expect(admin.calls.map((call) => call.operationName)).toEqual(["ReconcileCreatedOrders", "ReconcileFulfillments"]);
  });
});
