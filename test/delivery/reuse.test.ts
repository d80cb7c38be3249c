import { describe, expect, it } from "vitest";
import { KeyCache, Lru, MappingCache, type MappingRow } from "~/delivery/reuse.server";
import { createSecretBox } from "~/secrets/secret-box.server";

function row(overrides: Partial<MappingRow> = {}): MappingRow {
  return {
    id: "m1",
    position: 0,
    topic: "orders/fulfilled",
    eventType: "Order Fulfilled",
    enabled: true,
    when: null,
    properties: JSON.stringify({ label: "{{ name }} v1" }),
    user: null,
    ...overrides,
  };
}

describe("the worker's mapping cache", () => {
  it("reuses a mapping's parsed form while its row is unchanged", () => {
    const cache = new MappingCache();
    const first = cache.get(row());
    // A fresh row object with the same content, as the next claim reads it.
    expect(cache.get(row())).toBe(first);
  });

  it("never gives an edited mapping its previous templates, whichever column changed", () => {
    const cache = new MappingCache();
    expect(cache.get(row()).properties).toEqual({ label: "{{ name }} v1" });
    expect(cache.get(row({ properties: JSON.stringify({ label: "{{ name }} v2" }) })).properties).toEqual({ label: "{{ name }} v2" });
    expect(cache.get(row({ when: "total_price > 0" })).when).toBe("total_price > 0");
    expect(cache.get(row({ enabled: false })).enabled).toBe(false);
    expect(cache.get(row({ eventType: "Shipped" })).eventType).toBe("Shipped");
    expect(cache.get(row({ user: JSON.stringify({ email: "{{ email }}" }) })).user).toEqual({ email: "{{ email }}" });
    expect(cache.get(row({ topic: "orders/paid" })).topic).toBe("orders/paid");
    expect(cache.get(row({ position: 3 })).position).toBe(3);
  });

  it("holds at most its limit, dropping the least recently used", () => {
    const cache = new MappingCache(3);
    const kept = cache.get(row({ id: "a" }));
    cache.get(row({ id: "b" }));
    cache.get(row({ id: "c" }));
    expect(cache.get(row({ id: "a" }))).toBe(kept); // a is now the most recent
    cache.get(row({ id: "d" })); // evicts b
    expect(cache.size).toBe(3);
    expect(cache.get(row({ id: "a" }))).toBe(kept);
    for (let i = 0; i < 100; i++) cache.get(row({ id: `x${i}` }));
    expect(cache.size).toBe(3);
    expect(cache.get(row({ id: "a" }))).not.toBe(kept);
  });

  it("does not keep a row it could not parse", () => {
    const cache = new MappingCache();
    expect(() => cache.get(row({ properties: "not json" }))).toThrow();
    expect(cache.size).toBe(0);
  });
});

describe("the worker's key cache", () => {
  const box = createSecretBox(Buffer.alloc(32, 7).toString("base64"));
  const otherBox = createSecretBox(Buffer.alloc(32, 9).toString("base64"));

  it("opens each cipher once and answers a replaced key with the new one", () => {
    let opened = 0;
    const counting = { ...box, open: (cipher: string) => (opened++, box.open(cipher)) };
    const cache = new KeyCache();
    const first = box.seal("key-one");
    expect(cache.open(counting, first)).toBe("key-one");
    expect(cache.open(counting, first)).toBe("key-one");
    expect(opened).toBe(1);
    expect(cache.open(counting, box.seal("key-two"))).toBe("key-two");
  });

  it("never opens one box's cipher with another box's cached answer", () => {
    const cache = new KeyCache();
    const cipher = box.seal("key-one");
    expect(cache.open(box, cipher)).toBe("key-one");
    expect(() => cache.open(otherBox, cipher)).toThrow();
  });

  it("is bounded", () => {
    const lru = new Lru<string, number>(2);
    lru.set("a", 1);
    lru.set("b", 2);
    lru.set("c", 3);
    expect(lru.size).toBe(2);
    expect(lru.get("a")).toBeUndefined();
    expect(lru.get("c")).toBe(3);
  });
});
