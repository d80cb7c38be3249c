/**
 * The webhook path: authenticate (HMAC), record durably with its deliveries in one
 * transaction, answer 200. Attentive is never called here: sending happens in the
 * delivery worker. Anything that prevents recording answers non-2xx so Shopify retries.
 */
import type { Database } from "~/db.server";
import { logger } from "~/logger.server";
import { isMappableTopic, type MappableTopic } from "~/mapping/types";
import { recordGrantedScopes } from "~/models/GrantedScopes.server";
import { ensureShop, isShopDomain, markUninstalled } from "~/models/Shop.server";
import { eventIdentity } from "~/shopify/event-identity";
import { occurredAtFor } from "~/shopify/event-time";
import { parseShopifyJson, type JsonValue } from "~/shopify/json";
import type { IngestAdmission } from "./admission";
import { handleComplianceWebhook, isComplianceTopic } from "./compliance.server";
import { ingestStoreOf, type IngestRow } from "./ingest-store.server";
import type { WebhookPrerenderer } from "./prerender.server";
import { BodyTooLargeError, readBodyWithLimit } from "./read-body.server";
import { acceptsTopic, type WebhookRoute } from "./topics";

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

/** A webhook request as any HTTP layer (Remix's fetch Request, Node's own) presents it. */
export interface WebhookRequest {
  method: string;
  /** A header's value by its lower-case name, or null. */
  header(name: string): string | null;
  /** The whole body, refusing with BodyTooLargeError before buffering more than `maxBytes`. */
  readBody(maxBytes: number): Promise<Buffer>;
}

