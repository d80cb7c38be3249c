/**
 * Events rendered when their webhook is received (docs/decisions/054). The web process has just parsed the body to
 * record it; for a topic whose render reads nothing but the body, it renders the shop's mappings there too, and the
 * delivery keeps the result beside the mapping's fingerprint. The worker's first send then uses it, while the mapping
 * is the one it was rendered with, instead of parsing the body a second time: that parse was a fifth of the worker's
 * CPU per delivery. Anything else (another topic, a mapping edited since, a template that reads the clock or could run
 * away, a second attempt) renders at send time as before.
 */
import { createHash } from "node:crypto";
import type { TopicEntry } from "~/topics/entry";
import { isJsonObject, type JsonValue } from "~/shopify/json";
import { renderInline, rendersInline } from "./inline";
import type { RenderedEvent } from "./renderer";
import type { MappingDefinition } from "./types";

/** What the event's send takes from a render: warnings are the preview's, not the send's. */
export type PrerenderedEvent = Pick<RenderedEvent, "type" | "properties" | "user">;

export type Prerendered =
  | { fingerprint: string; kind: "event"; event: PrerenderedEvent; bodyName: string | null }
  | { fingerprint: string; kind: "skipped"; reason: string };

/** A topic whose render needs only its body: no order to look up, no fulfillment to find, nothing to check first. */
export function rendersFromBodyAlone(entry: Pick<TopicEntry, "needs" | "validate">): boolean {
  return entry.needs.order === "body" && entry.needs.fulfillment !== true && entry.validate === undefined;
}

const fingerprints = new WeakMap<MappingDefinition, string>();

/**
 * A digest of everything of the mapping a render reads. Equal fingerprints render a body to the same event, so a
 * stored event is used only when the mapping has not changed since, by any path (the admin, the CLI, a statement).
 */
export function mappingFingerprint(mapping: MappingDefinition): string {
  let fingerprint = fingerprints.get(mapping);
  if (fingerprint === undefined) {
    const source = JSON.stringify([mapping.topic, mapping.eventType, mapping.when ?? null, Object.entries(mapping.properties), mapping.user ?? null]);
    fingerprint = createHash("sha256").update(source).digest("base64url");
    fingerprints.set(mapping, fingerprint);
  }
  return fingerprint;
}

/** Liquid's `date` reads the clock for these: rendered at receipt, such a template would say when it arrived. */
const CLOCK_WORDS = /\b(now|today)\b/;

const clockReaders = new WeakMap<MappingDefinition, boolean>();

function readsTheClock(mapping: MappingDefinition): boolean {
  let reads = clockReaders.get(mapping);
  if (reads === undefined) {
    const sources = [mapping.when ?? "", ...Object.values(mapping.properties), ...Object.values(mapping.user ?? {})];
    reads = sources.some((source) => typeof source === "string" && CLOCK_WORDS.test(source));
    clockReaders.set(mapping, reads);
  }
  return reads;
}

/**
 * The mapping's event for this body, rendered on the caller's thread, or null when it is not to be rendered ahead:
 * a mapping that is off, could run away (rendersInline), reads the clock, or whose render failed (the send renders it
 * again and says why).
 */
export function prerender(mapping: MappingDefinition, input: { topic: MappingDefinition["topic"]; shop: string; body: JsonValue; bodyChars: number }): Prerendered | null {
  if (!mapping.enabled || !rendersInline(mapping, input.bodyChars) || readsTheClock(mapping)) return null;
  const { outcome, bodyName } = renderInline(mapping, { topic: input.topic, shop: input.shop, order: null, fulfillment: null, body: input.body });
  const fingerprint = mappingFingerprint(mapping);
  if (outcome.kind === "skipped") return { fingerprint, kind: "skipped", reason: outcome.reason };
  if (outcome.kind !== "event") return null;
  const { type, properties, user } = outcome.event;
  return { fingerprint, kind: "event", event: { type, properties, user }, bodyName };
}

/** The column's text. */
export function prerenderedText(prerendered: Prerendered): string {
  return JSON.stringify(prerendered);
}

/**
 * The stored event, when it was rendered with `mapping` as it is now; null otherwise, or when the text is not one this
 * version wrote (the send renders again).
 */
export function usablePrerendered(text: string | null, mapping: MappingDefinition): Prerendered | null {
  if (text === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isJsonObject(value as JsonValue)) return null;
  const stored = value as Partial<Prerendered> & Record<string, unknown>;
  if (stored.fingerprint !== mappingFingerprint(mapping)) return null;
  if (stored.kind === "skipped" && typeof stored.reason === "string") return stored as Prerendered;
  if (stored.kind === "event" && isEvent(stored.event)) return { ...(stored as Prerendered & { kind: "event" }), bodyName: typeof stored.bodyName === "string" ? stored.bodyName : null };
  return null;
}

function isEvent(value: unknown): value is PrerenderedEvent {
  if (typeof value !== "object" || value === null) return false;
  const event = value as Record<string, unknown>;
  return typeof event.type === "string" && typeof event.properties === "object" && event.properties !== null && typeof event.user === "object" && event.user !== null;
}
