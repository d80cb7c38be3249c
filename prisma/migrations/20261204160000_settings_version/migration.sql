-- What a delivery claim reads besides the queue (docs/decisions/045): shops' keys, pauses and uninstalls, the mappings,
-- and which backfills are paused. They change when a merchant acts, a few times a day, and were read again by every
-- claim, on a page cache that every commit of the queue had emptied. One row counts their changes; the worker keeps
-- what it read while the count is the same. Triggers keep the count, so every path that writes these rows (Prisma,
-- the CLI, a statement typed into the database) moves it.
CREATE TABLE IF NOT EXISTS "SettingsVersion" (
    "id" INTEGER NOT NULL PRIMARY KEY,
    "version" BIGINT NOT NULL DEFAULT 0
);
INSERT OR IGNORE INTO "SettingsVersion" ("id", "version") VALUES (1, 0);

CREATE TRIGGER IF NOT EXISTS "Mapping_settings_inserted" AFTER INSERT ON "Mapping"
BEGIN UPDATE "SettingsVersion" SET "version" = "version" + 1 WHERE "id" = 1; END;
CREATE TRIGGER IF NOT EXISTS "Mapping_settings_updated" AFTER UPDATE ON "Mapping"
BEGIN UPDATE "SettingsVersion" SET "version" = "version" + 1 WHERE "id" = 1; END;
CREATE TRIGGER IF NOT EXISTS "Mapping_settings_deleted" AFTER DELETE ON "Mapping"
BEGIN UPDATE "SettingsVersion" SET "version" = "version" + 1 WHERE "id" = 1; END;

-- A shop's other columns (its retention, its company name, updatedAt) are not read by a claim.
CREATE TRIGGER IF NOT EXISTS "Shop_settings_inserted" AFTER INSERT ON "Shop"
BEGIN UPDATE "SettingsVersion" SET "version" = "version" + 1 WHERE "id" = 1; END;
CREATE TRIGGER IF NOT EXISTS "Shop_settings_updated" AFTER UPDATE OF "attentiveKeyCipher", "uninstalledAt", "sendingPaused" ON "Shop"
WHEN OLD."attentiveKeyCipher" IS NOT NEW."attentiveKeyCipher" OR OLD."uninstalledAt" IS NOT NEW."uninstalledAt" OR OLD."sendingPaused" IS NOT NEW."sendingPaused"
BEGIN UPDATE "SettingsVersion" SET "version" = "version" + 1 WHERE "id" = 1; END;
CREATE TRIGGER IF NOT EXISTS "Shop_settings_deleted" AFTER DELETE ON "Shop"
BEGIN UPDATE "SettingsVersion" SET "version" = "version" + 1 WHERE "id" = 1; END;

-- Of a backfill, a claim reads only whether it is paused; its progress, written as it runs, does not count.
CREATE TRIGGER IF NOT EXISTS "Backfill_settings_inserted" AFTER INSERT ON "Backfill" WHEN NEW."status" = 'paused'
BEGIN UPDATE "SettingsVersion" SET "version" = "version" + 1 WHERE "id" = 1; END;
CREATE TRIGGER IF NOT EXISTS "Backfill_settings_updated" AFTER UPDATE OF "status" ON "Backfill"
WHEN (OLD."status" = 'paused') IS NOT (NEW."status" = 'paused')
BEGIN UPDATE "SettingsVersion" SET "version" = "version" + 1 WHERE "id" = 1; END;
CREATE TRIGGER IF NOT EXISTS "Backfill_settings_deleted" AFTER DELETE ON "Backfill" WHEN OLD."status" = 'paused'
BEGIN UPDATE "SettingsVersion" SET "version" = "version" + 1 WHERE "id" = 1; END;
