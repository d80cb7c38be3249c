-- Fewer index pages written per webhook (docs/decisions/044).
-- externalEventId is a hash of shop, topic, event key and mapping: the Delivery's unique (webhookRecordId, mappingId)
-- and the Webhook's unique (shop, topic, eventKey) already make it unique, and nothing looks a delivery up by it. Its
-- index put each new delivery on a page chosen at random.
DROP INDEX IF EXISTS "Delivery_shop_externalEventId_key";

-- The Webhook's event and order indexes by event key and order id first: new webhooks are about recent orders, refunds
-- and parcels, whose ids are the highest of all shops', so their entries share each index's last pages rather than
-- taking one page in each shop's part of it. The event index keeps its columns, so the same rows are unique and
-- ON CONFLICT (shop, topic, "eventKey") finds it; it is built before the old one goes, so no moment is without one.
CREATE UNIQUE INDEX IF NOT EXISTS "Webhook_eventKey_topic_shop_key" ON "Webhook"("eventKey", "topic", "shop");
DROP INDEX IF EXISTS "Webhook_shop_topic_eventKey_key";
DROP INDEX IF EXISTS "Webhook_shop_orderId_idx";
-- receivedAt last: the order look-up takes the latest of an order's webhooks, which this index gives unsorted.
CREATE INDEX IF NOT EXISTS "Webhook_orderId_shop_receivedAt_idx" ON "Webhook"("orderId", "shop", "receivedAt");

-- Reads of one shop's webhooks (its pruning, its latest webhook of a topic, a customer's data) found them through the
-- shop-first event index; they get an index of their own, by time, in place of the one by time alone, which no read
-- used without the shop.
DROP INDEX IF EXISTS "Webhook_receivedAt_idx";
CREATE INDEX IF NOT EXISTS "Webhook_shop_receivedAt_idx" ON "Webhook"("shop", "receivedAt");
