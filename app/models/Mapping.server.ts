import { z } from "zod";
import type { Database } from "~/db.server";
import { MAX_MAPPINGS_PER_SHOP } from "~/mapping/limits";
import { type MappingDefinition, type MappableTopic, isMappableTopic } from "~/mapping/types";

export interface StoredMapping extends MappingDefinition {
  id: string;
  position: number;
}

const propertiesColumn = z.record(z.string(), z.string());
const userColumn = z
  .object({ email: z.string().optional(), phone: z.string().optional(), clientUserId: z.string().optional() })
  .strict()
  .nullable();

interface MappingRow {
  id: string;
  position: number;
  topic: string;
  eventType: string;
  enabled: boolean;
  when: string | null;
  properties: string;
  user: string | null;
}

/** Rows as stored: JSON columns, so SQLite and PostgreSQL store them the same way. */
export function mappingRows(shop: string, mappings: MappingDefinition[]) {
  return mappings.map((mapping, position) => ({
    shop,
    position,
    topic: mapping.topic,
    eventType: mapping.eventType,
    enabled: mapping.enabled,
    when: mapping.when ?? null,
    properties: JSON.stringify(mapping.properties),
    user: mapping.user ? JSON.stringify(mapping.user) : null,
  }));
}

export function storedMapping(row: MappingRow): StoredMapping {
  if (!isMappableTopic(row.topic)) throw new Error(`Mapping ${row.id} has a topic this version cannot map: ${row.topic}`);
  const user = userColumn.parse(JSON.parse(row.user ?? "null"));
  return {
    id: row.id,
    position: row.position,
    topic: row.topic,
    eventType: row.eventType,
    enabled: row.enabled,
    ...(row.when !== null ? { when: row.when } : {}),
    properties: propertiesColumn.parse(JSON.parse(row.properties)),
    ...(user ? { user } : {}),
  };
}

export function definitionOf(mapping: StoredMapping): MappingDefinition {
  const { id: _id, position: _position, ...definition } = mapping;
  return definition;
}

export async function listMappings(prisma: Database, shop: string): Promise<StoredMapping[]> {
  const rows = await prisma.mapping.findMany({ where: { shop }, orderBy: { position: "asc" } });
  return rows.map(storedMapping);
}

export async function findMapping(prisma: Database, shop: string, id: string): Promise<StoredMapping | null> {
  const row = await prisma.mapping.findFirst({ where: { id, shop } });
  return row ? storedMapping(row) : null;
}

/**
 * The shop's enabled mappings for a topic: each becomes one delivery per webhook. Never more than the shop may
 * have, even when rows written before the limit existed exceed it (the first ones by position count).
 */
export async function enabledMappingsFor(
  prisma: Database,
  shop: string,
  topic: MappableTopic,
): Promise<Array<{ id: string; eventType: string }>> {
  return prisma.mapping.findMany({
    where: { shop, topic, enabled: true },
    select: { id: true, eventType: true },
    orderBy: { position: "asc" },
    take: MAX_MAPPINGS_PER_SHOP,
  });
}

/** Refused because the shop would have more mappings than MAX_MAPPINGS_PER_SHOP; nothing was written. */
export class MappingLimitError extends Error {
  override name = "MappingLimitError";
  constructor(readonly count: number) {
    super(`A shop can have at most ${MAX_MAPPINGS_PER_SHOP} mappings; this would make ${count}.`);
  }
}

/**
 * Replaces all of a shop's mappings in one transaction. Callers validate first
 * (parseMappingFile), so an invalid file never reaches here and changes nothing; the count is checked again here
 * because it is what bounds the deliveries each webhook makes.
 */
export async function replaceMappings(prisma: Database, shop: string, mappings: MappingDefinition[]): Promise<StoredMapping[]> {
  if (mappings.length > MAX_MAPPINGS_PER_SHOP) throw new MappingLimitError(mappings.length);
  await prisma.$transaction([
    prisma.mapping.deleteMany({ where: { shop } }),
    prisma.mapping.createMany({ data: mappingRows(shop, mappings) }),
    // Importing counts as the shop's own choice: never seed defaults over it later.
    prisma.shop.updateMany({ where: { domain: shop }, data: { mappingsSeeded: true } }),
  ]);
  return listMappings(prisma, shop);
}

