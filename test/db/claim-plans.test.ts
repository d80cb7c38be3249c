/**
 * How SQLite runs the claim's reads of the queue (docs/decisions/037): each one a search of an index, none a scan
 * of the Delivery table and none a sort of what it reads, so that a claim's cost follows what it takes, not the
 * queue's length. The plans are SQLite's own (EXPLAIN QUERY PLAN) on the test file's migrated database.
 */
import type Sqlite from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { database } from "~/db.server";
import { closeDriver, openDriver } from "~/db/driver.server";
import { prepareSqliteClaim } from "~/delivery/claim-sql";
import { testProvider } from "../support/test-database";

describe.skipIf(testProvider() !== "sqlite")("the SQLite claim's query plans", () => {
  const driver = openDriver(database().target);
  afterAll(() => closeDriver(driver));

  /** Every statement the claim prepares, by the text SQLite was given. */
  function claimStatements(): string[] {
    if (driver.provider !== "sqlite") throw new Error("SQLite only");
    const db = driver.db;
    const prepared: string[] = [];
    const recording = new Proxy(db, {
      get(target, key) {
        if (key === "prepare") return (sql: string) => (prepared.push(sql), target.prepare(sql));
        const value = Reflect.get(target, key) as unknown;
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    }) as Sqlite.Database;
    prepareSqliteClaim(recording);
    return prepared;
  }

  const PARAMETERS = { now: "2026-12-03T12:00:00.000+00:00", excluded: "[]", shops: "[]", heldBackfills: "[]", fetch: 10, window: 10, shop: "a", backfill: "b", ids: "[]", workerId: "w", lease: "x" };

  function plan(db: Sqlite.Database, sql: string): string[] {
    const names = new Set([...sql.matchAll(/:(\w+)/g)].map((match) => match[1]!));
    const statement = db.prepare(`EXPLAIN QUERY PLAN ${sql}`);
    const named = Object.fromEntries(Object.entries(PARAMETERS).filter(([name]) => names.has(name)));
    const rows = (names.size > 0 ? statement.all(named) : sql.includes("?") ? statement.all("[]") : statement.all()) as Array<{ detail: string }>;
    return rows.map((row) => row.detail);
  }

  it("reads Delivery only through its indexes, and sorts nothing it reads", () => {
    if (driver.provider !== "sqlite") throw new Error("SQLite only");
    const statements = claimStatements().filter((sql) => sql.includes('FROM "Delivery"') || sql.includes('UPDATE OR IGNORE "Delivery"'));
    expect(statements.length).toBeGreaterThanOrEqual(7);
    for (const sql of statements) {
      const details = plan(driver.db, sql);
      const reads = details.filter((detail) => /\bDelivery\b/.test(detail));
      expect(reads.length, sql).toBeGreaterThan(0);
      for (const read of reads) expect(read, sql).toMatch(/^SEARCH Delivery USING (COVERING )?INDEX |^SEARCH Delivery USING INDEX sqlite_autoindex_Delivery_1 \(id=\?\)/);
      // Expired leases are sorted: they are the deliveries some worker had in hand, a few hundred at most.
      if (!sql.includes("status = 'sending' AND \"leaseExpiresAt\" < :now")) expect(details.filter((detail) => detail.includes("TEMP B-TREE")), sql).toEqual([]);
    }
  });

  it("reads each queue in the order of an index that starts with its own range", () => {
    if (driver.provider !== "sqlite") throw new Error("SQLite only");
    const statements = claimStatements();
    const live = statements.find((sql) => sql.includes(`"backfillId" IS NULL AND "nextAttemptAt" <= :now AND shop NOT IN`))!;
    expect(plan(driver.db, live).join(" | ")).toContain("USING INDEX Delivery_backfillId_status_nextAttemptAt_idx (backfillId=? AND status=? AND nextAttemptAt<?)");
    // Whether the window was full: from the index alone.
    const window = statements.find((sql) => sql.includes("SELECT count(*) AS n FROM (") && sql.includes("LIMIT :window"))!;
    expect(plan(driver.db, window).join(" | ")).toContain("USING COVERING INDEX Delivery_backfillId_status_nextAttemptAt_idx (backfillId=? AND status=? AND nextAttemptAt<?)");
    // The read in queue order within the window: the inner read is a co-routine, stopped by the outer LIMIT.
    const within = statements.find((sql) => sql.includes("ORDER BY \"nextAttemptAt\" LIMIT :window)\n     WHERE shop NOT IN"))!;
    expect(plan(driver.db, within)).toEqual(expect.arrayContaining(["CO-ROUTINE (subquery-1)", expect.stringContaining("USING INDEX Delivery_backfillId_status_nextAttemptAt_idx (backfillId=? AND status=? AND nextAttemptAt<?)")]));
    // The shop-by-shop reads: finding each shop, and each shop's head.
    const byShop = "USING COVERING INDEX Delivery_pending_live_by_shop_idx";
    const shops = statements.find((sql) => sql.includes("min(shop)"))!;
    expect(plan(driver.db, shops).filter((detail) => detail.includes("Delivery"))).toEqual([`SEARCH Delivery ${byShop}`, `SEARCH Delivery ${byShop} (shop>?)`]);
    const ofShops = statements.find((sql) => sql.includes("shop = one.value"))!;
    expect(plan(driver.db, ofShops).join(" | ")).toContain(`${byShop} (shop=? AND status=? AND backfillId=? AND nextAttemptAt<?)`);
    expect(plan(driver.db, ofShops).join(" | ")).toContain("SEARCH d USING INTEGER PRIMARY KEY (rowid=?)");
    const ofBackfill = statements.find((sql) => sql.includes(`"backfillId" = :backfill`))!;
    expect(plan(driver.db, ofBackfill).join(" | ")).toContain("USING INDEX Delivery_backfillId_status_nextAttemptAt_idx (backfillId=? AND status=? AND nextAttemptAt<?)");
  });
});
