-- CreateTable
CREATE TABLE "Reconciliation" (
    "shop" TEXT NOT NULL,
    "checkedUntil" TIMESTAMP(3) NOT NULL,
    "lastRunAt" TIMESTAMP(3) NOT NULL,
    "lastError" TEXT,
    "recorded" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "Reconciliation_pkey" PRIMARY KEY ("shop")
);

