/**
 * Bodies of a known topic that lack what the topic's entry needs: no order id, a return without its order, a
 * delivery status the app does not know, `{}` (returns/process's published sample), not an object at all, ids far
 * beyond 2^53. Each is recorded (answered 200, so Shopify does not retry it for two days) and each of its deliveries
 * ends failed or skipped with a reason a merchant can read: nothing is dropped, nothing crashes, nothing stays open.
 */
import { Session } from "@shopify/shopify-api";
import { beforeEach, describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { MAPPABLE_TOPICS, type MappableTopic } from "~/topics/catalog";
import { FULFILLMENT_EVENT_STATUSES } from "~/topics/meta";
import { sessionStorage } from "~/shopify.server";
import { fakeAdminApi as admin } from "../stand-ins/shopify-admin";
import { CUSTOMER, enableWholeCatalog, ORDER_ID, replaceOnce, runPasses, setField, virtualClock, withProductionWait } from "../support/lifecycle";
import { drain, postWebhook, usePipeline, workerOptions } from "../support/pipeline";
import { fixtureText, TEST_SHOP } from "../support/webhooks";

const pipeline = usePipeline();

beforeEach(async () => {
  admin.reset();
  admin.answer({ RefundOrderIdentity: () => ({ body: { data: { order: null } } }) });
  await enableWholeCatalog();
  await sessionStorage.storeSession(
    new Session({ id: `offline_${TEST_SHOP}`, shop: TEST_SHOP, state: "state", isOnline: false, accessToken: "shpat_test_token", scope: "read_orders" }),
  );
});

/** Posts the body; it must be answered 200 and recorded as sent, byte for byte. */
async function record(topic: MappableTopic, body: string, eventId?: string) {
  const response = await postWebhook({ topic, body, ...(eventId ? { eventId } : {}) });
  expect(response.status, `${topic} ${body.slice(0, 80)}`).toBe(200);
  const webhook = await db().webhook.findFirst({ where: { topic, body }, include: { deliveries: true } });
  expect(webhook, `${topic} was not recorded`).not.toBeNull();
  return webhook!;
}

/** Runs the worker until nothing is open; returns every delivery of the topic. */
async function settled(topic: MappableTopic) {
  await drain(workerOptions(pipeline.standIn));
  expect(await db().delivery.count({ where: { status: { in: ["pending", "sending"] } } })).toBe(0);
  return db().delivery.findMany({ where: { topic } });
}

/** The body without one of its top-level fields (the derived bodies put each on its own lines, two spaces in). */
function withoutField(text: string, key: string): string {
  const lines = text.split("\n");
  const start = lines.findIndex((line) => line.startsWith(`  "${key}": `));
  if (start === -1) throw new Error(`no top-level "${key}"`);
  let end = start;
  // An object or list value runs to the line that closes it at the same depth.
  if (/[[{]$/.test(lines[start]!)) while (!/^ {2}[\]}],?$/.test(lines[end]!)) end++;
  lines.splice(start, end - start + 1);
  const result = lines.join("\n").replace(/,(\s*})\s*$/, "$1\n");
  JSON.parse(result);
  return result;
}

const NO_IDENTITY = (subject: string, order: string) =>
  `No email, phone or customer id for this ${subject}: Attentive needs at least one. Add an email or phone to ${order} in Shopify, or set user.email, user.phone or user.clientUserId in the mapping.`;

