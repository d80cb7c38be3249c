/**
 * An order's history as the backfill reads it: OrderAssembler over grouped JSONL lines, parseHistoryOrder, and each
 * catalog topic's `history`. The invariant that matters most: every event's subjectId is what the topic's `identify`
 * reads from the event's own body, and its time is what `occurredAt` reads, so a live webhook of the same fact has
 * the same event key and is a duplicate. The facts compared against are worked out by test/support/history.ts.
 */
import { describe, expect, it } from "vitest";
import { CATALOG, MAPPABLE_TOPICS, type MappableTopic } from "~/topics/catalog";
import { OrderAssembler, parseHistoryOrder, type HistoryOrder, type Line } from "~/topics/history-order";
import { historyFacts, historyOrders, type HistoryOptions } from "../support/history";

const HISTORY: HistoryOptions = { orders: 60, seed: 11, since: new Date("2026-08-01T00:00:00.000Z"), until: new Date("2026-09-30T00:00:00.000Z"), cancelled: 0.1 };

/** Runs lines through the assembler as the runner does; answers the orders and the problems reported. */
function assemble(lines: Iterable<string>): { orders: Line[]; problems: Array<{ line: number; reason: string }> } {
  const assembler = new OrderAssembler();
  const orders: Line[] = [];
  const problems: Array<{ line: number; reason: string }> = [];
  let n = 0;
  let started = false;
  for (const text of lines) {
    n++;
    const line = JSON.parse(text) as Line;
    if (OrderAssembler.isOrderLine(line)) {
      if (assembler.current && started) orders.push(assembler.current);
      const problem = assembler.start(line);
      started = problem === null;
      if (problem) problems.push({ line: n, reason: problem });
    } else {
      const problem = assembler.addChild(line);
      if (problem) problems.push({ line: n, reason: problem });
    }
  }
  if (assembler.current && started) orders.push(assembler.current);
  return { orders, problems };
}

function parsed(line: Line): HistoryOrder {
  const result = parseHistoryOrder(line);
  if (!result.ok) throw new Error(result.reason);
  return result.order;
}

function generatedOrders(): HistoryOrder[] {
  const lines = [...historyOrders(HISTORY)].flatMap((order) => order.lines);
  const { orders, problems } = assemble(lines);
  expect(problems).toEqual([]);
  return orders.map(parsed);
}

const BULK_TOPICS = MAPPABLE_TOPICS.filter((topic) => CATALOG[topic].history.kind === "bulk");

describe("the catalog's histories", () => {
  it("reads history for the order, parcel and refund topics, and says why not for paid orders and returns", () => {
    expect([...BULK_TOPICS].sort()).toEqual(["fulfillment_events/create", "fulfillments/create", "orders/cancelled", "orders/create", "orders/fulfilled", "refunds/create"]);
    const none = MAPPABLE_TOPICS.filter((topic) => CATALOG[topic].history.kind === "none");
    expect(none).toContain("orders/paid");
    expect(none.filter((topic) => topic.startsWith("returns/")).length).toBeGreaterThanOrEqual(4);
    expect(none.length + BULK_TOPICS.length).toBe(MAPPABLE_TOPICS.length);
    for (const topic of none) {
      const history = CATALOG[topic].history;
      expect(history.kind === "none" && history.why.length > 20, topic).toBe(true);
    }
    for (const topic of MAPPABLE_TOPICS.filter((t) => t.startsWith("returns/"))) expect(CATALOG[topic].history.kind, topic).toBe("none");
  });

  it.each(BULK_TOPICS)("%s: each event's subjectId and time are what the topic reads from its body", (topic: MappableTopic) => {
    const history = CATALOG[topic].history;
    if (history.kind !== "bulk") throw new Error("not a bulk topic");
    let events = 0;
    for (const order of generatedOrders()) {
      for (const event of history.events(order)) {
        events++;
        expect(CATALOG[topic].identify(event.body).subjectId).toBe(event.subjectId);
        expect(CATALOG[topic].occurredAt(event.body)?.toISOString()).toBe(new Date(event.at).toISOString());
        expect(event.body.source).toBe("backfill");
      }
    }
    expect(events).toBeGreaterThan(0);
  });

  it.each(BULK_TOPICS)("%s: the events are exactly the history's facts of that topic", (topic: MappableTopic) => {
    const history = CATALOG[topic].history;
    if (history.kind !== "bulk") throw new Error("not a bulk topic");
    const got = generatedOrders()
      .flatMap((order) => history.events(order))
      .map((event) => `${event.subjectId} ${new Date(event.at).toISOString()}`)
      .sort();
    const expected = historyFacts(HISTORY)
      .filter((fact) => fact.topic === topic)
      .map((fact) => `${fact.subjectId} ${fact.at}`)
      .sort();
    expect(expected.length).toBeGreaterThan(0);
    expect(got).toEqual(expected);
  });
});

