/**
 * How PostgreSQL runs the claim and the next-due read when a shop the claim leaves out holds the head of the queue
 * (docs/decisions/038): the rows read from Delivery follow the claim's window and what it takes, not the backlog's
 * length, and expired leases are not looked for when the worker does not ask. The plans are PostgreSQL's own, the
 * generic ones a named statement keeps (plan_cache_mode = force_generic_plan), as auto_explain reports them with
 * EXPLAIN ANALYZE's counts, on the test file's migrated schema.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { database, db } from "~/db.server";
import { CLAIM_SCAN_WINDOW } from "~/delivery/claim-sql";
import { openClaimStore, type ClaimStore } from "~/delivery/claim-store.server";
import { ensureShop } from "~/models/Shop.server";
import { nodes, rowsRead, type PlanNode } from "../support/pg-plan";
import { queuedBacklog } from "../support/queued-deliveries";
import { testPostgresUrl, testProvider } from "../support/test-database";

describe.skipIf(testProvider() !== "postgresql")("the PostgreSQL claim's plans past a left-out shop's backlog", () => {
  const BIG = "plans-big.myshopify.com";
  const QUIET = "plans-quiet.myshopify.com";
  const BACKLOG = 3_000;
  const now = new Date("2026-12-03T12:00:00.000Z");
  const seconds = (n: number) => new Date(now.getTime() + n * 1000);
  let client: pg.Client;
  let store: ClaimStore;
  let plans: PlanNode[] = [];

  beforeAll(async () => {
    for (const shop of [BIG, QUIET]) await ensureShop(db(), shop);
    await queuedBacklog(BIG, BACKLOG, (i) => ({ nextAttemptAt: seconds(-10_000 + i / 10) }));
    await queuedBacklog(QUIET, 20, (i) => ({ nextAttemptAt: seconds(-100 + i) }));
    const target = database().target;
    if (target.provider !== "postgresql") throw new Error("PostgreSQL only");
    const schema = target.schema ?? "public";
    client = new pg.Client({ connectionString: testPostgresUrl, options: `-c jit=off -c search_path="${schema.replaceAll('"', '""')}"` });
    await client.connect();
    await client.query("ANALYZE");
    client.on("notice", (notice) => {
      const text = notice.message ?? "";
      const at = text.indexOf("{");
      if (text.startsWith("duration:") && at >= 0) plans.push((JSON.parse(text.slice(at)) as { Plan: PlanNode }).Plan);
    });
    await client.query("LOAD 'auto_explain'");
    for (const setting of [
      "auto_explain.log_min_duration = 0",
      "auto_explain.log_analyze = on",
      "auto_explain.log_timing = off",
      "auto_explain.log_format = json",
      "auto_explain.log_level = notice",
      "plan_cache_mode = force_generic_plan",
    ]) {
      await client.query(`SET ${setting}`);
    }
    // The store's statements, on this one connection.
    store = openClaimStore({ provider: "postgresql", pool: client as unknown as pg.Pool, connection: testPostgresUrl, schema });
  });
  afterAll(async () => {
    await client?.end();
  });

  /** The plan of the one statement `work` runs, in a transaction rolled back. */
  async function planOf(work: () => Promise<unknown>): Promise<PlanNode> {
    await client.query("BEGIN");
    plans = [];
    try {
      await work();
    } finally {
      await client.query("ROLLBACK");
    }
    const ran = plans.filter((plan) => plan["Node Type"] !== "Result" || plan.Plans);
    expect(ran).toHaveLength(1);
    return ran[0]!;
  }

  it("claims the other shop's deliveries reading a window's worth of rows, and no expired lease when not asked", async () => {
    const request = { workerId: "w", limit: 16, perShopLimit: 8, leaseMs: 60_000, now, excludeShops: [BIG], expiredLeases: false };
    for (let run = 0; run < 2; run++) {
      // The second run is of the plan PostgreSQL keeps for the named statement.
      const plan = await planOf(async () => expect((await store.claim(request)).map((row) => row.shop)).toEqual(Array(8).fill(QUIET)));
      expect(rowsRead(plan, "Delivery")).toBeLessThan(CLAIM_SCAN_WINDOW * 3);
      const expired = nodes(plan).filter((node) => node.within === "CTE expired" && node["Relation Name"] === "Delivery");
      expect(expired.length).toBeGreaterThan(0);
      for (const node of expired) expect(node["Actual Loops"] ?? 0).toBe(0);
    }
  });

  it("finds when the next delivery is due reading a window's worth of rows", async () => {
    for (let run = 0; run < 2; run++) {
      let due: Date | null = null;
      const plan = await planOf(async () => {
        due = await store.nextDue([BIG], []);
      });
      expect(due).toEqual(seconds(-100));
      expect(rowsRead(plan, "Delivery")).toBeLessThan(CLAIM_SCAN_WINDOW * 3);
    }
  });
});