describe("a body without the order it is about", () => {
  it.each([
    { topic: "refunds/create", body: withoutField(fixtureText("refunds_create.derived.json"), "order_id"), subject: "refund", order: "the refunded order" },
    { topic: "returns/request", body: withoutField(fixtureText("returns_request.derived.json"), "order"), subject: "return", order: "the returned order" },
    { topic: "returns/close", body: withoutField(fixtureText("returns_close.derived.json"), "order_id"), subject: "return", order: "the returned order" },
    {
      topic: "returns/decline",
      body: replaceOnce(withoutField(fixtureText("returns_decline.derived.json"), "order"), '"status": "declined",', '"status": "declined",\n  "order": null,'),
      subject: "return",
      order: "the returned order",
    },
    {
      topic: "fulfillments/create",
      // Without its order and without the parcel's own email and destination, nobody is left to tell.
      body: withoutField(withoutField(withoutField(fixtureText("fulfillments_create.derived.json"), "order_id"), "email"), "destination"),
      subject: "parcel",
      order: "the shipped order",
    },
  ] as const)("$topic: recorded, then failed with why ($subject without an order id)", async ({ topic, body, subject, order }) => {
    expect(body).not.toContain(ORDER_ID);
    const webhook = await record(topic, body);
    expect(webhook.orderId).toBeNull();
    const deliveries = await settled(topic);
    expect(deliveries).toHaveLength(1);
    const capital = order.charAt(0).toUpperCase() + order.slice(1);
    expect(deliveries[0]).toMatchObject({
      status: "failed",
      errorKind: "terminal",
      attempts: 1,
      lastError: `${NO_IDENTITY(subject, order)} ${capital} could not be read: The ${subject} has no order id, so its customer cannot be found.`,
    });
    expect(pipeline.standIn.received).toHaveLength(0);
    expect(admin.calls).toEqual([]);
  });

  it("fulfillments/create: a parcel without its order id still reaches the email it names", async () => {
    // The parcel names the customer's email and destination itself (fulfillments-create.ts), so it is sent with those.
    const body = withoutField(fixtureText("fulfillments_create.derived.json"), "order_id");
    await record("fulfillments/create", body);
    const [delivery] = await settled("fulfillments/create");
    expect(delivery).toMatchObject({ status: "delivered", attempts: 1 });
    expect(pipeline.standIn.received).toHaveLength(1);
    expect(pipeline.standIn.received[0]!.input.user).toEqual({ email: CUSTOMER.email });
    expect(pipeline.standIn.received[0]!.properties).toMatchObject({ trackingNumber: "1Z999AA10123456784", orderName: "", firstName: "Steve" });
  });

  it("fulfillment_events/create: the mapping for its status fails with why, the others are skipped on their condition", async () => {
    const body = withoutField(setField(fixtureText("fulfillment_events_create.derived.json"), "status", '"delivered"'), "order_id");
    await record("fulfillment_events/create", body);
    const deliveries = await settled("fulfillment_events/create");
    expect(deliveries).toHaveLength(7);
    const failed = deliveries.filter((delivery) => delivery.status === "failed");
    expect(failed.map((delivery) => delivery.eventType)).toEqual(["Order Delivered"]);
    expect(failed[0]!.lastError).toBe(
      `${NO_IDENTITY("delivery update", "the shipped order")} The shipped order could not be read: The delivery update has no order id, so its customer cannot be found.`,
    );
    for (const skipped of deliveries.filter((delivery) => delivery.status !== "failed")) {
      expect(skipped.status).toBe("skipped");
      expect(skipped.lastError).toMatch(/^The condition "status == '[a-z_]+'" is false for this delivery update, so "[A-Za-z ]+" was not sent\.$/);
    }
    expect(pipeline.standIn.received).toHaveLength(0);
  });
});

describe("a delivery update with a status the app does not know", () => {
  it.each([
    { status: '"teleported"', shown: '"teleported"' },
    { status: "null", shown: "null" },
    { status: "3", shown: "3" },
    { status: '"DELIVERED"', shown: '"DELIVERED"' },
  ])("status $status: every mapping skipped, naming the status and the known ones, without waiting or a look-up", async ({ status, shown }) => {
    await record("fulfillment_events/create", setField(fixtureText("fulfillment_events_create.derived.json"), "status", status));
    // On the production wait, with the order's webhook not recorded: skipped at once all the same.
    await runPasses(withProductionWait(workerOptions(pipeline.standIn, { now: virtualClock().now })));
    const deliveries = await db().delivery.findMany();
    expect(deliveries).toHaveLength(7);
    for (const delivery of deliveries) {
      expect(delivery).toMatchObject({
        status: "skipped",
        lastError: `Shopify sent a delivery status this app does not know (${shown}), so no event was sent. Known statuses: ${FULFILLMENT_EVENT_STATUSES.join(", ")}.`,
      });
    }
    expect(admin.calls).toEqual([]);
  });
});

