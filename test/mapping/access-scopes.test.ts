/**
 * Which mapped topics wait for a scope the shop has not granted (app/mapping/access-scopes.ts), and the scopes it
 * knows being exactly the ones shopify.app.toml declares.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DECLARED_OPTIONAL_SCOPES, grantedScopeSet, missingScopeOf, OPTIONAL_SCOPES, REQUIRED_SCOPES, scopeWaits, waitMessage } from "~/mapping/access-scopes";
import { CATALOG, MAPPABLE_TOPICS, type MappableTopic } from "~/topics/catalog";

const on = (...topics: MappableTopic[]) => topics.map((topic) => ({ topic, enabled: true }));

describe("the scopes the app knows", () => {
  /** The [access_scopes] table: `scopes = "a,b"` and `optional_scopes = [...]`; any other key fails, so it cannot be misread. */
  function accessScopes(toml: string): { required: string[]; optional: string[] } {
    const lines = toml.split("\n").map((line) => line.replace(/#.*$/, "").trim());
    const start = lines.indexOf("[access_scopes]");
    if (start < 0) throw new Error("shopify.app.toml has no [access_scopes]");
    const found = { required: [] as string[], optional: [] as string[] };
    for (const line of lines.slice(start + 1)) {
      if (line.startsWith("[")) break;
      if (line === "") continue;
      const match = /^([a-z_]+)\s*=\s*(.*)$/.exec(line);
      if (match?.[1] === "scopes") found.required = (JSON.parse(match[2]!) as string).split(",").map((scope) => scope.trim());
      else if (match?.[1] === "optional_scopes") found.optional = JSON.parse(match[2]!) as string[];
      else throw new Error(`shopify.app.toml [access_scopes]: cannot read "${line}"`);
    }
    return found;
  }

  it("are shopify.app.toml's required and optional scopes", () => {
    const toml = readFileSync(new URL("../../shopify.app.toml", import.meta.url), "utf8");
    expect(accessScopes(toml)).toEqual({ required: [...REQUIRED_SCOPES], optional: [...DECLARED_OPTIONAL_SCOPES] });
  });

  it("cover every catalog topic's scope", () => {
    for (const topic of MAPPABLE_TOPICS) expect([...REQUIRED_SCOPES, ...OPTIONAL_SCOPES], topic).toContain(CATALOG[topic].scope);
  });
});

describe("grantedScopeSet", () => {
  it("reads the comma-separated column, spaces and empty parts ignored", () => {
    expect(grantedScopeSet(" read_orders, read_returns,,")).toEqual(new Set(["read_orders", "read_returns"]));
    expect(grantedScopeSet("")).toEqual(new Set());
  });

  it("counts a write scope as its read scope too, as Shopify does", () => {
    expect(grantedScopeSet("write_fulfillments")).toEqual(new Set(["write_fulfillments", "read_fulfillments"]));
    expect(grantedScopeSet("unauthenticated_write_checkouts")).toEqual(new Set(["unauthenticated_write_checkouts", "unauthenticated_read_checkouts"]));
  });

  it("is null when the column is null (not known)", () => {
    expect(grantedScopeSet(null)).toBeNull();
    expect(grantedScopeSet(undefined)).toBeNull();
  });
});

describe("missingScopeOf", () => {
  it("names the scope a topic needs when it is not granted", () => {
    const granted = grantedScopeSet("read_orders");
    expect(missingScopeOf("fulfillments/create", granted)).toBe("read_fulfillments");
    expect(missingScopeOf("returns/close", granted)).toBe("read_returns");
    expect(missingScopeOf("orders/paid", granted)).toBeNull();
    expect(missingScopeOf("orders/paid", grantedScopeSet("read_fulfillments"))).toBe("read_orders");
    expect(missingScopeOf("fulfillments/create", null)).toBeNull();
  });
});

describe("scopeWaits", () => {
  it("lists the enabled mappings' topics per missing scope, in catalog order, each topic once", () => {
    const mappings = [...on("fulfillment_events/create", "fulfillments/create", "fulfillment_events/create", "orders/fulfilled", "returns/request")];
    expect(scopeWaits(mappings, "read_orders")).toEqual([
      {
        scope: "read_fulfillments",
        requestable: true,
        topics: ["fulfillments/create", "fulfillment_events/create"],
        message: "Parcel shipped, Delivery update wait for access to fulfillments",
      },
      { scope: "read_returns", requestable: true, topics: ["returns/request"], message: "Return requested waits for access to returns" },
    ]);
  });

  it("ignores mappings that are off: they send nothing", () => {
    expect(scopeWaits([{ topic: "returns/approve", enabled: false }, ...on("orders/create")], "read_orders")).toEqual([]);
  });

  it("says nothing waits once the scope is granted, as a read or a write scope", () => {
    const mappings = on("fulfillments/create", "returns/close");
    expect(scopeWaits(mappings, "read_orders,read_fulfillments,read_returns")).toEqual([]);
    expect(scopeWaits(mappings, "read_orders,write_fulfillments").map((wait) => wait.scope)).toEqual(["read_returns"]);
  });

  it("says nothing waits when the granted scopes are not known", () => {
    expect(scopeWaits(on("fulfillments/create"), null)).toEqual([]);
  });

  it("marks a missing required scope as one the page cannot ask for, first", () => {
    const waits = scopeWaits(on("fulfillments/create", "returns/request", "orders/create", "refunds/create"), "read_returns");
    expect(waits).toEqual([
      { scope: "read_orders", requestable: false, topics: ["orders/create", "refunds/create"], message: "Order placed, Refund created wait for access to orders" },
      { scope: "read_fulfillments", requestable: true, topics: ["fulfillments/create"], message: "Parcel shipped waits for access to fulfillments" },
    ]);
  });
});

describe("waitMessage", () => {
  it("agrees in number with the topics", () => {
    expect(waitMessage("read_fulfillments", ["fulfillments/create"])).toBe("Parcel shipped waits for access to fulfillments");
    expect(waitMessage("read_returns", ["returns/request", "returns/close"])).toBe("Return requested, Return closed wait for access to returns");
  });
});
