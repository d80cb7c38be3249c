/**
 * Shopify does not promise its webhooks arrive in order: a delivery update, a return or a refund can come before the
 * order webhook its customer is read from. Such a delivery waits (no attempt spent, no Admin API call), goes out
 * when the order's webhook arrives, and once the production wait (90 s, on a moved clock) is over asks the Admin API,
 * once per order however many deliveries need it; an order neither source has fails with the reason.
 */
import { Session } from "@shopify/shopify-api";
import { beforeEach, describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { DEFAULT_RETRY_POLICY } from "~/delivery/retry-policy";
import type { WorkerOptions } from "~/delivery/worker.server";
import { topicDefaults } from "~/mapping/defaults";
import { replaceMappings } from "~/models/Mapping.server";
import { sessionStorage } from "~/shopify.server";
import type { MappableTopic } from "~/topics/catalog";
import { fakeAdminApi as admin } from "../stand-ins/shopify-admin";
import {
  CUSTOMER,
  deliveryUpdate,
  enableWholeCatalog,
  ORDER_ID,
  OTHER_ORDER_ID,
  PARCEL_ID,
  replaceOnce,
  runPasses,
  TRACKING_NUMBER,
  virtualClock,
  withProductionWait,
} from "../support/lifecycle";
import { postWebhook, usePipeline, workerOptions } from "../support/pipeline";
import { fixtureText, TEST_SHOP } from "../support/webhooks";

const pipeline = usePipeline();

/** What the Admin API fake knows, by order GraphQL id. */
let adminOrders: Record<string, unknown>;

beforeEach(async () => {
  admin.reset();
  adminOrders = {};
  admin.answer({ RefundOrderIdentity: (variables) => ({ body: { data: { order: adminOrders[String(variables.id)] ?? null } } }) });
  await sessionStorage.storeSession(
    new Session({ id: `offline_${TEST_SHOP}`, shop: TEST_SHOP, state: "state", isOnline: false, accessToken: "shpat_test_token", scope: "read_orders,read_fulfillments,read_returns" }),
  );
});

/** The Admin API's tracking differs from the fixtures', so an event shows where its parcel came from. */
const ADMIN_TRACKING = { number: "9400111899223197428490", url: "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111899223197428490", company: "USPS" };

function adminOrder(orderId: string, email: string, name: string) {
  return {
    id: `gid://shopify/Order/${orderId}`,
    legacyResourceId: orderId,
    name,
    email,
    phone: null,
    customer: { id: "gid://shopify/Customer/7001", legacyResourceId: "7001", firstName: "Ada", defaultEmailAddress: { emailAddress: email }, defaultPhoneNumber: null },
    shippingAddress: null,
    billingAddress: null,
    fulfillments: [
      { id: `gid://shopify/Fulfillment/${PARCEL_ID}`, legacyResourceId: PARCEL_ID, name: `${name}.1`, status: "SUCCESS", createdAt: "2022-01-03T15:15:00Z", trackingInfo: [ADMIN_TRACKING] },
    ],
  };
}

const BODY = {
  deliveryUpdate: fixtureText("fulfillment_events_create.derived.json"),
  returnRequest: fixtureText("returns_request.derived.json"),
  refund: fixtureText("refunds_create.derived.json"),
};

async function post(topic: MappableTopic, body: string) {
  const response = await postWebhook({ topic, body });
  expect(response.status).toBe(200);
}

/** One enabled default mapping per topic named (the delivery update's: its own status's). */
async function mapOnly(...topics: MappableTopic[]) {
  const mappings = topics.flatMap((topic) =>
    topicDefaults(topic)
      .filter((mapping) => topic !== "fulfillment_events/create" || mapping.when === "status == 'out_for_delivery'")
      .slice(0, 1)
      .map((mapping) => ({ ...mapping, enabled: true })),
  );
  await replaceMappings(db(), TEST_SHOP, mappings);
}

function productionWorker(clock: ReturnType<typeof virtualClock>, overrides: Partial<WorkerOptions> = {}): WorkerOptions {
  return withProductionWait(workerOptions(pipeline.standIn, { now: clock.now, ...overrides }));
}

/** The production wait for an order's webhook and the time between checks, as the waiting reason tells merchants. */
const ORDER_ARRIVAL_WAIT_MS = 90_000;
const ORDER_ARRIVAL_CHECK_MS = 15_000;

const WAITING_FOR_ORDER = `Waiting for the order's webhook (order ${ORDER_ID}): Shopify sent this`;

describe("news about an order before the order's webhook", () => {
  it.each([
    { what: "delivery update", topic: "fulfillment_events/create", body: BODY.deliveryUpdate, subject: "delivery update", type: "Order Out For Delivery" },
    { what: "return", topic: "returns/request", body: BODY.returnRequest, subject: "return", type: "Return Requested" },
    { what: "refund", topic: "refunds/create", body: BODY.refund, subject: "refund", type: "Order Refunded" },
  ] as const)("a $what waits without an attempt or a look-up, and is sent when the order's webhook arrives", async ({ topic, body, subject, type }) => {
    await mapOnly(topic);
    const clock = virtualClock();
    const worker = productionWorker(clock);
    await post(topic, body);
    await runPasses(worker);

    for (let waited = 0; waited < 45_000; waited += ORDER_ARRIVAL_CHECK_MS) {
      const delivery = await db().delivery.findFirstOrThrow({ include: { attemptLog: true } });
      expect(delivery).toMatchObject({ status: "pending", attempts: 0, attemptLog: [] });
      expect(delivery.lastError).toBe(
        `${WAITING_FOR_ORDER} ${subject} first. The app checks again every 15 s, and 90 s after it arrived asks Shopify's Admin API instead.`,
      );
      // Checked again in one check interval, not before.
      expect(delivery.nextAttemptAt.getTime() - clock.now().getTime()).toBeGreaterThan(ORDER_ARRIVAL_CHECK_MS - 1_000);
      expect(delivery.nextAttemptAt.getTime() - clock.now().getTime()).toBeLessThanOrEqual(ORDER_ARRIVAL_CHECK_MS);
      clock.advance(ORDER_ARRIVAL_CHECK_MS);
      await runPasses(worker);
    }
    expect(pipeline.standIn.received).toHaveLength(0);

    // The fulfilled order's webhook: it names the parcel too, so the delivery update needs nothing else.
    await post("orders/fulfilled", fixtureText("orders_fulfilled.derived.json"));
    clock.advance(ORDER_ARRIVAL_CHECK_MS);
    await runPasses(worker);
    const delivered = await db().delivery.findFirstOrThrow({ where: { topic } });
    expect(delivered).toMatchObject({ status: "delivered", attempts: 1, orderName: "#9999", lastError: null });
    const sent = pipeline.standIn.received.filter((event) => event.input.type === type);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.input.user).toEqual(CUSTOMER);
    expect(sent[0]!.properties.orderName).toBe("#9999");
    if (topic === "fulfillment_events/create") expect(sent[0]!.properties.trackingNumber).toBe(TRACKING_NUMBER);
    expect(admin.calls).toEqual([]);
  });

  it("after the wait asks the Admin API once per order, however many deliveries of that order need it", async () => {
    await enableWholeCatalog();
    adminOrders[`gid://shopify/Order/${ORDER_ID}`] = adminOrder(ORDER_ID, "buyer@example.com", "#9999");
    adminOrders[`gid://shopify/Order/${OTHER_ORDER_ID}`] = adminOrder(OTHER_ORDER_ID, "other@example.com", "#10001");
    const otherRefund = replaceOnce(
      replaceOnce(BODY.refund, `"order_id": ${ORDER_ID}`, `"order_id": ${OTHER_ORDER_ID}`),
      "gid://shopify/Refund/890088186047892319",
      "gid://shopify/Refund/890088186047892320",
    );
    await post("fulfillment_events/create", BODY.deliveryUpdate);
    await post("fulfillment_events/create", deliveryUpdate("1234569", "delivered", "2022-01-05T14:32:00-05:00", "Delivered"));
    await post("returns/request", BODY.returnRequest);
    await post("refunds/create", BODY.refund);
    await post("refunds/create", otherRefund);
    expect(await db().delivery.count()).toBe(7 + 7 + 1 + 1 + 1);

    // One delivery per pass, so the second delivery of an order cannot share the first one's query in flight.
    const clock = virtualClock();
    const worker = productionWorker(clock, { batchSize: 1, concurrency: 1 });
    await runPasses(worker, 100);
    for (let waited = ORDER_ARRIVAL_CHECK_MS; waited < ORDER_ARRIVAL_WAIT_MS; waited += ORDER_ARRIVAL_CHECK_MS) {
      clock.advance(ORDER_ARRIVAL_CHECK_MS);
      await runPasses(worker, 100);
      expect(await db().delivery.count({ where: { status: "pending", attempts: 0 } })).toBe(17);
      expect(admin.calls).toEqual([]);
    }

    clock.advance(ORDER_ARRIVAL_CHECK_MS);
    await runPasses(worker, 100);
    expect(admin.calls.map((call) => call.variables.id).sort()).toEqual([`gid://shopify/Order/${ORDER_ID}`, `gid://shopify/Order/${OTHER_ORDER_ID}`].sort());
    expect(admin.calls.every((call) => call.operationName === "RefundOrderIdentity")).toBe(true);
    expect(admin.unexpected).toEqual([]);

    const sent = pipeline.standIn.received.map((event) => [event.input.type, event.input.user.email, event.properties.orderName]).sort();
    expect(sent).toEqual(
      [
        ["Order Out For Delivery", "buyer@example.com", "#9999"],
        ["Order Delivered", "buyer@example.com", "#9999"],
        ["Return Requested", "buyer@example.com", "#9999"],
        ["Order Refunded", "buyer@example.com", "#9999"],
        ["Order Refunded", "other@example.com", "#10001"],
      ].sort(),
    );
    // The parcel came with the order's answer.
    const updates = pipeline.standIn.received.filter((event) => event.input.type.startsWith("Order Out") || event.input.type === "Order Delivered");
    expect(updates.map((event) => event.properties.trackingNumber)).toEqual([ADMIN_TRACKING.number, ADMIN_TRACKING.number]);
    expect(await db().delivery.count({ where: { status: { notIn: ["delivered", "skipped"] } } })).toBe(0);
  });

  it("fails with the reason when neither a recorded webhook nor the Admin API has the order", async () => {
    await mapOnly("fulfillment_events/create", "returns/request", "refunds/create");
    await post("fulfillment_events/create", BODY.deliveryUpdate);
    await post("returns/request", BODY.returnRequest);
    await post("refunds/create", BODY.refund);
    // One delivery per pass: a look-up that found nothing is not kept, so each delivery asks once.
    const clock = virtualClock();
    const worker = productionWorker(clock, { batchSize: 1, concurrency: 1 });
    await runPasses(worker);
    clock.advance(ORDER_ARRIVAL_WAIT_MS);
    await runPasses(worker);

    const deliveries = await db().delivery.findMany({ orderBy: { topic: "asc" } });
    expect(deliveries.map((delivery) => [delivery.topic, delivery.status, delivery.errorKind, delivery.attempts])).toEqual([
      ["fulfillment_events/create", "failed", "terminal", 1],
      ["refunds/create", "failed", "terminal", 1],
      ["returns/request", "failed", "terminal", 1],
    ]);
    const nouns: Record<string, { subject: string; order: string }> = {
      "fulfillment_events/create": { subject: "delivery update", order: "The shipped order" },
      "refunds/create": { subject: "refund", order: "The refunded order" },
      "returns/request": { subject: "return", order: "The returned order" },
    };
    for (const delivery of deliveries) {
      const { subject, order } = nouns[delivery.topic]!;
      expect(delivery.lastError).toBe(
        `No email, phone or customer id for this ${subject}: Attentive needs at least one. Add an email or phone to ${order.toLowerCase()} in Shopify, ` +
          `or set user.email, user.phone or user.clientUserId in the mapping. ${order} could not be read: Order ${ORDER_ID} was not found in the shop.`,
      );
    }
    expect(pipeline.standIn.received).toHaveLength(0);
    // The delivery update does not ask again for its parcel once the order was not found.
    expect(admin.calls.map((call) => call.variables.id)).toEqual(Array.from({ length: 3 }, () => `gid://shopify/Order/${ORDER_ID}`));
  });
});