describe("bodies with nothing usable in them", () => {
  it.each(["{}", "[]", "null", '"returns/process"', "0"])("%s under every catalog topic: recorded, and every delivery ends with a reason", async (body) => {
    for (const topic of MAPPABLE_TOPICS) await record(topic, body);
    await drain(workerOptions(pipeline.standIn));
    const deliveries = await db().delivery.findMany();
    // Every enabled mapping of every topic has its delivery.
    expect(deliveries).toHaveLength(await db().mapping.count({ where: { shop: TEST_SHOP, enabled: true } }));
    for (const delivery of deliveries) {
      const reason = delivery.lastError ?? "";
      expect(delivery.status, `${delivery.topic}: ${reason}`).toMatch(/^(failed|skipped)$/);
      if (delivery.topic === "fulfillment_events/create") {
        expect(reason).toMatch(/^(Shopify sent a delivery status this app does not know \(null\)|The condition "status == '[a-z_]+'" is false)/);
      } else {
        expect(reason, delivery.topic).toMatch(/^No email, phone or customer id for this (order|parcel|refund|return): Attentive needs at least one\./);
      }
      expect(delivery.errorKind === null || delivery.errorKind === "terminal").toBe(true);
    }
    expect(pipeline.standIn.received).toHaveLength(0);
    expect(admin.calls).toEqual([]);
  });
});

describe("ids as huge numbers", () => {
  const HUGE = "123456789012345678901234567890";

  it("an order id beyond 2^64 is kept exact: recorded under it, asked for under it, and failed naming it", async () => {
    const refund = replaceOnce(fixtureText("refunds_create.derived.json"), `"order_id": ${ORDER_ID}`, `"order_id": ${HUGE}`);
    const update = setField(setField(fixtureText("fulfillment_events_create.derived.json"), "order_id", HUGE), "fulfillment_id", `${HUGE}1`);
    const returned = replaceOnce(fixtureText("returns_close.derived.json"), `"order_id": ${ORDER_ID}`, `"order_id": ${HUGE}`);
    for (const [topic, body] of [
      ["refunds/create", refund],
      ["fulfillment_events/create", update],
      ["returns/close", returned],
    ] as const) {
      const webhook = await record(topic, body);
      expect(webhook.orderId).toBe(HUGE);
    }
    await drain(workerOptions(pipeline.standIn));

    expect(new Set(admin.calls.map((call) => call.variables.id))).toEqual(new Set([`gid://shopify/Order/${HUGE}`]));
    const sendable = await db().delivery.findMany({ where: { status: { not: "skipped" } } });
    expect(sendable.map((delivery) => delivery.topic).sort()).toEqual(["fulfillment_events/create", "refunds/create", "returns/close"]);
    for (const delivery of sendable) {
      expect(delivery.status).toBe("failed");
      expect(delivery.lastError).toContain(`could not be read: Order ${HUGE} was not found in the shop.`);
    }
  });

  it("subject ids beyond 2^64 make exact event keys, read from the GraphQL id or the numeric id, so ids 1 apart are two events", async () => {
    const template = fixtureText("orders_create.derived.json");
    const gid = `"admin_graphql_api_id": "gid://shopify/Order/${ORDER_ID}"`;
    const byGid = replaceOnce(template, gid, `"admin_graphql_api_id": "gid://shopify/Order/${HUGE}0"`);
    // Without a GraphQL id, the number itself, far past what a JS number holds.
    const byNumber = replaceOnce(replaceOnce(template, `${gid},\n`, ""), '"id": 820982911946154500,', `"id": ${HUGE}1,`);
    for (const [body, id] of [
      [byGid, `${HUGE}0`],
      [byNumber, `${HUGE}1`],
    ] as const) {
      const webhook = await record("orders/create", body);
      expect(webhook).toMatchObject({ eventKey: `gid://shopify/Order/${id}`, orderId: id });
    }
    await drain(workerOptions(pipeline.standIn));
    expect(pipeline.standIn.received.map((event) => event.input.user)).toEqual([CUSTOMER, CUSTOMER]);
  });
});