const ORDER = "gid://shopify/Order/1";
const FULFILLMENT = "gid://shopify/Fulfillment/11";
const REFUND = "gid://shopify/Refund/51";

function orderLine(extra: Line = {}): Line {
  return {
    id: ORDER,
    legacyResourceId: "1",
    name: "#1001",
    email: "ada@example.com",
    phone: null,
    currencyCode: "USD",
    statusPageUrl: "https://shop.example/orders/1/status",
    totalPriceSet: { shopMoney: { amount: "42.00", currencyCode: "USD" } },
    customer: null,
    shippingAddress: null,
    billingAddress: null,
    number: 1,
    createdAt: "2026-09-01T10:00:00Z",
    updatedAt: "2026-09-01T10:00:00Z",
    processedAt: "2026-09-01T10:00:00Z",
    closedAt: null,
    cancelledAt: null,
    cancelReason: null,
    presentmentCurrencyCode: "USD",
    displayFulfillmentStatus: "FULFILLED",
    fulfillments: [
      { id: FULFILLMENT, legacyResourceId: "11", name: "#1001.1", status: "SUCCESS", createdAt: "2026-09-01T11:00:00Z", updatedAt: "2026-09-01T11:00:00Z", trackingInfo: [{ number: "1Z1", url: null, company: "UPS" }] },
    ],
    refunds: [{ id: REFUND, legacyResourceId: "51", createdAt: "2026-09-02T09:00:00Z", note: null, totalRefundedSet: { presentmentMoney: { amount: "12.34", currencyCode: "EUR" } } }],
    ...extra,
  };
}

function updateLine(n: number, status: string, at: string): Line {
  return { id: `gid://shopify/FulfillmentEvent/${n}`, status, message: null, happenedAt: at, createdAt: at, estimatedDeliveryAt: null, city: null, province: null, country: null, zip: null, __parentId: FULFILLMENT };
}

const lines = (...objects: Line[]) => objects.map((object) => JSON.stringify(object));

describe("OrderAssembler", () => {
  it("reports children it cannot place, and goes on with the ones it can", () => {
    const { orders, problems } = assemble(
      lines(
        { id: "gid://shopify/LineItem/99", title: "Orphan", quantity: 1, __parentId: ORDER }, // before any order
        orderLine(),
        { id: "gid://shopify/LineItem/2", title: "Hat", name: "Hat - Red", quantity: 1, __parentId: ORDER },
        { id: "gid://shopify/LineItem/3", title: "Stray", quantity: 1, __parentId: "gid://shopify/Order/999" }, // unknown parent
        { id: "gid://shopify/FulfillmentEvent/5", status: "DELIVERED", happenedAt: "2026-09-01T12:00:00Z", __parentId: ORDER }, // wrong parent type
        { id: "gid://shopify/RefundLineItem/7", quantity: 1, lineItem: { title: "Hat" }, __parentId: FULFILLMENT }, // wrong parent type
        { title: "no id", quantity: 1, __parentId: FULFILLMENT }, // no id
        { title: "no id", quantity: 1, __parentId: ORDER }, // no id, under the order
        updateLine(6, "DELIVERED", "2026-09-01T15:00:00Z"),
        { id: "gid://shopify/RefundLineItem/52", quantity: 1, lineItem: { title: "Hat" }, __parentId: REFUND },
      ),
    );
    expect(problems.map((p) => p.line)).toEqual([1, 4, 5, 6, 7, 8]);
    expect(problems[0]!.reason).toMatch(/order did not come before/);
    expect(problems[1]!.reason).toContain("gid://shopify/Order/999");
    expect(problems[2]!.reason).toMatch(/not a line item \(FulfillmentEvent\)/);
    expect(problems[3]!.reason).toMatch(/RefundLineItem under a Fulfillment/);
    expect(problems[4]!.reason).toMatch(/line without an id under a Fulfillment/);
    expect(problems[5]!.reason).toMatch(/no id/);
    expect(orders).toHaveLength(1);
    const order = parsed(orders[0]!);
    expect(order.lineItems.nodes.map((item) => item.title)).toEqual(["Hat"]);
    expect(order.fulfillments[0]!.events.nodes.map((event) => event.id)).toEqual(["gid://shopify/FulfillmentEvent/6"]);
    expect(order.refunds[0]!.refundLineItems.nodes).toHaveLength(1);
    // Nothing placed carries its __parentId.
    expect(JSON.stringify(orders[0])).not.toContain("__parentId");
  });

  it("reports a top-level line that is not an order, and does not put the next children under the order before it", () => {
    const { orders, problems } = assemble(
      lines(orderLine(), { id: "gid://shopify/Customer/3", email: "x@example.com" }, { id: "gid://shopify/LineItem/2", title: "Hat", quantity: 1, __parentId: ORDER }),
    );
    expect(problems.map((p) => p.line)).toEqual([2, 3]);
    expect(problems[0]!.reason).toMatch(/not an order/);
    // The order before the bad line was whole when the bad line came; it keeps no child read after it.
    expect(orders).toHaveLength(1);
    expect(parsed(orders[0]!).lineItems.nodes).toEqual([]);
  });

  it("accepts nested connections inside the order line as edges or as nodes", () => {
    const { orders, problems } = assemble(
      lines(
        orderLine({
          lineItems: { edges: [{ node: { id: "gid://shopify/LineItem/2", title: "Hat", name: "Hat - Red", quantity: 2 } }] },
          fulfillments: [
            {
              id: FULFILLMENT,
              legacyResourceId: "11",
              status: "SUCCESS",
              createdAt: "2026-09-01T11:00:00Z",
              trackingInfo: [],
              fulfillmentLineItems: { nodes: [{ id: "gid://shopify/FulfillmentLineItem/12", quantity: 2, lineItem: { title: "Hat", name: "Hat - Red" } }] },
              events: { edges: [{ node: { id: "gid://shopify/FulfillmentEvent/4", status: "IN_TRANSIT", happenedAt: "2026-09-01T12:00:00Z" } }] },
            },
          ],
          refunds: [
            {
              id: REFUND,
              legacyResourceId: "51",
              createdAt: "2026-09-02T09:00:00Z",
              totalRefundedSet: null,
              refundLineItems: { edges: [{ node: { id: "gid://shopify/RefundLineItem/52", quantity: 1, lineItem: { title: "Hat" } } }] },
            },
          ],
        }),
        // And a child line still adds to them.
        updateLine(5, "DELIVERED", "2026-09-01T15:00:00Z"),
      ),
    );
    expect(problems).toEqual([]);
    const order = parsed(orders[0]!);
    expect(order.lineItems.nodes).toEqual([expect.objectContaining({ title: "Hat", quantity: 2 })]);
    expect(order.fulfillments[0]!.fulfillmentLineItems.nodes).toEqual([expect.objectContaining({ quantity: 2 })]);
    expect(order.fulfillments[0]!.events.nodes.map((e) => e.status)).toEqual(["IN_TRANSIT", "DELIVERED"]);
    expect(order.refunds[0]!.refundLineItems.nodes).toEqual([expect.objectContaining({ quantity: 1 })]);
  });
});

