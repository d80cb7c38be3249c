-- CreateTable
CREATE TABLE "FlowTrigger" (
    "id" TEXT NOT NULL,
    "shop" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "deliveryId" TEXT,
    "dedupeKey" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "nextAttemptAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "leaseOwner" TEXT,
    "leaseExpiresAt" TIMESTAMP(3),
    "lastError" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sentAt" TIMESTAMP(3),

    CONSTRAINT "FlowTrigger_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "FlowTrigger_status_nextAttemptAt_idx" ON "FlowTrigger"("status", "nextAttemptAt");

-- CreateIndex
CREATE UNIQUE INDEX "FlowTrigger_shop_dedupeKey_key" ON "FlowTrigger"("shop", "dedupeKey");

