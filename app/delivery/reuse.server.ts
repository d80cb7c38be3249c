/**
 * What the delivery worker keeps between claims so that each delivery does not redo it (issue 13): a mapping's
 * parsed form and a shop's decrypted key. Each claim still reads the mapping and shop rows, so an edit applies from
 * the next claim as before; these only skip re-parsing and re-decrypting what has not changed. Both are bounded and
 * evict the least recently used entry.
 */
import { storedMapping, type StoredMapping } from "~/models/Mapping.server";
import type { SecretBox } from "~/secrets/secret-box.server";

export type MappingRow = Parameters<typeof storedMapping>[0];

/** Mappings kept parsed; the worker of a large install sees many shops' mappings. */
export const MAPPING_CACHE_SIZE = 2_000;
/** Decrypted keys kept; one per shop. */
export const KEY_CACHE_SIZE = 5_000;

/** A Map used as a least-recently-used cache of at most `limit` entries. */
export class Lru<K, V> {
  private readonly entries = new Map<K, V>();
  constructor(private readonly limit: number) {}

  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    // Re-inserting keeps Map order equal to recency, so the first key is always the one to evict.
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.limit) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

interface ParsedMapping {
  row: MappingRow;
  stored: StoredMapping;
}

/** Every column storedMapping reads: a row equal in all of them parses to the same mapping. */
function sameSource(a: MappingRow, b: MappingRow): boolean {
  return (
    a.properties === b.properties &&
    a.user === b.user &&
    a.when === b.when &&
    a.enabled === b.enabled &&
    a.eventType === b.eventType &&
    a.topic === b.topic &&
    a.position === b.position &&
    a.id === b.id
  );
}

/**
 * The mapping's parsed form, reused while its row is unchanged. The check is on the row's content, not only its
 * `updatedAt`, so an edit is never rendered with the previous templates, even one written in the same millisecond
 * or by a path that does not touch `updatedAt`. (Liquid templates are cached by their text in the render threads.)
 */
export class MappingCache {
  private readonly parsed: Lru<string, ParsedMapping>;
  constructor(limit = MAPPING_CACHE_SIZE) {
    this.parsed = new Lru(limit);
  }

  get(row: MappingRow): StoredMapping {
    const hit = this.parsed.get(row.id);
    if (hit !== undefined && sameSource(hit.row, row)) return hit.stored;
    const stored = storedMapping(row);
    this.parsed.set(row.id, { row, stored });
    return stored;
  }

  get size(): number {
    return this.parsed.size;
  }
}

/**
 * Decrypted Attentive keys by their cipher text: a replaced key has a new cipher (and a new random nonce), so it is
 * never answered from here. Kept per secret box, so a box with another encryption key never sees this one's keys.
 */
export class KeyCache {
  private readonly byBox = new WeakMap<SecretBox, Lru<string, string>>();
  constructor(private readonly limit = KEY_CACHE_SIZE) {}

  open(box: SecretBox, cipher: string): string {
    let keys = this.byBox.get(box);
    if (keys === undefined) {
      keys = new Lru(this.limit);
      this.byBox.set(box, keys);
    }
    let key = keys.get(cipher);
    if (key === undefined) {
      key = box.open(cipher);
      keys.set(cipher, key);
    }
    return key;
  }
}