export type CreateMappingResult = { ok: true; mapping: StoredMapping } | { ok: false; limit: MappingLimitError };

/** Adds a mapping at the end, unless the shop already has MAX_MAPPINGS_PER_SHOP. */
export async function createMapping(prisma: Database, shop: string, mapping: MappingDefinition): Promise<CreateMappingResult> {
  const outcome = await insertMapping(prisma, shop, mapping, { unlessPresent: false });
  // Only addCatalogMapping looks for a mapping already there.
  if ("present" in outcome) throw new Error("createMapping does not look for a present mapping");
  return outcome;
}

export type AddCatalogMappingResult = CreateMappingResult | { ok: false; present: StoredMapping };

/**
 * Adds one of the catalog's mappings (app/mapping/defaults.ts) at the end, unless the shop already has a mapping
 * of that topic and event type (a second click, another tab) or MAX_MAPPINGS_PER_SHOP. Checked under the same lock
 * as the count, so two adds at once make one mapping.
 */
export async function addCatalogMapping(prisma: Database, shop: string, mapping: MappingDefinition): Promise<AddCatalogMappingResult> {
  return insertMapping(prisma, shop, mapping, { unlessPresent: true });
}

/**
 * The count (and the presence check) and the insert share a transaction that first writes the shop's row, so two
 * creates at once (two tabs) queue on that row lock instead of both seeing 49 (SQLite takes its write lock at that
 * first write as well).
 */
async function insertMapping(
  prisma: Database,
  shop: string,
  mapping: MappingDefinition,
  options: { unlessPresent: boolean },
): Promise<AddCatalogMappingResult> {
  const [row] = mappingRows(shop, [mapping]);
  return prisma.$transaction(async (tx) => {
    await tx.shop.updateMany({ where: { domain: shop }, data: { updatedAt: new Date() } });
    if (options.unlessPresent) {
      const present = await tx.mapping.findFirst({ where: { shop, topic: mapping.topic, eventType: mapping.eventType }, orderBy: { position: "asc" } });
      if (present) return { ok: false, present: storedMapping(present) };
    }
    const count = await tx.mapping.count({ where: { shop } });
    if (count >= MAX_MAPPINGS_PER_SHOP) return { ok: false, limit: new MappingLimitError(count + 1) };
    const last = await tx.mapping.findFirst({ where: { shop }, orderBy: { position: "desc" }, select: { position: true } });
    const created = await tx.mapping.create({ data: { ...row!, position: (last?.position ?? -1) + 1 } });
    return { ok: true, mapping: storedMapping(created) };
  });
}

/** Updates the shop's mapping; null when no such mapping belongs to the shop. */
export async function updateMapping(prisma: Database, shop: string, id: string, mapping: MappingDefinition): Promise<StoredMapping | null> {
  const [row] = mappingRows(shop, [mapping]);
  const { position: _position, ...data } = row!;
  const result = await prisma.mapping.updateMany({ where: { id, shop }, data });
  return result.count === 1 ? findMapping(prisma, shop, id) : null;
}

export async function deleteMapping(prisma: Database, shop: string, id: string): Promise<boolean> {
  const result = await prisma.mapping.deleteMany({ where: { id, shop } });
  return result.count === 1;
}

export async function setMappingEnabled(prisma: Database, shop: string, id: string, enabled: boolean): Promise<boolean> {
  const result = await prisma.mapping.updateMany({ where: { id, shop }, data: { enabled } });
  return result.count === 1;
}

/** null when no such mapping belongs to the shop. */
export async function duplicateMapping(prisma: Database, shop: string, id: string): Promise<CreateMappingResult | null> {
  const original = await findMapping(prisma, shop, id);
  if (!original) return null;
  return createMapping(prisma, shop, { ...definitionOf(original), eventType: `${original.eventType} copy`, enabled: false });
}
