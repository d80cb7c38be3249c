/**
 * The event key de-duplicates webhooks: two webhooks with the same key are one event, so one text. A key that
 * is too coarse drops real events (an empty fallback would drop every webhook after the first); one that is
 * too fine sends a redelivered event twice.
 */
import { describe, expect, it } from "vitest";
import { eventIdentity } from "~/shopify/event-identity";
import type { JsonValue } from "~/shopify/json";

const HEADERS = { eventId: "evt-1", webhookId: "wh-1" };

describe("eventIdentity for orders/* topics", () => {
  it("keys an order by its GraphQL id", () => {
    expect(eventIdentity("orders/fulfilled", { admin_graphql_api_id: "gid://shopify/Order/820982911946154508", id: 1 }, HEADERS)).toEqual({
      eventKey: "gid://shopify/Order/820982911946154508",
      orderId: "820982911946154508",
    });
  });

  it("keys an order by its numeric id when the body has no GraphQL id", () => {
    expect(eventIdentity("orders/paid", { id: 450789469 }, HEADERS)).toEqual({ eventKey: "gid://shopify/Order/450789469", orderId: "450789469" });
    // Ids past 2^53 arrive as exact decimal strings (see json.ts).
    expect(eventIdentity("orders/paid", { id: "820982911946154508" }, HEADERS)).toEqual({
      eventKey: "gid://shopify/Order/820982911946154508",
      orderId: "820982911946154508",
    });
  });

  it("falls back to the numeric id when the GraphQL id is not exactly gid://shopify/<Type>/<digits>", () => {
    const malformed = [
      "gid://shopify/Order/12abc",
      "xgid://shopify/Order/12",
      "gid://shopify/Order/",
      "gid://shopify//12",
      "gid://shopify/Order 1/12",
      "gid://shopify/Order/-12",
      "gid://other/Order/12",
    ];
    for (const gid of malformed) {
      expect(eventIdentity("orders/fulfilled", { admin_graphql_api_id: gid, id: 7 }, HEADERS), gid).toEqual({
        eventKey: "gid://shopify/Order/7",
        orderId: "7",
      });
    }
    expect(eventIdentity("orders/fulfilled", { admin_graphql_api_id: 12, id: 7 }, HEADERS).orderId).toBe("7");
    // Not text, even when it would read as a GraphQL id once turned into text.
    expect(eventIdentity("orders/fulfilled", { admin_graphql_api_id: ["gid://shopify/Order/5"], id: 7 }, HEADERS).orderId).toBe("7");
  });

  it("reads the digits of any resource type name and of a many-digit id", () => {
    expect(eventIdentity("orders/fulfilled", { admin_graphql_api_id: "gid://shopify/DraftOrder/123456" }, HEADERS).orderId).toBe("123456");
    expect(eventIdentity("orders/fulfilled", { admin_graphql_api_id: "gid://shopify/O/9" }, HEADERS).orderId).toBe("9");
  });

  it("uses the Shopify event id when the order has no usable id", () => {
    const unusable: JsonValue[] = [{}, { id: "12a" }, { id: "a12" }, { id: "" }, { id: 1.5 }, { id: 2 ** 60 }, { id: null }, { id: true }];
    for (const body of unusable) {
      expect(eventIdentity("orders/fulfilled", body, HEADERS), JSON.stringify(body)).toEqual({ eventKey: "event:evt-1", orderId: null });
    }
  });
});

describe("eventIdentity for refunds/create", () => {
  it("keys a refund by its own id and names the refunded order", () => {
    expect(eventIdentity("refunds/create", { admin_graphql_api_id: "gid://shopify/Refund/509562969", order_id: 450789469 }, HEADERS)).toEqual({
      eventKey: "gid://shopify/Refund/509562969",
      orderId: "450789469",
    });
    expect(eventIdentity("refunds/create", { id: 509562969, order_id: "820982911946154508" }, HEADERS)).toEqual({
      eventKey: "gid://shopify/Refund/509562969",
      orderId: "820982911946154508",
    });
  });

  it("falls back to the event id without a refund id, and to no order without an order id", () => {
    expect(eventIdentity("refunds/create", { order_id: 450789469 }, HEADERS)).toEqual({ eventKey: "event:evt-1", orderId: "450789469" });
    expect(eventIdentity("refunds/create", { id: 5 }, HEADERS)).toEqual({ eventKey: "gid://shopify/Refund/5", orderId: null });
  });
});

describe("eventIdentity fallback key", () => {
  it("is the Shopify event id, else the webhook id, never empty", () => {
    expect(eventIdentity("customers/create", { id: 1 }, { eventId: "evt-9", webhookId: "wh-9" })).toEqual({ eventKey: "event:evt-9", orderId: null });
    for (const eventId of [null, undefined, ""]) {
      expect(eventIdentity("customers/create", { id: 1 }, { eventId, webhookId: "wh-9" })).toEqual({ eventKey: "webhook:wh-9", orderId: null });
    }
  });

  it("tells two webhooks without an event id apart", () => {
    const first = eventIdentity("app/uninstalled", { id: 1 }, { webhookId: "wh-1" });
    const second = eventIdentity("app/uninstalled", { id: 1 }, { webhookId: "wh-2" });
    expect(first.eventKey).not.toBe(second.eventKey);
  });

  it("applies to bodies that are not objects, whatever the topic", () => {
    for (const body of [null, [], [{ id: 1 }], "gid://shopify/Order/1", 1] as JsonValue[]) {
      expect(eventIdentity("orders/fulfilled", body, HEADERS)).toEqual({ eventKey: "event:evt-1", orderId: null });
      expect(eventIdentity("refunds/create", body, HEADERS)).toEqual({ eventKey: "event:evt-1", orderId: null });
    }
  });

  it("applies to topics that are not about one order or refund, even when the body has ids", () => {
    const body = { admin_graphql_api_id: "gid://shopify/Order/1", id: 1, order_id: 2 };
    for (const topic of ["customers/update", "refunds/update", "shop/orders/fulfilled", "app/uninstalled"]) {
      expect(eventIdentity(topic, body, HEADERS), topic).toEqual({ eventKey: "event:evt-1", orderId: null });
    }
  });
});
