-- CreateTable
CREATE TABLE "Reconciliation" (
    "shop" TEXT NOT NULL PRIMARY KEY,
    "checkedUntil" DATETIME NOT NULL,
    "lastRunAt" DATETIME NOT NULL,
    "lastError" TEXT,
    "recorded" INTEGER NOT NULL DEFAULT 0
);

