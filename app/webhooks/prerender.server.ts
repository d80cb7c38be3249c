/**
 * The web process's side of decision 054: the shops' mappings it renders ahead with, read apart from the webhook's
 * write and kept for a while. Whether a kept mapping is still the shop's decides nothing but the worker's CPU: a
 * stored event is sent only when its mapping's fingerprint is the mapping's at send time, and the deliveries
 * themselves are made from the mappings the write reads. So this never holds up or refuses a webhook: until a
 * shop's mappings have been read, its webhooks are recorded without events ahead, as before.
 */
import type { Database } from "~/db.server";
import { Lru } from "~/delivery/reuse.server";
import { logger } from "~/logger.server";
import { MAX_MAPPINGS_PER_SHOP } from "~/mapping/limits";
import { prerender, prerenderedText, rendersFromBodyAlone } from "~/mapping/prerender";
import type { MappableTopic, MappingDefinition } from "~/mapping/types";
import { definitionOf, storedMapping } from "~/models/Mapping.server";
import type { JsonValue } from "~/shopify/json";
import { CATALOG } from "~/topics/catalog";

/** How long a shop's mappings are rendered with before they are read again (one read per shop and topic). */
export const PRERENDER_MAPPINGS_TTL_MS = 10_000;
/** Shops and topics kept at most. */
export const PRERENDER_ENTRIES = 10_000;
/**
 * The most of the web process's thread one webhook's renders ahead may take. The default mapping takes about 15 µs; a
 * shop with fifty heavy (bounded, decision 024) mappings on a large order could take tens of milliseconds, which
 * every other shop's webhooks would wait behind: past this, its remaining mappings render at send time.
 */
export const PRERENDER_BUDGET_MS = 2;

export interface EnabledMapping {
  id: string;
  definition: MappingDefinition;
}

export type LoadMappings = (shop: string, topic: MappableTopic) => Promise<EnabledMapping[]>;

export interface WebhookPrerenderer {
  /** The events rendered ahead for this webhook, by mapping id: none when its topic or mappings do not allow it. */
  events(shop: string, topic: MappableTopic, body: JsonValue, bodyChars: number): Record<string, string> | undefined;
}

interface Entry {
  mappings: EnabledMapping[] | null;
  readAt: number;
  reading: boolean;
}

export class MappingsAhead implements WebhookPrerenderer {
  private readonly entries: Lru<string, Entry>;
  private readonly reads = new Set<Promise<void>>();

  constructor(
    private readonly load: LoadMappings,
    private readonly options: { ttlMs?: number; now?: () => number; limit?: number; budgetMs?: number; clock?: () => number } = {},
  ) {
    this.entries = new Lru(options.limit ?? PRERENDER_ENTRIES);
  }

  events(shop: string, topic: MappableTopic, body: JsonValue, bodyChars: number): Record<string, string> | undefined {
    if (!rendersFromBodyAlone(CATALOG[topic])) return undefined;
    const mappings = this.mappingsOf(shop, topic);
    if (mappings === null || mappings.length === 0) return undefined;
    let events: Record<string, string> | undefined;
    const clock = this.options.clock ?? (() => performance.now());
    const started = clock();
    for (const { id, definition } of mappings) {
      if (clock() - started > (this.options.budgetMs ?? PRERENDER_BUDGET_MS)) break;
      try {
        const rendered = prerender(definition, { topic, shop, body, bodyChars });
        if (rendered !== null) (events ??= {})[id] = prerenderedText(rendered);
      } catch (error) {
        // Nothing here may cost the webhook its record: the send renders this mapping itself.
        logger.warn({ shop, topic, mappingId: id, err: error instanceof Error ? error.message : String(error) }, "could not render an event ahead; it renders at send time");
      }
    }
    return events;
  }

  /** The shop's enabled mappings of the topic as last read, or null before the first read; reads again when due. */
  private mappingsOf(shop: string, topic: MappableTopic): EnabledMapping[] | null {
    const key = `${shop}\n${topic}`;
    const now = (this.options.now ?? Date.now)();
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = { mappings: null, readAt: now, reading: false };
      this.entries.set(key, entry);
      this.read(entry, shop, topic, now);
    } else if (!entry.reading && now - entry.readAt >= (this.options.ttlMs ?? PRERENDER_MAPPINGS_TTL_MS)) {
      this.read(entry, shop, topic, now);
    }
    return entry.mappings;
  }

  /** Settles once the reads of mappings under way have ended (tests wait on it rather than on time). */
  async whenRead(): Promise<void> {
    while (this.reads.size > 0) await Promise.all([...this.reads]);
  }

  private read(entry: Entry, shop: string, topic: MappableTopic, now: number): void {
    entry.reading = true;
    const read = this.load(shop, topic).then(
      (mappings) => {
        entry.mappings = mappings;
        entry.readAt = now;
        entry.reading = false;
      },
      (error: unknown) => {
        // Tried again once the entry is due; meanwhile the last mappings read (if any) go on being used.
        entry.readAt = now;
        entry.reading = false;
        logger.debug({ shop, topic, err: error instanceof Error ? error.message : String(error) }, "could not read a shop's mappings to render ahead");
      },
    );
    this.reads.add(read);
    void read.finally(() => this.reads.delete(read));
  }
}

/** The shop's enabled mappings of a topic, in the order the write gives their deliveries. */
export function loadEnabledMappings(prisma: Database): LoadMappings {
  return async (shop, topic) => {
    const rows = await prisma.mapping.findMany({ where: { shop, topic, enabled: true }, orderBy: { position: "asc" }, take: MAX_MAPPINGS_PER_SHOP });
    return rows.flatMap((row) => {
      try {
        const stored = storedMapping(row);
        return [{ id: stored.id, definition: definitionOf(stored) }];
      } catch {
        // A row this version cannot read: its deliveries render (and say why) at send time.
        return [];
      }
    });
  };
}
