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
      "the retention job's expired webhooks (deleteExpiredWebhooks)",
      `SELECT id FROM "Webhook" WHERE shop = 'a' AND "receivedAt" < '2026-12-01' AND NOT EXISTS (SELECT 1 FROM "Delivery" d WHERE d."webhookRecordId" = "Webhook".id) LIMIT 500`,
      /^SEARCH Webhook USING INDEX Webhook_shop_receivedAt_idx \(shop=\? AND receivedAt<\?\)/,
    ],
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
});
