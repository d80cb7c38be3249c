/**
 * The settings version (decision 045) on the test file's real database (SQLite by default, PostgreSQL with
 * TEST_DATABASE=postgresql): the migration's triggers move it with every change a claim reads, through the app's own
 * model functions and through SQL written outside them, and not with what a claim does not read; and the claim
 * store's kept reads follow it.
 */
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { database, db } from "~/db.server";
import { closeDriver, openDriver } from "~/db/driver.server";
import { openClaimStore } from "~/delivery/claim-store.server";
import { topicDefaults } from "~/mapping/defaults";
import { pauseBackfill, resumeBackfill } from "~/models/Backfill.server";
import { createMapping, deleteMapping, setMappingEnabled, updateMapping } from "~/models/Mapping.server";
import { disconnectAttentive, ensureShop, markUninstalled, updateShopSettings } from "~/models/Shop.server";

const SHOP = "settings-version.myshopify.com";
const driver = openDriver(database().target);
const store = openClaimStore(driver);
afterAll(async () => {
  await store.drain();
  await closeDriver(driver);
});

async function version(): Promise<bigint> {
  const row = await db().settingsVersion.findUnique({ where: { id: 1 } });
  if (!row) throw new Error("The migration did not make the settings version's row.");
  return row.version;
}

/** How far the version moved over `change`. */
async function moves(change: () => Promise<unknown>): Promise<bigint> {
  const before = await version();
  await change();
  return (await version()) - before;
}

/** SQL run outside Prisma, on its own connection, as an operator would (written for both databases). */
async function sql(text: string): Promise<void> {
  if (driver.provider === "sqlite") driver.db.exec(text);
  else await driver.pool.query(text);
}

/** A test constant or a cuid as an SQL literal. */
const literal = (value: string) => `'${value.replaceAll("'", "''")}'`;

beforeEach(async () => {
  await db().delivery.deleteMany({ where: { shop: SHOP } });
  await db().backfill.deleteMany({ where: { shop: SHOP } });
  await db().mapping.deleteMany({ where: { shop: SHOP } });
  await db().shop.deleteMany({ where: { domain: SHOP } });
  await ensureShop(db(), SHOP);
});

describe("the settings version", () => {
  it("moves with each change to a mapping, by the app or by hand", async () => {
    const mapping = topicDefaults("orders/fulfilled")[0]!;
    let id = "";
    expect(
      await moves(async () => {
        const created = await createMapping(db(), SHOP, { ...mapping, eventType: "Settings Version" });
        if (!created.ok) throw new Error("not created");
        id = created.mapping.id;
      }),
    ).toBeGreaterThan(0n);
    expect(await moves(() => updateMapping(db(), SHOP, id, { ...mapping, eventType: "Renamed" }))).toBeGreaterThan(0n);
    expect(await moves(() => setMappingEnabled(db(), SHOP, id, false))).toBeGreaterThan(0n);
    // Written without touching updatedAt, as no app path does: the trigger sees it all the same.
    expect(await moves(() => sql(`UPDATE "Mapping" SET properties = '{}' WHERE id = ${literal(id)}`))).toBeGreaterThan(0n);
    expect(await moves(() => deleteMapping(db(), SHOP, id))).toBeGreaterThan(0n);
  });

  it("moves with a shop's key, pause and uninstall, and not with the shop's other settings", async () => {
    expect(await moves(() => sql(`UPDATE "Shop" SET "attentiveKeyCipher" = 'sealed' WHERE domain = ${literal(SHOP)}`))).toBeGreaterThan(0n);
    expect(await moves(() => updateShopSettings(db(), SHOP, { sendingPaused: true, logRetentionDays: 30 }))).toBeGreaterThan(0n);
    expect(await moves(() => updateShopSettings(db(), SHOP, { sendingPaused: true, logRetentionDays: 7 }))).toBe(0n);
    expect(await moves(() => sql(`UPDATE "Shop" SET "attentiveCompanyName" = 'Renamed Co' WHERE domain = ${literal(SHOP)}`))).toBe(0n);
    expect(await moves(() => disconnectAttentive(db(), SHOP))).toBeGreaterThan(0n);
    expect(await moves(() => markUninstalled(db(), SHOP))).toBeGreaterThan(0n);
    expect(await moves(() => db().shop.deleteMany({ where: { domain: SHOP } }))).toBeGreaterThan(0n);
  });

  it("moves when a backfill is paused or resumed, and not with its progress", async () => {
    const now = new Date();
    const backfill = await db().backfill.create({
      data: { shop: SHOP, activeShop: SHOP, status: "sending", since: new Date(now.getTime() - 86_400_000), until: now, mappingIds: "[]", topics: "[]" },
    });
    expect(await moves(() => db().backfill.update({ where: { id: backfill.id }, data: { linesRead: 10, status: "sending" } }))).toBe(0n);
    expect(await moves(() => pauseBackfill(db(), SHOP))).toBeGreaterThan(0n);
    expect(await moves(() => db().backfill.update({ where: { id: backfill.id }, data: { linesRead: 20 } }))).toBe(0n);
    expect(await moves(() => resumeBackfill(db(), SHOP))).toBeGreaterThan(0n);
    await pauseBackfill(db(), SHOP);
    expect(await moves(() => db().backfill.delete({ where: { id: backfill.id } }))).toBeGreaterThan(0n);
  });

  it("lets the claim store keep its reads until it moves, and read again once it has", async () => {
    const mappings = await db().mapping.findMany({ where: { shop: SHOP }, select: { id: true } });
    const ids = mappings.map((row) => row.id).slice(0, 1);
    const first = await store.context([SHOP], ids);
    expect(first.shops).toEqual([{ domain: SHOP, keyCipher: null, uninstalled: false }]);
    expect(first.mappings.map((row) => row.id)).toEqual(ids);
    expect(await store.held()).toEqual({ shops: [], backfills: [] });

    await sql(`UPDATE "Shop" SET "attentiveKeyCipher" = 'sealed', "sendingPaused" = NOT "sendingPaused" WHERE domain = ${literal(SHOP)}`);
    await sql(`UPDATE "Mapping" SET "eventType" = 'Edited By Hand' WHERE id = ${literal(ids[0]!)}`);
    const second = await store.context([SHOP], ids);
    expect(second.shops).toEqual([{ domain: SHOP, keyCipher: "sealed", uninstalled: false }]);
    expect(second.mappings[0]!.eventType).toBe("Edited By Hand");
    expect((await store.held()).shops).toEqual([SHOP]);
  });
});
