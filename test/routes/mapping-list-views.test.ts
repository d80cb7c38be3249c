/** The mappings list's view in its URL: tabs for sending or turned off, a Shopify event filter and a search. */
import { describe, expect, it } from "vitest";
import { mappingListViewFrom, mappingListViewUrl, mappingsInView, savedMappingViewIndex } from "~/admin/mapping-list-views";

const view = (query: string) => mappingListViewFrom(new URLSearchParams(query));

describe("the mappings list's view", () => {
  it("reads the URL, ignoring what is not valid, and writes it back", () => {
    expect(view("sending=off&topic=orders%2Ffulfilled&q=%20ship%20&embedded=1")).toEqual({ sending: "off", topic: "orders/fulfilled", q: "ship" });
    expect(view("sending=maybe&topic=flow%2Faction&q=")).toEqual({});
    expect(mappingListViewUrl(view("q=ship&sending=on"))).toBe("/app/mappings?sending=on&q=ship");
    expect(mappingListViewUrl({})).toBe("/app/mappings");
  });

  it("selects a tab only for exactly its view", () => {
    expect(["", "sending=on", "sending=off", "sending=on&q=x", "topic=orders%2Fpaid"].map((query) => savedMappingViewIndex(view(query)))).toEqual([0, 1, 2, -1, -1]);
  });

  it("lists the mappings that are sending or not, of one Shopify event, whose event type has the search in it", () => {
    const mappings = [
      { eventType: "Order Fulfilled", topic: "orders/fulfilled", enabled: true },
      { eventType: "Order Shipped", topic: "fulfillments/create", enabled: true },
      { eventType: "Order Paid", topic: "orders/paid", enabled: false },
    ];
    const names = (query: string, search = "") => mappingsInView(mappings, view(query), search).map((mapping) => mapping.eventType);
    expect(names("")).toEqual(["Order Fulfilled", "Order Shipped", "Order Paid"]);
    expect(names("sending=on")).toEqual(["Order Fulfilled", "Order Shipped"]);
    expect(names("sending=off")).toEqual(["Order Paid"]);
    expect(names("topic=fulfillments%2Fcreate")).toEqual(["Order Shipped"]);
    expect(names("", " ORDER p")).toEqual(["Order Paid"]);
    expect(names("sending=on", "paid")).toEqual([]);
  });
});
