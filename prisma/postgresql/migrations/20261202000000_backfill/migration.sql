-- AlterTable
ALTER TABLE "Delivery" ADD COLUMN "backfillId" TEXT;

-- CreateIndex
CREATE INDEX "Delivery_backfillId_status_idx" ON "Delivery"("backfillId", "status");

-- CreateTable
CREATE TABLE "Backfill" (
    "id" TEXT NOT NULL,
    "shop" TEXT NOT NULL,
    "activeShop" TEXT,
    "status" TEXT NOT NULL,
    "pausedFrom" TEXT,
    "since" TIMESTAMP(3) NOT NULL,
    "until" TIMESTAMP(3) NOT NULL,
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
    "nextRunAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "leaseOwner" TEXT,
    "leaseExpiresAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "Backfill_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Backfill_activeShop_key" ON "Backfill"("activeShop");

-- CreateIndex
CREATE INDEX "Backfill_shop_createdAt_idx" ON "Backfill"("shop", "createdAt");

-- CreateIndex
CREATE INDEX "Backfill_status_nextRunAt_idx" ON "Backfill"("status", "nextRunAt");