describe("parseHistoryOrder", () => {
  it("says which field of an order is not as the query asks, without throwing", () => {
    const { orders } = assemble(lines(orderLine({ createdAt: 12 })));
    const result = parseHistoryOrder(orders[0]!);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain("createdAt");
  });
});

describe("one order's events", () => {
  function theOrder(...children: Line[]): HistoryOrder {
    const { orders, problems } = assemble(lines(orderLine(), { id: "gid://shopify/LineItem/2", title: "Hat", name: "Hat - Red", quantity: 1, __parentId: ORDER }, ...children));
    expect(problems).toEqual([]);
    return parsed(orders[0]!);
  }

  it("gives a parcel's carrier updates of every status, lower-cased as webhooks spell them, each at its happenedAt", () => {
    const order = theOrder(updateLine(4, "IN_TRANSIT", "2026-09-01T12:00:00Z"), updateLine(5, "OUT_FOR_DELIVERY", "2026-09-01T13:00:00Z"), updateLine(6, "DELIVERED", "2026-09-01T15:00:00Z"));
    const history = CATALOG["fulfillment_events/create"].history;
    if (history.kind !== "bulk") throw new Error("no history");
    const events = history.events(order);
    expect(events.map((e) => [e.subjectId, e.at, e.body.status])).toEqual([
      ["gid://shopify/FulfillmentEvent/4", "2026-09-01T12:00:00Z", "in_transit"],
      ["gid://shopify/FulfillmentEvent/5", "2026-09-01T13:00:00Z", "out_for_delivery"],
      ["gid://shopify/FulfillmentEvent/6", "2026-09-01T15:00:00Z", "delivered"],
    ]);
    expect(events[0]!.body).toMatchObject({ fulfillment_id: "11", order_id: "1", admin_graphql_api_id: "gid://shopify/FulfillmentEvent/4" });
  });

  it("gives a refund its amount from totalRefundedSet", () => {
    const history = CATALOG["refunds/create"].history;
    if (history.kind !== "bulk") throw new Error("no history");
    const events = history.events(theOrder());
    expect(events).toHaveLength(1);
    expect(events[0]!.subjectId).toBe(REFUND);
    expect(events[0]!.at).toBe("2026-09-02T09:00:00Z");
    const body = JSON.stringify(events[0]!.body);
    expect(body).toContain("12.34");
    expect(body).toContain("EUR");
  });
});
