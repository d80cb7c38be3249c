-- CreateTable
CREATE TABLE "FlowTrigger" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "shop" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "deliveryId" TEXT,
    "dedupeKey" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "nextAttemptAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "leaseOwner" TEXT,
    "leaseExpiresAt" DATETIME,
    "lastError" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sentAt" DATETIME
);

-- CreateIndex
CREATE INDEX "FlowTrigger_status_nextAttemptAt_idx" ON "FlowTrigger"("status", "nextAttemptAt");

-- CreateIndex
CREATE UNIQUE INDEX "FlowTrigger_shop_dedupeKey_key" ON "FlowTrigger"("shop", "dedupeKey");

