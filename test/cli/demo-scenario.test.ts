/**
 * What `npm run demo` plays (app/cli/demo-scenario.ts), sent through the real webhook route and worker in process, with
 * the order-of-arrival wait at its default: each webhook must reach Attentive as its lifecycle event, about the right
 * person, with its order's, parcel's and return's details. CI also runs the demo itself against the built app.
 */
import { describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { DEFAULT_ORDER_ARRIVAL_WAIT_MS } from "~/delivery/related.server";
import { replaceMappings } from "~/models/Mapping.server";
import { demoMappings, demoProblems, demoWebhooks, formatDemo, playDemo, type DemoStepResult } from "~/cli/demo-scenario";
import { drain, postWebhook, usePipeline, workerOptions } from "../support/pipeline";
import { TEST_SHOP } from "../support/webhooks";

const pipeline = usePipeline();
const now = new Date();
const webhooks = demoWebhooks(now);

async function play(): Promise<DemoStepResult[]> {
  await replaceMappings(db(), TEST_SHOP, demoMappings(webhooks));
  const options = workerOptions(pipeline.standIn, { orderArrivalWaitMs: DEFAULT_ORDER_ARRIVAL_WAIT_MS });
  return playDemo(webhooks, {
    send: async (webhook) =>
      (await postWebhook({ topic: webhook.topic, body: webhook.body, eventId: webhook.eventId, triggeredAt: webhook.triggeredAt.toISOString() })).status,
    settle: () => drain(options),
    received: () => pipeline.standIn.received,
  });
}

const CUSTOMER = { email: "jon@example.com", externalIdentifiers: { clientUserId: "115310627314723954" } };

describe("the demo's script", () => {
  it("plays one order's whole life and another's cancellation, each webhook reaching Attentive as its event", async () => {
    const results = await play();
    expect(results.map((result) => [result.webhook.topic, result.status, result.events.map((event) => event.input.type)])).toEqual([
      ["orders/create", 200, ["Order Placed"]],
      ["orders/paid", 200, ["Order Paid"]],
      ["fulfillments/create", 200, ["Order Shipped"]],
      ["fulfillment_events/create", 200, ["Order In Transit"]],
      ["fulfillment_events/create", 200, ["Order Out For Delivery"]],
      ["fulfillment_events/create", 200, ["Order Delivered"]],
      ["orders/fulfilled", 200, ["Order Fulfilled"]],
      ["refunds/create", 200, ["Order Refunded"]],
      ["returns/request", 200, ["Return Requested"]],
      ["returns/close", 200, ["Return Closed"]],
      ["orders/create", 200, ["Order Placed"]],
      ["orders/cancelled", 200, ["Order Cancelled"]],
    ]);
    expect(demoProblems(results)).toEqual([]);

    const events = results.flatMap((result) => result.events);
    for (const event of events) expect(event.input.user).toEqual(CUSTOMER);
    expect(events.map((event) => event.properties.orderName)).toEqual([...Array<string>(10).fill("#9999"), "#10000", "#10000"]);
    // Dated by their bodies (returns by X-Shopify-Triggered-At), in the hour before the demo: none is stale.
    expect(events.map((event) => Math.round((now.getTime() - Date.parse(event.input.occurredAt!)) / 60_000))).toEqual([
      60, 60, 50, 40, 30, 20, 50, 15, 12, 9, 6, 3,
    ]);
    expect(await db().delivery.count({ where: { stale: true } })).toBe(0);

    const [, , shipped, inTransit, outForDelivery, delivered, fulfilled, refunded, requested, closed, , cancelled] = events;
    for (const event of [shipped, inTransit, outForDelivery, delivered, fulfilled]) {
      expect(event!.properties).toMatchObject({ trackingNumber: "1Z999AA10123456784", trackingCompany: "UPS" });
    }
    expect([inTransit, outForDelivery, delivered].map((event) => event!.properties.status)).toEqual(["in_transit", "out_for_delivery", "delivered"]);
    expect(refunded!.properties).toMatchObject({ refundAmount: 85, currency: "USD" });
    expect(requested!.properties).toMatchObject({ returnName: "#9999-R1", returnStatus: "requested", itemCount: 1 });
    // Shopify's returns/close body holds only the return's and order's ids and its status.
    expect(closed!.properties).toMatchObject({ orderName: "#9999", returnStatus: "closed" });
    expect(cancelled!.properties).toMatchObject({ cancelReason: "customer" });
    expect(new Set(events.map((event) => event.input.externalEventId)).size).toBe(12);

    // What the demo prints: the lifecycle, webhook by webhook, the same text on every run.
    const printed = formatDemo(results, now);
    const order = [
      'orders/create', '"Order Placed"', 'orders/paid', '"Order Paid"', 'fulfillments/create', '"Order Shipped"',
      'carrier: in transit', '"Order In Transit"', 'carrier: out for delivery', '"Order Out For Delivery"',
      'carrier: delivered', '"Order Delivered"', 'orders/fulfilled', '"Order Fulfilled"', 'refunds/create', '"Order Refunded"',
      'returns/request', '"Return Requested"', 'returns/close', '"Return Closed"', '#10000, placed', '"Order Placed"',
      'orders/cancelled', '"Order Cancelled"',
    ];
    let from = 0;
    for (const part of order) {
      const at = printed.findIndex((line, index) => index >= from && line.includes(part));
      expect(at, `${part} after line ${from}`).toBeGreaterThanOrEqual(from);
      from = at + 1;
    }
    expect(printed).toContain(
      '      Attentive: "Order Delivered" about jon@example.com, customer 115310627314723954, occurred 20 min before the demo\'s start',
    );
    expect(printed).toContain("        orderName=#9999  status=delivered  trackingCompany=UPS  trackingNumber=1Z999AA10123456784");
  });
});

describe("the demo's checks", () => {
  const ok = (): DemoStepResult[] =>
    webhooks.map((webhook) => ({
      webhook,
      status: 200,
      events: webhook.expect.map((type) => ({ input: { type, user: CUSTOMER }, properties: {} })),
    }));

  it("pass a run where every webhook produced its events", () => {
    expect(demoProblems(ok())).toEqual([]);
  });

  it("name a webhook that produced nothing, another event, or was refused", () => {
    const run = ok();
    run[5] = { ...run[5]!, events: [] };
    run[7] = { ...run[7]!, events: [{ input: { type: "Order Fulfilled", user: CUSTOMER }, properties: {} }] };
    run[9] = { ...run[9]!, status: 401 };
    expect(demoProblems(run)).toEqual([
      "fulfillment_events/create (carrier: delivered) should have sent Order Delivered; Attentive got nothing",
      "refunds/create (85.00 refunded) should have sent Order Refunded; Attentive got Order Fulfilled",
      "returns/close (the return is closed) was answered 401, not 200",
    ]);
  });

  it("turn on the catalog's own mapping for each event the demo expects, and refuse an event the catalog lacks", () => {
    const mappings = demoMappings(webhooks);
    expect(mappings.every((mapping) => mapping.enabled)).toBe(true);
    expect(new Set(mappings.map((mapping) => mapping.eventType))).toEqual(new Set(webhooks.flatMap((webhook) => webhook.expect)));
    expect(() => demoMappings([{ ...webhooks[0]!, expect: ["Order Teleported"] }])).toThrow(/no default mapping for Order Teleported/);
  });

  it("date the webhooks the same way for the same start, and never send a sample's 2022 time", () => {
    expect(demoWebhooks(now)).toEqual(webhooks);
    for (const webhook of webhooks) expect(webhook.body).not.toMatch(/20(19|2[0-2])-\d\d-\d\dT/);
  });
});
