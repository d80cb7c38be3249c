-- AlterTable
ALTER TABLE "Delivery" ADD COLUMN "backfillId" TEXT;

-- CreateIndex
CREATE INDEX "Delivery_backfillId_status_idx" ON "Delivery"("backfillId", "status");

-- CreateTable
CREATE TABLE "Backfill" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "shop" TEXT NOT NULL,
    "activeShop" TEXT,
    "status" TEXT NOT NULL,
    "pausedFrom" TEXT,
    "since" DATETIME NOT NULL,
    "until" DATETIME NOT NULL,
    "mappingIds" TEXT NOT NULL,
    "topics" TEXT NOT NULL,
    "bulkOperationId" TEXT,
    "bulkStatus" TEXT,
    "objectCount" INTEGER NOT NULL DEFAULT 0,
    "resultUrl" TEXT,
    "byteOffset" INTEGER NOT NULL DEFAULT 0,
    "linesRead" INTEGER NOT NULL DEFAULT 0,
    "ordersRead" INTEGER NOT NULL DEFAULT 0,
    "badLines" INTEGER NOT NULL DEFAULT 0,
    "badLineSamples" TEXT NOT NULL DEFAULT '[]',
    "lastError" TEXT,
    "nextRunAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "leaseOwner" TEXT,
    "leaseExpiresAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    "finishedAt" DATETIME
);

-- CreateIndex
CREATE UNIQUE INDEX "Backfill_activeShop_key" ON "Backfill"("activeShop");

-- CreateIndex
CREATE INDEX "Backfill_shop_createdAt_idx" ON "Backfill"("shop", "createdAt");

-- CreateIndex
CREATE INDEX "Backfill_status_nextRunAt_idx" ON "Backfill"("status", "nextRunAt");
