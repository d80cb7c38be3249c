/**
 * One order's whole life through the real webhook route, the real worker and the Attentive stand-in, with every
 * mapping the catalog offers turned on: placed, paid, shipped, in transit, out for delivery, delivered, fulfilled,
 * refunded, return requested and closed, and a second customer's order placed and cancelled. Each webhook whose
 * condition holds becomes exactly one event about the right customer, dated by its body; then the same life in
 * shuffled order (events before their order, on the production wait and a moved clock), and every webhook
 * redelivered, give the same events, once.
 */
import { Session } from "@shopify/shopify-api";
import { beforeEach, describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { catalogMappings } from "~/mapping/defaults";
import { sessionStorage } from "~/shopify.server";
import { fakeAdminApi as admin } from "../stand-ins/shopify-admin";
import {
  CUSTOMER,
  enableWholeCatalog,
  lifecycleWebhooks,
  OTHER_CUSTOMER,
  post,
  runPasses,
  shuffled,
  TRACKING_NUMBER,
  virtualClock,
  withProductionWait,
  type LifecycleWebhook,
} from "../support/lifecycle";
import { usePipeline, workerOptions } from "../support/pipeline";
import { seededRandom } from "../support/seeded-random";
import { TEST_SHOP } from "../support/webhooks";

const pipeline = usePipeline();

beforeEach(async () => {
  admin.reset();
  await enableWholeCatalog();
  // With an offline session a look-up would really reach the (unanswering) Admin API fake and be counted.
  await sessionStorage.storeSession(
    new Session({ id: `offline_${TEST_SHOP}`, shop: TEST_SHOP, state: "state", isOnline: false, accessToken: "shpat_test_token", scope: "read_orders" }),
  );
});

const ORDER_STATUS_URL = "https://jsmith.myshopify.com/548380009/orders/123456abcd/authenticate?key=abcdefg";
const ITEM_TITLES = "Aviator sunglasses, Lens Protection Plan (2 Year), Premium Leather Case, Mid-century lounger, Coffee table";
const TRACKING = {
  trackingNumber: TRACKING_NUMBER,
  trackingUrl: `https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=${TRACKING_NUMBER}`,
  trackingCompany: "UPS",
};
const ORDER = { orderName: "#9999", orderNumber: 1234, firstName: "John", totalPrice: "404.95", currency: "USD", itemTitles: ITEM_TITLES, itemCount: 5, orderStatusUrl: ORDER_STATUS_URL };

function deliveryUpdate(status: string, message: string, estimatedDeliveryAt: string) {
  return { orderName: "#9999", firstName: "John", status, message, ...TRACKING, estimatedDeliveryAt, orderStatusUrl: ORDER_STATUS_URL };
}

interface Expected {
  type: string;
  user: object;
  occurredAt: string;
  properties: Record<string, unknown>;
}

/** What each webhook of the life must send (by its label), worked out from the fixtures by hand. */
const EXPECTED: Record<string, Expected> = {
  "order placed": { type: "Order Placed", user: CUSTOMER, occurredAt: "2022-01-01T00:00:00.000Z", properties: ORDER },
  "order paid": {
    type: "Order Paid",
    user: CUSTOMER,
    occurredAt: "2022-01-01T00:00:00.000Z",
    properties: { ...ORDER, paymentGateways: "visa, bogus" },
  },
  "parcel shipped": {
    type: "Order Shipped",
    user: CUSTOMER,
    occurredAt: "2022-01-03T15:15:00.000Z",
    // The parcel carries all five items.
    properties: { orderName: "#9999", firstName: "John", ...TRACKING, itemTitles: ITEM_TITLES, itemCount: 5, orderStatusUrl: ORDER_STATUS_URL },
  },
  "in transit": {
    type: "Order In Transit",
    user: CUSTOMER,
    occurredAt: "2022-01-04T14:00:00.000Z",
    properties: deliveryUpdate("in_transit", "In transit", "2022-01-05T18:00:00-05:00"),
  },
  "out for delivery": {
    type: "Order Out For Delivery",
    user: CUSTOMER,
    occurredAt: "2022-01-05T13:10:00.000Z",
    properties: deliveryUpdate("out_for_delivery", "Out for delivery", "2022-01-05T18:00:00-05:00"),
  },
  delivered: {
    type: "Order Delivered",
    user: CUSTOMER,
    occurredAt: "2022-01-05T19:32:00.000Z",
    properties: deliveryUpdate("delivered", "Delivered", "2022-01-05T18:00:00-05:00"),
  },
  "order fulfilled": {
    type: "Order Fulfilled",
    user: CUSTOMER,
    occurredAt: "2022-01-03T15:15:00.000Z",
    properties: { ...ORDER, ...TRACKING },
  },
  refund: {
    type: "Order Refunded",
    user: CUSTOMER,
    occurredAt: "2022-01-01T00:00:00.000Z",
    properties: { orderName: "#9999", firstName: "John", refundAmount: 85, currency: "USD", refundedItemTitles: ITEM_TITLES, note: "Things were damaged", orderStatusUrl: ORDER_STATUS_URL },
  },
  "return requested": {
    type: "Return Requested",
    user: CUSTOMER,
    occurredAt: "2022-01-12T15:00:00.000Z",
    properties: { orderName: "#9999", firstName: "John", returnName: "#9999-R1", returnStatus: "requested", itemCount: 1, orderStatusUrl: ORDER_STATUS_URL },
  },
  "return closed": {
    type: "Return Closed",
    user: CUSTOMER,
    occurredAt: "2022-01-20T16:30:00.000Z",
    // The close body is the return's ids and status only.
    properties: { orderName: "#9999", firstName: "John", returnName: "", returnStatus: "closed", itemCount: "", orderStatusUrl: ORDER_STATUS_URL },
  },
  "other order placed": {
    type: "Order Placed",
    user: OTHER_CUSTOMER,
    occurredAt: "2022-01-01T00:00:00.000Z",
    properties: { ...ORDER, orderName: "#10001", orderNumber: 10001, firstName: "Ada", orderStatusUrl: ORDER_STATUS_URL.replace("123456abcd", "98765zyxw") },
  },
  "other order cancelled": {
    type: "Order Cancelled",
    user: OTHER_CUSTOMER,
    occurredAt: "2022-01-01T14:30:00.000Z",
    properties: {
      ...ORDER,
      orderName: "#10001",
      orderNumber: 10001,
      firstName: "Ada",
      orderStatusUrl: ORDER_STATUS_URL.replace("123456abcd", "98765zyxw"),
      cancelReason: "customer",
      cancelledAt: "2022-01-01T09:30:00-05:00",
    },
  },
};

/** The delivery statuses the catalog's delivery-update mappings send on. */
const STATUS_MAPPINGS = catalogMappings().filter((mapping) => mapping.topic === "fulfillment_events/create");

interface Outcome {
  /** What Attentive received, by the label of the webhook each event came from. */
  sends: Array<{ label: string } & Expected>;
  deliveries: Array<{ label: string; eventType: string; status: string; attempts: number; lastError: string | null }>;
}

async function outcome(webhooks: readonly LifecycleWebhook[]): Promise<Outcome> {
  const labelOf = new Map(webhooks.map((webhook) => [`${webhook.topic} ${webhook.body}`, webhook.label]));
  const rows = await db().delivery.findMany({ include: { webhook: { select: { topic: true, body: true } } } });
  const byEventId = new Map(rows.map((row) => [row.externalEventId, row]));
  const label = (row: (typeof rows)[number]) => labelOf.get(`${row.webhook.topic} ${row.webhook.body}`) ?? `unknown webhook ${row.webhook.topic}`;
  return {
    sends: pipeline.standIn.received.map((event) => {
      const row = byEventId.get(event.input.externalEventId ?? "");
      return {
        label: row ? label(row) : "no delivery",
        type: event.input.type,
        user: event.input.user,
        occurredAt: event.input.occurredAt ?? "",
        properties: event.properties,
      };
    }),
    deliveries: rows.map((row) => ({ label: label(row), eventType: row.eventType, status: row.status, attempts: row.attempts, lastError: row.lastError })),
  };
}

/** One event per webhook (its condition holds for one mapping each), the skips for the other statuses, no look-up. */
function expectWholeLifeSent(result: Outcome, webhooks: readonly LifecycleWebhook[]) {
  const byLabel = (a: { label: string }, b: { label: string }) => a.label.localeCompare(b.label);
  expect(result.sends.sort(byLabel)).toEqual(Object.entries(EXPECTED).map(([label, expected]) => ({ label, ...expected })).sort(byLabel));

  const delivered = result.deliveries.filter((delivery) => delivery.status === "delivered");
  expect(delivered.map((delivery) => [delivery.label, delivery.eventType, delivery.attempts]).sort()).toEqual(
    Object.entries(EXPECTED).map(([label, expected]) => [label, expected.type, 1]).sort(),
  );
  // Every other mapping of a delivery update is skipped, saying which condition did not hold.
  const skipped = result.deliveries.filter((delivery) => delivery.status !== "delivered");
  const updates = webhooks.filter((webhook) => webhook.topic === "fulfillment_events/create");
  expect(skipped).toHaveLength(updates.length * (STATUS_MAPPINGS.length - 1));
  for (const delivery of skipped) {
    const mapping = STATUS_MAPPINGS.find((candidate) => candidate.eventType === delivery.eventType)!;
    expect(delivery, `${delivery.label}: ${delivery.eventType}`).toMatchObject({ status: "skipped", attempts: 1 });
    expect(delivery.lastError).toBe(`The condition "${mapping.when}" is false for this delivery update, so "${mapping.eventType}" was not sent.`);
    expect(EXPECTED[delivery.label]?.type).not.toBe(delivery.eventType);
  }
  expect(new Set(result.deliveries.map((delivery) => delivery.label))).toEqual(new Set(webhooks.map((webhook) => webhook.label)));

  // Every order webhook was recorded in time: nothing asked Shopify's Admin API.
  expect(admin.calls).toEqual([]);
  expect(admin.unexpected).toEqual([]);
}

/** Posts every webhook again, under a new webhook id and under its own, and checks nothing new happens. */
async function redeliverAll(webhooks: readonly LifecycleWebhook[], options: Parameters<typeof runPasses>[0]) {
  const sent = pipeline.standIn.received.length;
  const recorded = await db().webhook.count();
  const deliveries = await db().delivery.findMany({ orderBy: { id: "asc" } });
  for (const webhook of webhooks) {
    await post(webhook, { webhookId: `${webhook.webhookId}-again`, eventId: `${webhook.eventId}-again` });
    await post(webhook);
  }
  await runPasses(options);
  expect(pipeline.standIn.received).toHaveLength(sent);
  expect(await db().webhook.count()).toBe(recorded);
  expect(await db().delivery.findMany({ orderBy: { id: "asc" } })).toEqual(deliveries);
}

describe("an order's whole life, every catalog mapping on", () => {
  it("sends one event per webhook whose condition holds, about the order's customer, dated by the body", async () => {
    const webhooks = lifecycleWebhooks();
    const clock = virtualClock();
    const options = withProductionWait(workerOptions(pipeline.standIn, { now: clock.now }));
    for (const webhook of webhooks) {
      await post(webhook);
      await runPasses(options);
      clock.advance(60_000);
    }
    // Each webhook recorded once, keyed by what it is about (order+topic, parcel, carrier update, refund, return+topic).
    expect(await db().webhook.count()).toBe(webhooks.length);
    expectWholeLifeSent(await outcome(webhooks), webhooks);
    await redeliverAll(webhooks, options);
  });

  it.each([8, 12, 33])("sends the same events, once each, whatever order the webhooks and their redeliveries arrive in (seed %i)", async (seed) => {
    const webhooks = lifecycleWebhooks();
    // Each webhook three times: as sent, redelivered under a new webhook id, and retried under its own.
    const arrivals = shuffled(
      webhooks.flatMap((webhook) => [
        { webhook, headers: {} },
        { webhook, headers: { webhookId: `${webhook.webhookId}-new`, eventId: `${webhook.eventId}-new` } },
        { webhook, headers: {} },
      ]),
      seededRandom(seed),
    );
    // The shuffle really puts news about the first order ahead of every one of its order webhooks.
    const firstOrderWebhook = arrivals.findIndex(({ webhook }) => webhook.topic.startsWith("orders/") && !webhook.label.startsWith("other"));
    expect(arrivals.slice(0, firstOrderWebhook).some(({ webhook }) => !webhook.topic.startsWith("orders/"))).toBe(true);

    const clock = virtualClock();
    const options = withProductionWait(workerOptions(pipeline.standIn, { now: clock.now }));
    // All arrivals well within the production wait (90 s): arrival order alone must not make anything fail or ask
    // the Admin API.
    const stepMs = Math.floor(90_000 / arrivals.length / 2);
    let waited = 0;
    for (const { webhook, headers } of arrivals) {
      await post(webhook, headers);
      await runPasses(options);
      waited = Math.max(waited, await db().delivery.count({ where: { status: "pending", lastError: { contains: "Waiting for the order's webhook" } } }));
      expect(await db().delivery.count({ where: { status: "failed" } })).toBe(0);
      clock.advance(stepMs);
    }
    expect(waited).toBeGreaterThan(0);
    // What still waits is checked again every 15 s until its order's webhook (already here) is found.
    for (let step = 0; step < 10 && (await db().delivery.count({ where: { status: "pending" } })) > 0; step++) {
      clock.advance(15_000);
      await runPasses(options);
    }

    expect(await db().webhook.count()).toBe(webhooks.length);
    expectWholeLifeSent(await outcome(webhooks), webhooks);
  });
});
