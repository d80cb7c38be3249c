/**
 * The claim's settings kept while the settings version stays the same (decision 045), over reads that count what they
 * are asked. test/db/settings-version.test.ts checks the version itself on a real database.
 */
import { describe, expect, it } from "vitest";
import type { ClaimMapping, ClaimShop, Held } from "~/delivery/claim-store.server";
import { SettingsCache, type SettingsReads } from "~/delivery/settings-cache";

function shopRow(domain: string, keyCipher = `cipher-of-${domain}`): ClaimShop {
  return { domain, keyCipher, uninstalled: false };
}

function mappingRow(id: string, eventType = `Event ${id}`): ClaimMapping {
  return { id, shop: "a.myshopify.com", position: 0, topic: "orders/fulfilled", eventType, enabled: true, when: null, properties: "{}", user: null };
}

/** A database of shops and mappings with a version, whose reads are counted and can be held back. */
function fakeReads() {
  const state = {
    version: "1" as string | null,
    held: { shops: [], backfills: [] } as Held,
    shops: new Map<string, ClaimShop>(),
    mappings: new Map<string, ClaimMapping>(),
  };
  const asked = { held: 0, shops: [] as string[][], mappings: [] as string[][] };
  let gate: Promise<void> | null = null;
  const reads: SettingsReads = {
    version: async () => state.version,
    held: async () => {
      asked.held++;
      return { shops: [...state.held.shops], backfills: [...state.held.backfills] };
    },
    context: async (domains, mappingIds) => {
      asked.shops.push(domains);
      asked.mappings.push(mappingIds);
      // What the database holds when the read is made, before any hold-back.
      const answer = {
        shops: domains.flatMap((domain) => (state.shops.has(domain) ? [state.shops.get(domain)!] : [])),
        mappings: mappingIds.flatMap((id) => (state.mappings.has(id) ? [state.mappings.get(id)!] : [])),
      };
      if (gate) await gate;
      return answer;
    },
  };
  return {
    state,
    asked,
    reads,
    holdReads() {
      let release: () => void = () => {};
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        gate = null;
        release();
      };
    },
  };
}

describe("the claim's settings", () => {
  it("reads a shop and a mapping once while the version stays the same, and only what it has not read", async () => {
    const db = fakeReads();
    db.state.shops.set("a", shopRow("a")).set("b", shopRow("b"));
    db.state.mappings.set("m1", mappingRow("m1")).set("m2", mappingRow("m2"));
    const cache = new SettingsCache(db.reads);

    expect(await cache.context(["a"], ["m1"])).toEqual({ shops: [shopRow("a")], mappings: [mappingRow("m1")] });
    expect(await cache.context(["a", "b"], ["m1", "m2"])).toEqual({ shops: [shopRow("a"), shopRow("b")], mappings: [mappingRow("m1"), mappingRow("m2")] });
    expect(await cache.context(["b", "a"], ["m2"])).toEqual({ shops: [shopRow("b"), shopRow("a")], mappings: [mappingRow("m2")] });
    expect(db.asked.shops).toEqual([["a"], ["b"]]);
    expect(db.asked.mappings).toEqual([["m1"], ["m2"]]);
  });

  it("reads everything again once the version has moved: an edit applies from the next claim", async () => {
    const db = fakeReads();
    db.state.shops.set("a", shopRow("a"));
    db.state.mappings.set("m1", mappingRow("m1", "Before"));
    const cache = new SettingsCache(db.reads);
    expect((await cache.context(["a"], ["m1"])).mappings[0]!.eventType).toBe("Before");

    db.state.mappings.set("m1", mappingRow("m1", "After"));
    db.state.shops.set("a", shopRow("a", "new-cipher"));
    // Unchanged version: what was read is what is answered (the triggers would have moved it with the edit).
    expect((await cache.context(["a"], ["m1"])).mappings[0]!.eventType).toBe("Before");
    db.state.version = "2";
    expect(await cache.context(["a"], ["m1"])).toEqual({ shops: [shopRow("a", "new-cipher")], mappings: [mappingRow("m1", "After")] });
    expect(db.asked.mappings).toEqual([["m1"], ["m1"]]);
  });

  it("reads the pauses once per version", async () => {
    const db = fakeReads();
    const cache = new SettingsCache(db.reads);
    expect(await cache.held()).toEqual({ shops: [], backfills: [] });
    expect(await cache.held()).toEqual({ shops: [], backfills: [] });
    expect(db.asked.held).toBe(1);

    db.state.held = { shops: ["a"], backfills: ["bf"] };
    db.state.version = "2";
    expect(await cache.held()).toEqual({ shops: ["a"], backfills: ["bf"] });
    expect(db.asked.held).toBe(2);
  });

  it("keeps nothing when the database has no version row", async () => {
    const db = fakeReads();
    db.state.version = null;
    db.state.shops.set("a", shopRow("a"));
    const cache = new SettingsCache(db.reads);
    await cache.held();
    await cache.held();
    await cache.context(["a"], []);
    await cache.context(["a"], []);
    expect(db.asked.held).toBe(2);
    expect(db.asked.shops).toEqual([["a"], ["a"]]);
  });

  it("does not keep a shop or mapping that is not there: a deleted one is asked for again", async () => {
    const db = fakeReads();
    const cache = new SettingsCache(db.reads);
    expect(await cache.context(["gone"], ["deleted"])).toEqual({ shops: [], mappings: [] });
    expect(await cache.context(["gone"], ["deleted"])).toEqual({ shops: [], mappings: [] });
    expect(db.asked.mappings).toEqual([["deleted"], ["deleted"]]);
  });

  it("does not keep a read made under a version that moved while it ran", async () => {
    const db = fakeReads();
    db.state.mappings.set("m1", mappingRow("m1", "Before"));
    const cache = new SettingsCache(db.reads);
    const release = db.holdReads();
    const slow = cache.context([], ["m1"]);
    // The read has been made (the database answered "Before"); its answer has not come back yet. Meanwhile the mapping
    // is edited and another call sees the new version.
    await Promise.resolve();
    db.state.mappings.set("m1", mappingRow("m1", "After"));
    db.state.version = "2";
    const fresh = cache.context([], ["m1"]);
    release();
    expect((await slow).mappings[0]!.eventType).toBe("Before");
    expect((await fresh).mappings[0]!.eventType).toBe("After");
    // Version 2 keeps the read made under it, not the one made under version 1.
    expect((await cache.context([], ["m1"])).mappings[0]!.eventType).toBe("After");
    expect(db.asked.mappings).toEqual([["m1"], ["m1"]]);
  });

  it("starts again past its limit rather than growing without bound", async () => {
    const db = fakeReads();
    for (let i = 0; i < 6; i++) db.state.mappings.set(`m${i}`, mappingRow(`m${i}`));
    const cache = new SettingsCache(db.reads, 4);
    await cache.context([], ["m0", "m1", "m2"]);
    await cache.context([], ["m3", "m4"]); // 5 > 4: the first three are let go
    await cache.context([], ["m3", "m4", "m0"]);
    expect(db.asked.mappings).toEqual([["m0", "m1", "m2"], ["m3", "m4"], ["m0"]]);
  });
});
