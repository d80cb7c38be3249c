-- What a delivery claim reads besides the queue (docs/decisions/045): shops' keys, pauses and uninstalls, the mappings,
-- and which backfills are paused. They change when a merchant acts, a few times a day, and were read again by every
-- claim: four statements. One row counts their changes; the worker keeps what it read while the count is the same.
-- Triggers keep the count, so every path that writes these rows (Prisma, the CLI, a statement typed into psql) moves it.
CREATE TABLE IF NOT EXISTS "SettingsVersion" (
    "id" INTEGER NOT NULL,
    "version" BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT "SettingsVersion_pkey" PRIMARY KEY ("id")
);
INSERT INTO "SettingsVersion" ("id", "version") VALUES (1, 0) ON CONFLICT ("id") DO NOTHING;

-- The schema's own table, whatever search_path the session that fires it has.
CREATE OR REPLACE FUNCTION "settings_version_bump"() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  UPDATE "SettingsVersion" SET "version" = "version" + 1 WHERE "id" = 1;
  RETURN NULL;
END
$$;

-- Constraint triggers deferred to the commit: the row is locked only as the writing transaction commits, when it takes
-- no more locks, so two transactions each waiting for the other (one for this row, one for a mapping the first wrote
-- after taking it) cannot happen. Each changed row moves the count once more: a few, for what a merchant does.
CREATE CONSTRAINT TRIGGER "Mapping_settings_changed" AFTER INSERT OR UPDATE OR DELETE ON "Mapping"
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "settings_version_bump"();

-- A shop's other columns (its retention, its company name, updatedAt) are not read by a claim.
CREATE CONSTRAINT TRIGGER "Shop_settings_inserted_or_deleted" AFTER INSERT OR DELETE ON "Shop"
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "settings_version_bump"();
CREATE CONSTRAINT TRIGGER "Shop_settings_updated" AFTER UPDATE OF "attentiveKeyCipher", "uninstalledAt", "sendingPaused" ON "Shop"
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
WHEN (OLD."attentiveKeyCipher" IS DISTINCT FROM NEW."attentiveKeyCipher" OR OLD."uninstalledAt" IS DISTINCT FROM NEW."uninstalledAt"
      OR OLD."sendingPaused" IS DISTINCT FROM NEW."sendingPaused")
EXECUTE FUNCTION "settings_version_bump"();

-- Of a backfill, a claim reads only whether it is paused; its progress, written as it runs, does not count.
CREATE CONSTRAINT TRIGGER "Backfill_settings_inserted" AFTER INSERT ON "Backfill"
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW."status" = 'paused') EXECUTE FUNCTION "settings_version_bump"();
CREATE CONSTRAINT TRIGGER "Backfill_settings_updated" AFTER UPDATE OF "status" ON "Backfill"
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN ((OLD."status" = 'paused') IS DISTINCT FROM (NEW."status" = 'paused'))
EXECUTE FUNCTION "settings_version_bump"();
CREATE CONSTRAINT TRIGGER "Backfill_settings_deleted" AFTER DELETE ON "Backfill"
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD."status" = 'paused') EXECUTE FUNCTION "settings_version_bump"();

-- TRUNCATE fires no row's trigger.
CREATE TRIGGER "Mapping_settings_truncated" AFTER TRUNCATE ON "Mapping" FOR EACH STATEMENT EXECUTE FUNCTION "settings_version_bump"();
CREATE TRIGGER "Shop_settings_truncated" AFTER TRUNCATE ON "Shop" FOR EACH STATEMENT EXECUTE FUNCTION "settings_version_bump"();
CREATE TRIGGER "Backfill_settings_truncated" AFTER TRUNCATE ON "Backfill" FOR EACH STATEMENT EXECUTE FUNCTION "settings_version_bump"();
