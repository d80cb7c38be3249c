-- The claim reads the queue in due order with live deliveries and each backfill's apart, and shop by shop when the
-- shops it leaves out hold the head of the queue (docs/decisions/037).
-- DropIndex
DROP INDEX IF EXISTS "Delivery_backfillId_status_idx";

-- CreateIndex
CREATE INDEX IF NOT EXISTS "Delivery_backfillId_status_nextAttemptAt_idx" ON "Delivery"("backfillId", "status", "nextAttemptAt");

-- Each shop's pending live deliveries in due order. Partial, so that only the deliveries waiting to be claimed are in
-- it: ingest adds an entry and the claim removes it, and an outcome (sending to delivered, failed or skipped) does not
-- touch it. status and backfillId, the same in every entry, let SQLite read it without the rows. Prisma's schema
-- cannot state a partial index: schema.prisma names it in a comment.
CREATE INDEX IF NOT EXISTS "Delivery_pending_live_by_shop_idx" ON "Delivery"("shop", "status", "backfillId", "nextAttemptAt") WHERE "status" = 'pending' AND "backfillId" IS NULL;