describe("when the Admin API cannot answer for now", () => {
  it("a parcel is retried rather than sent without its order, then sent with the order's name and customer", async () => {
    await mapOnly("fulfillments/create");
    let failing = true;
    admin.answer({
      RefundOrderIdentity: (variables) =>
        failing ? { status: 503, body: { errors: "Service unavailable" } } : { body: { data: { order: adminOrders[String(variables.id)] ?? null } } },
    });
    adminOrders[`gid://shopify/Order/${ORDER_ID}`] = adminOrder(ORDER_ID, "buyer@example.com", "#9999");
    await post("fulfillments/create", fixtureText("fulfillments_create.derived.json"));
    const clock = virtualClock();
    // The production retry delays (5 s and up), so the retry waits for the clock to move.
    const worker = productionWorker(clock, { retry: DEFAULT_RETRY_POLICY });
    clock.advance(ORDER_ARRIVAL_WAIT_MS);
    await runPasses(worker);

    // The parcel names an email of its own, but an event without the order's name would be a worse text.
    const waiting = await db().delivery.findFirstOrThrow();
    expect(waiting).toMatchObject({ status: "pending", errorKind: "retryable", attempts: 1 });
    expect(waiting.lastError).toMatch(/^The shipped order could not be read: Shopify's Admin API did not return the order \(HTTP 503\): will retry\./);
    expect(pipeline.standIn.received).toHaveLength(0);

    failing = false;
    clock.advance(60_000);
    await runPasses(worker);
    expect(await db().delivery.findFirstOrThrow()).toMatchObject({ status: "delivered", attempts: 2 });
    expect(pipeline.standIn.received).toHaveLength(1);
    expect(pipeline.standIn.received[0]!.properties.orderName).toBe("#9999");
    expect(pipeline.standIn.received[0]!.input.user.email).toBe("buyer@example.com");
  });
});

describe("a delivery update whose parcel's webhook has not arrived", () => {
  it("takes the parcel from the order's fulfillments, without waiting or a look-up", async () => {
    await mapOnly("fulfillment_events/create");
    await post("orders/fulfilled", fixtureText("orders_fulfilled.derived.json"));
    await post("fulfillment_events/create", BODY.deliveryUpdate);
    await runPasses(productionWorker(virtualClock()));
    expect(pipeline.standIn.received).toHaveLength(1);
    expect(pipeline.standIn.received[0]!.properties).toMatchObject({ trackingNumber: TRACKING_NUMBER, trackingCompany: "UPS", status: "out_for_delivery" });
    expect(admin.calls).toEqual([]);
  });

  it("waits for the parcel's webhook while the order has no such parcel, and is sent when it arrives", async () => {
    await mapOnly("fulfillment_events/create");
    await post("orders/create", fixtureText("orders_create.derived.json"));
    await post("fulfillment_events/create", BODY.deliveryUpdate);
    const clock = virtualClock();
    const worker = productionWorker(clock);
    await runPasses(worker);
    const waiting = await db().delivery.findFirstOrThrow();
    expect(waiting).toMatchObject({ status: "pending", attempts: 0 });
    expect(waiting.lastError).toMatch(new RegExp(`^Waiting for the parcel's webhook \\(fulfillment ${PARCEL_ID}\\): Shopify sent this delivery update first\\.`));

    await post("fulfillments/create", fixtureText("fulfillments_create.derived.json"));
    clock.advance(ORDER_ARRIVAL_CHECK_MS);
    await runPasses(worker);
    expect(pipeline.standIn.received).toHaveLength(1);
    expect(pipeline.standIn.received[0]!.properties).toMatchObject({ trackingNumber: TRACKING_NUMBER, orderName: "#9999" });
    expect(pipeline.standIn.received[0]!.input.user).toEqual(CUSTOMER);
    expect(admin.calls).toEqual([]);
  });

  it("after the wait takes the parcel from the Admin API, the customer still from the recorded order", async () => {
    await mapOnly("fulfillment_events/create");
    adminOrders[`gid://shopify/Order/${ORDER_ID}`] = adminOrder(ORDER_ID, "buyer@example.com", "#9999");
    await post("orders/create", fixtureText("orders_create.derived.json"));
    await post("fulfillment_events/create", BODY.deliveryUpdate);
    const clock = virtualClock();
    const worker = productionWorker(clock);
    await runPasses(worker);
    clock.advance(ORDER_ARRIVAL_WAIT_MS - ORDER_ARRIVAL_CHECK_MS);
    await runPasses(worker);
    expect(admin.calls).toEqual([]);
    clock.advance(ORDER_ARRIVAL_CHECK_MS);
    await runPasses(worker);

    expect(admin.calls).toHaveLength(1);
    expect(pipeline.standIn.received).toHaveLength(1);
    expect(pipeline.standIn.received[0]!.properties).toMatchObject({ trackingNumber: ADMIN_TRACKING.number, trackingCompany: "USPS", orderName: "#9999" });
    expect(pipeline.standIn.received[0]!.input.user).toEqual(CUSTOMER);
  });
});