export interface WebhookAnswer {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

/** Webhooks are POSTs: anything else is told so, quietly (a probe or a browser is not an error). */
export const METHOD_NOT_ALLOWED: WebhookAnswer = { status: 405, body: "Webhooks are POST requests", headers: { allow: "POST" } };

/**
 * A body over the limit: the connection is closed after the answer, so a client cannot keep
 * streaming the rest of it into a connection that has already been refused.
 */
export const BODY_TOO_LARGE: WebhookAnswer = { status: 413, body: "Webhook body too large", headers: { connection: "close" } };

/**
 * More webhooks are waiting to be recorded than the process holds (IngestAdmission, decision 034): Shopify delivers
 * this one again later. Retry-After is a hint for other senders; Shopify keeps its own schedule.
 */
export const OVERLOADED: WebhookAnswer = {
  status: 503,
  body: "Too many webhooks are waiting to be recorded; Shopify will retry this one",
  headers: { "retry-after": "5" },
};

export interface ReceiveOptions {
  prisma: Database;
  /** Checks the webhook (HMAC, headers); throws a Response (401, 400, 405) to refuse it. */
  authenticate: (request: WebhookRequest, body: Buffer) => Promise<AuthenticatedWebhook>;
  maxBytes?: number;
  /** Called after new deliveries were committed (wakes the embedded worker). */
  onRecorded?: () => void;
  now?: () => Date;
  /** The bound on webhooks held at once; none when absent. */
  admission?: IngestAdmission;
  /** Renders the events of the webhook's mappings while its body is parsed (decision 054); none when absent. */
  prerender?: WebhookPrerenderer;
}

export type RecordOutcome =
  | { kind: "recorded"; webhookRecordId: string; deliveries: number }
  | { kind: "duplicate" }
  | { kind: "handled" };

/** What one route passes in: the ingest wiring, and the topics that route is subscribed to. */
export interface RouteReceiveOptions extends ReceiveOptions {
  route: WebhookRoute;
}

export async function receiveWebhook(request: WebhookRequest, options: RouteReceiveOptions): Promise<WebhookAnswer> {
  if (request.method !== "POST") return METHOD_NOT_ALLOWED;
  let bytes: Buffer;
  try {
    bytes = await request.readBody(options.maxBytes ?? DEFAULT_MAX_WEBHOOK_BYTES);
  } catch (error) {
    if (error instanceof BodyTooLargeError) return BODY_TOO_LARGE;
    throw error;
  }
  // Before the HMAC and the parse: a process that cannot keep up spends as little as it can on what it refuses.
  const leave = options.admission ? options.admission.admit(bytes.byteLength) : () => {};
  if (leave === null) return OVERLOADED;
  try {
    return await receiveAdmitted(request, options, bytes);
  } finally {
    leave();
  }
}

async function receiveAdmitted(request: WebhookRequest, options: RouteReceiveOptions, bytes: Buffer): Promise<WebhookAnswer> {
  let context: AuthenticatedWebhook;
  try {
    context = await options.authenticate(request, bytes);
  } catch (error) {
    if (error instanceof Response) return { status: error.status, body: await error.text() };
    // The library parses the body only after the HMAC and headers passed: an authentic webhook
    // that is not JSON will never be, so a 400 rather than a retry.
    if (error instanceof SyntaxError) return { status: 400, body: "Webhook body is not valid JSON" };
    // The library loads the shop's offline session from the database before answering; when
    // that fails (database down) the webhook is not recorded, so Shopify must deliver it again.
    logger.error({ err: errorSummary(error) }, "webhook not authenticated: the session store is unavailable");
    return { status: 503, body: "Could not check the webhook; Shopify will retry" };
  }

  // Both checked after the HMAC, so an unsigned probe learns nothing; both before anything is
  // stored, erased or created. The HMAC covers the body only: these headers are the sender's word.
  const topic = request.header("x-shopify-topic") ?? "";
  if (!acceptsTopic(options.route, topic)) {
    logger.warn({ route: options.route.path, topic: topic.slice(0, 100) }, "webhook refused: topic not subscribed to this route");
    return { status: 400, body: `Topic ${JSON.stringify(topic.slice(0, 100))} is not accepted on ${options.route.path}` };
  }
  if (!isShopDomain(context.shop)) {
    logger.warn({ route: options.route.path, shop: context.shop.slice(0, 100) }, "webhook refused: not a shop domain");
    return { status: 400, body: "X-Shopify-Shop-Domain is not a shop's <name>.myshopify.com domain" };
  }
  return recordAuthenticated(options, { ...context, topic }, bytes);
}

/**
 * Parses the body and starts recording it, without waiting: the parsed tree (about ten times the text's size) is
 * needed only to read the event's identity and time, so no frame that waits on the database may hold it. Under load
 * a thousand webhooks can be waiting for the writer at once; held, their trees were promoted to the old generation
 * and collected there.
 */
function recordAuthenticated(options: RouteReceiveOptions, context: AuthenticatedWebhook & { topic: string }, bytes: Buffer): WebhookAnswer | Promise<WebhookAnswer> {
  // The exact text is what is kept and sent from (JSON.parse would round ids above 2^53).
  const text = bytes.toString("utf8");
  let body: JsonValue;
  try {
    body = parseShopifyJson(text);
  } catch (error) {
    // Walking a body nested thousands deep (no real one is) would exhaust the stack later.
    if (error instanceof RangeError) return { status: 400, body: "Webhook body is nested too deeply to read" };
    return { status: 400, body: "Webhook body is not valid JSON" };
  }
  return answerWhenRecorded(options, context, recordWebhook(options, { ...context, text, body, bytes }));
}

async function answerWhenRecorded(options: RouteReceiveOptions, context: AuthenticatedWebhook & { topic: string }, recording: Promise<RecordOutcome>): Promise<WebhookAnswer> {
  const { shop, topic, webhookId } = context;
  try {
    const outcome = await recording;
    if (outcome.kind === "recorded" && outcome.deliveries > 0) options.onRecorded?.();
    logger.info({ shop, topic, webhookId, outcome: outcome.kind }, "webhook received");
    return { status: 200 };
  } catch (error) {
    // Not recorded: a non-2xx makes Shopify deliver it again later.
    logger.error({ shop, topic, webhookId, err: errorSummary(error) }, "webhook not recorded");
    return { status: 503, body: "Could not record the webhook; Shopify will retry" };
  }
}

/** Adapts a fetch Request (Remix routes) to the webhook path. */
export function fetchWebhookRequest(request: Request): WebhookRequest {
  return {
    method: request.method,
    header: (name) => request.headers.get(name),
    readBody: (maxBytes) => readBodyWithLimit(request, maxBytes),
  };
}

export function webhookResponse(answer: WebhookAnswer): Response {
  return new Response(answer.body ?? null, { status: answer.status, headers: answer.headers ?? {} });
}

/** A webhook ready to record: from Shopify's request, or rebuilt by the reconciliation job. */
export interface IncomingWebhook extends Omit<AuthenticatedWebhook, "topic"> {
  topic: string;
  text: string;
  body: JsonValue;
  /** The bytes `text` was decoded from, when they are at hand: the row keeps them rather than the text (IngestRow.body). */
  bytes?: Uint8Array;
  /** Rebuilt by a history backfill: see IngestRow.backfill. */
  backfill?: IngestRow["backfill"];
}

/**
 * Records a webhook. Not itself async: for the topics that are mapped (nearly all traffic) the row is built from
 * the parsed body here, and only the row is held while the write waits (see recordAuthenticated).
 */
export function recordWebhook(options: ReceiveOptions, webhook: IncomingWebhook): Promise<RecordOutcome> {
  try {
    const now = options.now?.() ?? new Date();
    if (!isMappableTopic(webhook.topic)) return recordOtherTopic(options.prisma, webhook, now);
    return recordRow(options.prisma, ingestRowOf(webhook, webhook.topic, now, options.prerender));
  } catch (error) {
    return Promise.reject(error);
  }
}

function ingestRowOf(webhook: IncomingWebhook, topic: MappableTopic, now: Date, prerenderer?: WebhookPrerenderer): IngestRow {
  const identity = eventIdentity(topic, webhook.body, { eventId: webhook.eventId ?? null, webhookId: webhook.webhookId });
  const triggeredAt = parseDate(webhook.triggeredAt);
  const prerendered = prerenderer?.events(webhook.shop, topic, webhook.body, webhook.text.length);
  return {
    shop: webhook.shop,
    topic,
    eventKey: identity.eventKey,
    webhookId: webhook.webhookId,
    eventId: webhook.eventId ?? null,
    apiVersion: webhook.apiVersion,
    triggeredAt,
    receivedAt: now,
    orderId: identity.orderId,
    occurredAt: occurredAtFor(topic, webhook.body, triggeredAt ?? now),
    body: webhook.bytes ?? webhook.text,
    ...(webhook.backfill ? { backfill: webhook.backfill } : {}),
    ...(prerendered ? { prerendered } : {}),
  };
}

async function recordOtherTopic(prisma: Database, webhook: IncomingWebhook, now: Date): Promise<RecordOutcome> {
  if (webhook.topic === "app/uninstalled") {
    await markUninstalled(prisma, webhook.shop, now);
    return { kind: "handled" };
  }
  if (webhook.topic === "app/scopes_update") {
    if (isScopesPayload(webhook.body)) await recordGrantedScopes(prisma, webhook.shop, webhook.body.current);
    return { kind: "handled" };
  }
  if (isComplianceTopic(webhook.topic)) {
    await handleComplianceWebhook(prisma, webhook.shop, webhook.topic, webhook.body, now);
    return { kind: "handled" };
  }
  logger.warn({ shop: webhook.shop, topic: webhook.topic }, "webhook for a topic this app does not map; ignored");
  return { kind: "handled" };
}

async function recordRow(prisma: Database, row: IngestRow): Promise<RecordOutcome> {
  const store = ingestStoreOf(prisma);
  let result = await store.record(row);
  if (result.kind === "unseeded") {
    // The shop's first webhook (or first since its data was erased): create it with its default mappings.
    await ensureShop(prisma, row.shop);
    result = await store.record(row);
    if (result.kind === "unseeded") throw new Error(`Shop ${row.shop} has no default mappings after creating them`);
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
