/**
 * How SQLite reads one shop's webhooks (docs/decisions/044): the Webhook's event and order indexes start with the
 * event key and the order id, so every read of a shop's webhooks by time has `(shop, receivedAt)`, and the order
 * look-up gets its latest webhook without a sort. The statements have the shape of the Prisma queries named; the
 * plans are SQLite's own (EXPLAIN QUERY PLAN) on the test file's migrated database.
 */
import { afterAll, describe, expect, it } from "vitest";
import { database } from "~/db.server";
import { closeDriver, openDriver } from "~/db/driver.server";
import { testProvider } from "../support/test-database";

describe.skipIf(testProvider() !== "sqlite")("the SQLite plans of a shop's webhook reads", () => {
  const driver = openDriver(database().target);
  afterAll(() => closeDriver(driver));

  function plan(sql: string): string {
    if (driver.provider !== "sqlite") throw new Error("SQLite only");
    return (driver.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>).map((row) => row.detail).join(" | ");
  }

  it.each([
    [
      "a customer's data (the shop's webhooks in time order)",
      `SELECT id FROM "Webhook" WHERE shop = 'a' AND (body LIKE '%x%' OR body LIKE '%y%') ORDER BY "receivedAt" ASC`,
      /^SEARCH Webhook USING INDEX Webhook_shop_receivedAt_idx \(shop=\?\)$/,
    ],
    [
      "the editor's latest webhook of a topic",
      `SELECT body FROM "Webhook" WHERE shop = 'a' AND topic = 'orders/paid' ORDER BY "receivedAt" DESC LIMIT 1`,
      /^SEARCH Webhook USING INDEX Webhook_shop_receivedAt_idx \(shop=\?\)$/,
    ],
    [
      "the order look-up's latest webhook of an order",
      `SELECT body FROM "Webhook" WHERE shop = 'a' AND "orderId" = '1' AND (topic LIKE 'orders/%' OR topic = 'backfill/order') ORDER BY "receivedAt" DESC LIMIT 1`,
      /^SEARCH Webhook USING INDEX Webhook_orderId_shop_receivedAt_idx \(orderId=\? AND shop=\?\)$/,
    ],
    [
      "a customer's orders to redact",
      `SELECT id FROM "Webhook" WHERE shop = 'a' AND "orderId" IN ('1', '2')`,
      /^SEARCH Webhook USING INDEX Webhook_orderId_shop_receivedAt_idx \(orderId=\? AND shop=\?\)$/,
    ],
    [
      "a parcel's fulfillments/create webhook",
      `SELECT id FROM "Webhook" WHERE shop = 'a' AND topic = 'fulfillments/create' AND "eventKey" = 'gid://shopify/Fulfillment/1'`,
      /^SEARCH Webhook USING INDEX Webhook_eventKey_topic_shop_key \(eventKey=\? AND topic=\? AND shop=\?\)$/,
    ],
  ])("%s: a search of an index, with no sort", (_name, sql, expected) => {
    const details = plan(sql);
    expect(details).toMatch(expected);
    expect(details).not.toContain("TEMP B-TREE");
  });

  it("the retention job's expired webhooks (deleteExpiredWebhooks): a search of an index, sorting only ties by id", () => {
    // The cursor is (receivedAt, id): SQLite reads the index in time order and sorts only webhooks of one instant by id
    // (LAST TERM), so a batch stops after its LIMIT rather than sorting the shop's whole expired range.
    const details = plan(
      `SELECT id, "receivedAt" FROM "Webhook" WHERE shop = 'a' AND "receivedAt" < '2026-12-01' AND "receivedAt" >= '2026-11-01' AND ("receivedAt" > '2026-11-01' OR id > 'w1') ORDER BY "receivedAt" ASC, id ASC LIMIT 500`,
    );
    expect(details).toBe(
      "SEARCH Webhook USING INDEX Webhook_shop_receivedAt_idx (shop=? AND receivedAt>? AND receivedAt<?) | USE TEMP B-TREE FOR LAST TERM OF ORDER BY",
    );
  });
});
