-- The claim reads the queue in due order with live deliveries and each backfill's apart, and shop by shop when the
-- shops it leaves out hold the head of the queue (docs/decisions/037).
-- DropIndex
DROP INDEX "Delivery_status_nextAttemptAt_idx";

-- CreateIndex
CREATE INDEX "Delivery_status_backfillId_nextAttemptAt_idx" ON "Delivery"("status", "backfillId", "nextAttemptAt");

-- CreateIndex
CREATE INDEX "Delivery_status_shop_backfillId_nextAttemptAt_idx" ON "Delivery"("status", "shop", "backfillId", "nextAttemptAt");
