/**
 * The mapping editor's live preview: renders a mapping against the shop's latest real
 * webhook of the topic (or Shopify's sample) and shows the exact request that would be
 * sent to Attentive, or the precise reason it would not be.
 */
import { randomUUID } from "node:crypto";
import { customEventRequestBody, type AttentiveClientOptions, type CustomEventInput, sendCustomEvent } from "~/attentive/client.server";
import type { Database } from "~/db.server";
import { occurredAtFor } from "~/shopify/event-time";
import { isJsonObject, parseShopifyJson, type JsonValue } from "~/shopify/json";
import orderSampleText from "~/shopify/samples/orders_fulfilled.json?raw";
import refundSampleText from "~/shopify/samples/refunds_create.json?raw";
import type { OrderLookup } from "~/shopify/order-lookup.server";
import { renderMapping } from "./render.server";
import type { MappableTopic, MappingDefinition } from "./types";

export type PreviewSource = "latest" | "sample";

export interface PreviewBody {
  source: "webhook" | "sample";
  receivedAt: Date | null;
  body: JsonValue;
  order: JsonValue | null;
}

export async function previewBody(prisma: Database, shop: string, topic: MappableTopic, source: PreviewSource, orderLookup?: OrderLookup): Promise<PreviewBody> {
  if (source === "latest") {
    const latest = await prisma.webhook.findFirst({
      where: { shop, topic },
      orderBy: { receivedAt: "desc" },
      select: { body: true, receivedAt: true },
    });
    if (latest) {
      const body = parseShopifyJson(latest.body);
      let order: JsonValue | null = null;
      if (topic === "refunds/create" && orderLookup && isJsonObject(body) && (typeof body.order_id === "string" || typeof body.order_id === "number")) {
        const found = await orderLookup(shop, String(body.order_id));
        order = found.kind === "found" ? found.order : null;
      }
      return { source: "webhook", receivedAt: latest.receivedAt, body, order };
    }
  }
  if (topic === "refunds/create") {
    return { source: "sample", receivedAt: null, body: parseShopifyJson(refundSampleText), order: parseShopifyJson(orderSampleText) };
  }
  return { source: "sample", receivedAt: null, body: parseShopifyJson(orderSampleText), order: null };
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
  const rendered = await renderMapping(mapping, { topic: mapping.topic, shop, body: source.body, order: source.order });
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
