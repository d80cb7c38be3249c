-- The claim reads the queue in due order with live deliveries and each backfill's apart (docs/decisions/037). SQLite's
-- migration also makes a partial index of each shop's pending live deliveries; PostgreSQL has none: with it, the plan
-- PostgreSQL keeps for the claim read live deliveries from it and sorted them all.
-- CREATE INDEX holds writes to "Delivery" while it runs. On a large table, create the index first with
-- CREATE INDEX CONCURRENTLY and the same name: this migration then leaves it as it is.
-- DropIndex
DROP INDEX IF EXISTS "Delivery_backfillId_status_idx";

-- CreateIndex
CREATE INDEX IF NOT EXISTS "Delivery_backfillId_status_nextAttemptAt_idx" ON "Delivery"("backfillId", "status", "nextAttemptAt");
