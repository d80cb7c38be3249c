/**
 * The webhook path: authenticate (HMAC), record durably with its deliveries in one
 * transaction, answer 200. Attentive is never called here: sending happens in the
 * delivery worker. Anything that prevents recording answers non-2xx so Shopify retries.
 */
import { ingestStoreOf, type Database } from "~/db.server";
import { logger } from "~/logger.server";
import { isMappableTopic } from "~/mapping/types";
import { ensureShop, markUninstalled } from "~/models/Shop.server";
import { eventIdentity } from "~/shopify/event-identity";
import { occurredAtFor } from "~/shopify/event-time";
import { parseShopifyJson, type JsonValue } from "~/shopify/json";
import { handleComplianceWebhook, isComplianceTopic } from "./compliance.server";
import type { IngestRow } from "./ingest-store.server";
import { BodyTooLargeError, readBodyWithLimit } from "./read-body.server";

/** Shopify order bodies with hundreds of lines stay well under this. */
export const DEFAULT_MAX_WEBHOOK_BYTES = 2 * 1024 * 1024;

/** What authenticate.webhook returns that we use. */
export interface AuthenticatedWebhook {
  shop: string;
  topic: string | number | symbol;
  webhookId: string;
  apiVersion: string;
  eventId?: string;
  triggeredAt?: string;
  session?: { id: string } | undefined;
}

export interface ReceiveOptions {
  prisma: Database;
  authenticate: (request: Request) => Promise<AuthenticatedWebhook>;
  maxBytes?: number;
  /** Called after new deliveries were committed (wakes the embedded worker). */
  onRecorded?: () => void;
  now?: () => Date;
}

export type RecordOutcome =
  | { kind: "recorded"; webhookRecordId: string; deliveries: number }
  | { kind: "duplicate" }
  | { kind: "handled" };

export async function receiveWebhook(request: Request, options: ReceiveOptions): Promise<Response> {
  let text: string;
  try {
    text = await readBodyWithLimit(request, options.maxBytes ?? DEFAULT_MAX_WEBHOOK_BYTES);
  } catch (error) {
    if (error instanceof BodyTooLargeError) return new Response("Webhook body too large", { status: 413 });
    throw error;
  }

  let context: AuthenticatedWebhook;
  try {
    // The library reads the body itself; hand it a copy and keep the exact text
    // (JSON.parse would round ids above 2^53).
    context = await options.authenticate(
      new Request(request.url, { method: request.method, headers: request.headers, body: request.method === "POST" ? text : undefined }),
    );
  } catch (error) {
    if (error instanceof Response) return error;
    // The library parses the body only after the HMAC and headers passed: an authentic webhook
    // that is not JSON will never be, so a 400 rather than a retry.
    if (error instanceof SyntaxError) return new Response("Webhook body is not valid JSON", { status: 400 });
    // The library loads the shop's offline session from the database before answering; when
    // that fails (database down) the webhook is not recorded, so Shopify must deliver it again.
    logger.error({ err: errorSummary(error) }, "webhook not authenticated: the session store is unavailable");
    return new Response("Could not check the webhook; Shopify will retry", { status: 503 });
  }

  const topic = request.headers.get("x-shopify-topic") ?? "";
  let body: JsonValue;
  try {
    body = parseShopifyJson(text);
  } catch (error) {
    // The exact-id reviver recurses: a body nested thousands deep (no real one is) exhausts the stack.
    if (error instanceof RangeError) return new Response("Webhook body is nested too deeply to read", { status: 400 });
    return new Response("Webhook body is not valid JSON", { status: 400 });
  }

  try {
    const outcome = await recordWebhook(options, { ...context, topic, text, body });
    if (outcome.kind === "recorded" && outcome.deliveries > 0) options.onRecorded?.();
    logger.info({ shop: context.shop, topic, webhookId: context.webhookId, outcome: outcome.kind }, "webhook received");
    return new Response(null, { status: 200 });
  } catch (error) {
    // Not recorded: a non-2xx makes Shopify deliver it again later.
    logger.error({ shop: context.shop, topic, webhookId: context.webhookId, err: errorSummary(error) }, "webhook not recorded");
    return new Response("Could not record the webhook; Shopify will retry", { status: 503 });
  }
}

/** A webhook ready to record: from Shopify's request, or rebuilt by the reconciliation job. */
export interface IncomingWebhook extends Omit<AuthenticatedWebhook, "topic"> {
  topic: string;
  text: string;
  body: JsonValue;
}

export async function recordWebhook(options: ReceiveOptions, webhook: IncomingWebhook): Promise<RecordOutcome> {
  const { prisma } = options;
  const now = options.now?.() ?? new Date();
  if (webhook.topic === "app/uninstalled") {
    await markUninstalled(prisma, webhook.shop, now);
    return { kind: "handled" };
  }
  if (webhook.topic === "app/scopes_update") {
    const current = isScopesPayload(webhook.body) ? webhook.body.current.join(",") : null;
    if (current !== null) await prisma.session.updateMany({ where: { shop: webhook.shop }, data: { scope: current } });
    return { kind: "handled" };
  }
  if (isComplianceTopic(webhook.topic)) {
    await handleComplianceWebhook(prisma, webhook.shop, webhook.topic, webhook.body, now);
    return { kind: "handled" };
  }
  if (!isMappableTopic(webhook.topic)) {
    logger.warn({ shop: webhook.shop, topic: webhook.topic }, "webhook for a topic this app does not map; ignored");
    return { kind: "handled" };
  }

  const identity = eventIdentity(webhook.topic, webhook.body, { eventId: webhook.eventId ?? null, webhookId: webhook.webhookId });
  const triggeredAt = parseDate(webhook.triggeredAt);
  const row: IngestRow = {
    shop: webhook.shop,
    topic: webhook.topic,
    eventKey: identity.eventKey,
    webhookId: webhook.webhookId,
    eventId: webhook.eventId ?? null,
    apiVersion: webhook.apiVersion,
    triggeredAt,
    receivedAt: now,
    orderId: identity.orderId,
    occurredAt: occurredAtFor(webhook.topic, webhook.body, triggeredAt ?? now),
    body: webhook.text,
  };
  const store = ingestStoreOf(prisma);
  let result = await store.record(row);
  if (result.kind === "unseeded") {
    // The shop's first webhook (or first since its data was erased): create it with its default mappings.
    await ensureShop(prisma, webhook.shop);
    result = await store.record(row);
    if (result.kind === "unseeded") throw new Error(`Shop ${webhook.shop} has no default mappings after creating them`);
  }
  return result;
}

function parseDate(value: string | undefined): Date | null {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

function isScopesPayload(body: JsonValue): body is { current: string[] } {
  return (
    typeof body === "object" &&
    body !== null &&
    !Array.isArray(body) &&
    Array.isArray(body.current) &&
    body.current.every((scope) => typeof scope === "string")
  );
}

export function errorSummary(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: "Unknown", message: String(error) };
}
