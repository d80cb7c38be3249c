/**
 * What a delivery claim reads besides the queue, kept between claims while the database's settings version stays the
 * same (docs/decisions/045): the paused shops and backfills, and the claim's shops and mappings. Triggers move the
 * version with every change to those rows, whoever writes them, so a pause, a new key or an edited mapping applies
 * from the next claim, as when every claim read them. A claim then reads one row instead of four statements' worth,
 * and on SQLite none of the pages that every commit of the queue had dropped from this connection's cache.
 */
import type { ClaimMapping, ClaimShop, Held } from "./claim-store.server";

export interface SettingsReads {
  /** The version now, or null when its row is missing (nothing is kept then: every call reads). */
  version(): Promise<string | null>;
  held(): Promise<Held>;
  context(domains: string[], mappingIds: string[]): Promise<{ shops: ClaimShop[]; mappings: ClaimMapping[] }>;
}

/** Shops and mappings kept at most, together: a worker of a large install sees many. Past it, it starts again. */
export const SETTINGS_CACHE_LIMIT = 10_000;

/** What was read under one version. */
interface Generation {
  version: string;
  held: Held | null;
  shops: Map<string, ClaimShop>;
  mappings: Map<string, ClaimMapping>;
}

export class SettingsCache {
  private generation: Generation | null = null;

  constructor(
    private readonly reads: SettingsReads,
    private readonly limit = SETTINGS_CACHE_LIMIT,
  ) {}

  async held(): Promise<Held> {
    const generation = this.at(await this.reads.version());
    if (generation?.held) return generation.held;
    const held = await this.reads.held();
    // Read after the version: at least as new as it. Kept only if no newer version replaced the generation meanwhile.
    if (generation !== null && generation === this.generation) generation.held = held;
    return held;
  }

  async context(domains: string[], mappingIds: string[]): Promise<{ shops: ClaimShop[]; mappings: ClaimMapping[] }> {
    const generation = this.at(await this.reads.version());
    if (generation === null) return this.reads.context(domains, mappingIds);
    const shops: ClaimShop[] = [];
    const mappings: ClaimMapping[] = [];
    const missingShops: string[] = [];
    const missingMappings: string[] = [];
    for (const domain of domains) {
      const shop = generation.shops.get(domain);
      if (shop === undefined) missingShops.push(domain);
      else shops.push(shop);
    }
    for (const id of mappingIds) {
      const mapping = generation.mappings.get(id);
      if (mapping === undefined) missingMappings.push(id);
      else mappings.push(mapping);
    }
    if (missingShops.length === 0 && missingMappings.length === 0) return { shops, mappings };
    const read = await this.reads.context(missingShops, missingMappings);
    if (generation === this.generation) {
      if (generation.shops.size + generation.mappings.size + read.shops.length + read.mappings.length > this.limit) {
        generation.shops.clear();
        generation.mappings.clear();
      }
      // A shop or mapping that is not there (deleted) is not kept: asked for again, it is read again.
      for (const shop of read.shops) generation.shops.set(shop.domain, shop);
      for (const mapping of read.mappings) generation.mappings.set(mapping.id, mapping);
    }
    shops.push(...read.shops);
    mappings.push(...read.mappings);
    return { shops, mappings };
  }

  /** The generation of this version, a new one when the version moved; null when there is no version to go by. */
  private at(version: string | null): Generation | null {
    if (version === null) {
      this.generation = null;
      return null;
    }
    if (this.generation?.version !== version) {
      this.generation = { version, held: null, shops: new Map(), mappings: new Map() };
    }
    return this.generation;
  }
}
