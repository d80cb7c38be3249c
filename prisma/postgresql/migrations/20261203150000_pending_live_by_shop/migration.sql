-- Each shop's pending live deliveries in due order (docs/decisions/038), for the claim's shop-by-shop read when the
-- shops it leaves out hold the head of the queue. Partial, so that only the deliveries waiting to be claimed are in
-- it: ingest adds an entry and the claim removes it; an outcome touches it only when it puts a delivery back to wait.
-- SQLite has had its own since 20261203120000 (its columns differ: SQLite reads it without the rows only when the
-- WHERE's columns are in it). Prisma's schema cannot state a partial index: schema.prisma names it in a comment.
-- CREATE INDEX holds writes to "Delivery" while it runs. On a large table, create the index first with
-- CREATE INDEX CONCURRENTLY and the same name: this migration then leaves it as it is.
CREATE INDEX IF NOT EXISTS "Delivery_pending_live_by_shop_idx" ON "Delivery"("shop", "nextAttemptAt") WHERE "status" = 'pending' AND "backfillId" IS NULL;
