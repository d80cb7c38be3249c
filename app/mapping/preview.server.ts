/**
 * The mapping editor's live preview: renders a mapping against the shop's latest real
 * webhook of the topic (or Shopify's sample) and shows the exact request that would be
 * sent to Attentive, or the precise reason it would not be.
 */
import { randomUUID } from "node:crypto";
import { customEventRequestBody, type AttentiveClientOptions, type CustomEventInput, sendCustomEvent } from "~/attentive/client.server";
import type { Database } from "~/db.server";
import { findRelated } from "~/delivery/related.server";
import { occurredAtFor } from "~/shopify/event-time";
import { isJsonObject, parseShopifyJson, type JsonValue } from "~/shopify/json";
import type { OrderLookup } from "~/shopify/order-lookup.server";
import { CATALOG } from "~/topics/catalog";
import type { Related } from "~/topics/entry";
import { rendersInline, renderInline } from "./inline";
import { renderMapping } from "./render.server";
import type { MappableTopic, MappingDefinition } from "./types";

export type PreviewSource = "latest" | "sample";

export interface PreviewBody {
  source: "webhook" | "sample";
  receivedAt: Date | null;
  body: JsonValue;
  /** The length of the body's text, which decides whether a bounded mapping may render on this thread (decision 024). */
  bodyChars: number;
  /** What the topic's templates read beyond the body (the order of a refund, the parcel of a delivery update). */
  related: Related;
}

/** Every catalog topic's sample text, by file name (app/topics/samples/). */
const SAMPLES = import.meta.glob<string>("../topics/samples/*.json", { query: "?raw", import: "default", eager: true });

function sampleText(file: string): string {
  const text = SAMPLES[`../topics/samples/${file}`];
  if (text === undefined) throw new Error(`The sample ${file} is missing from app/topics/samples/`);
  return text;
}

/** The samples are one order's life, so a sample's order and parcel are that order's. */
function sampleRelated(): Related {
  const order = parseShopifyJson(sampleText(CATALOG["orders/fulfilled"].sample));
  return { order, fulfillment: parseShopifyJson(sampleText(CATALOG["fulfillments/create"].sample)) };
}

export async function previewBody(prisma: Database, shop: string, topic: MappableTopic, source: PreviewSource, orderLookup?: OrderLookup): Promise<PreviewBody> {
  const entry = CATALOG[topic];
  if (source === "latest") {
    const latest = await prisma.webhook.findFirst({
      where: { shop, topic },
      orderBy: { receivedAt: "desc" },
      select: { body: true, receivedAt: true },
    });
    if (latest) {
      const body = parseShopifyJson(latest.body);
      let related: Related = { order: null, fulfillment: null };
      if (orderLookup) {
        // The preview never waits: what the app has, else the Admin API.
        const found = await findRelated({ prisma, orderLookup, orderArrivalWaitMs: 0 }, entry, { shop, createdAt: latest.receivedAt }, body, new Date());
        if (found.kind === "ready") related = found.related;
      }
      return { source: "webhook", receivedAt: latest.receivedAt, body, bodyChars: latest.body.length, related };
    }
  }
  const related = entry.needs.order === "body" && entry.needs.fulfillment !== true ? { order: null, fulfillment: null } : sampleRelated();
  const text = sampleText(entry.sample);
  return { source: "sample", receivedAt: null, body: parseShopifyJson(text), bodyChars: text.length, related };
}

export type PreviewOutcome =
  | { kind: "request"; request: ReturnType<typeof customEventRequestBody>; input: CustomEventInput; warnings: string[] }
  | { kind: "skipped"; reason: string }
  | { kind: "error"; reason: string };

export async function previewMapping(
  mapping: MappingDefinition,
  shop: string,
  source: PreviewBody,
  encoding: AttentiveClientOptions["propertiesEncoding"],
  externalEventId = "(set when sent: a UUID fixed per shop, event and mapping)",
): Promise<PreviewOutcome> {
  const context = { topic: mapping.topic, shop, body: source.body, order: source.related.order, fulfillment: source.related.fulfillment };
  // A mapping that cannot run away renders here, as the delivery worker renders it (decision 033): no thread to wake
  // or start. Anything else goes to the render threads, with their deadline.
  const rendered = rendersInline(mapping, source.bodyChars) ? renderInline(mapping, context).outcome : await renderMapping(mapping, context);
  if (rendered.kind !== "event") return rendered;
  const input: CustomEventInput = {
    type: rendered.event.type,
    properties: rendered.event.properties,
    externalEventId,
    occurredAt: occurredAtFor(mapping.topic, source.body, new Date()).toISOString(),
    user: rendered.event.user,
  };
  return { kind: "request", request: customEventRequestBody(input, encoding), input, warnings: rendered.event.warnings };
}

/** Sends one real event, with a fresh externalEventId, so the merchant sees Attentive's answer. */
export async function sendTestEvent(
  mapping: MappingDefinition,
  shop: string,
  source: PreviewBody,
  apiKey: string,
  attentive: AttentiveClientOptions,
) {
  const preview = await previewMapping(mapping, shop, source, attentive.propertiesEncoding, randomUUID());
  if (preview.kind !== "request") return { ok: false as const, reason: preview.reason };
  const outcome = await sendCustomEvent(apiKey, preview.input, attentive);
  return outcome.ok
    ? { ok: true as const, externalEventId: preview.input.externalEventId, response: outcome.responseBody }
    : { ok: false as const, reason: outcome.reason };
}

/** What a template of the topic can read: the body's fields and the topic's own names (`order`, `fulfillment`). */
export function templateScope(topic: MappableTopic, source: PreviewBody): JsonValue {
  const body = isJsonObject(source.body) ? source.body : {};
  return { ...body, ...CATALOG[topic].context(body, source.related) };
}

/** Paths of the body's fields for the editor's field picker (bounded; lists shown by their first item). */
export function bodyPaths(body: JsonValue, limit = 400): Array<{ path: string; example: string }> {
  const paths: Array<{ path: string; example: string }> = [];
  const walk = (value: JsonValue, path: string, depth: number) => {
    if (paths.length >= limit || depth > 5) return;
    if (Array.isArray(value)) {
      if (path) paths.push({ path, example: `list of ${value.length}` });
      if (value[0] !== undefined) walk(value[0], `${path}.first`, depth + 1);
      return;
    }
    if (isJsonObject(value)) {
      for (const [key, child] of Object.entries(value)) walk(child, path ? `${path}.${key}` : key, depth + 1);
      return;
    }
    const text = value === null ? "null" : String(value);
    paths.push({ path, example: text.length > 60 ? `${text.slice(0, 57)}…` : text });
  };
  walk(body, "", 0);
  return paths;
}
