/**
 * POST /flow/actions/send-attentive-event: Flow runs the "Send Attentive event" action. The request is checked as
 * Flow signs it (the same HMAC over the raw bytes as a webhook), its settings are checked with the rules the worker
 * sends by, and it is recorded with its one delivery before Flow gets its 200; the delivery worker sends it like
 * any webhook's. The answers follow Flow's endpoint contract (docs/decisions/015-shopify-flow.md).
 */
import { timeOrderedId } from "~/db/time-ordered-id";
import { db, type Database } from "~/db.server";
import { wakeWorkers } from "~/delivery/wake.server";
import { env } from "~/env.server";
import { externalEventId } from "~/delivery/external-event-id";
import { logger } from "~/logger.server";
import { ensureShop, isShopDomain, isUniqueViolation } from "~/models/Shop.server";
import { parseShopifyJson, type JsonValue } from "~/shopify/json";
import { shopifyHmacMatches } from "~/shopify/webhook-hmac.server";
import { BodyTooLargeError } from "~/webhooks/read-body.server";
import { errorSummary, fetchWebhookRequest, webhookResponse, type WebhookAnswer, type WebhookRequest } from "~/webhooks/receive.server";
import { FLOW_ACTION_MAPPING_ID, FLOW_ACTION_TOPIC, MAX_FLOW_ACTION_BYTES, parseFlowAction, type FlowActionEvent, type FlowActionRequest } from "./action";

export interface FlowActionOptions {
  prisma: Database;
  secret: string;
  /** Called after a new delivery was committed (wakes the embedded worker). */
  onRecorded?: () => void;
  now?: () => Date;
}

/** A refusal Flow shows in the workflow's run: JSON with the sentence that says what to change. */
function refusal(status: number, message: string, extra: Record<string, string> = {}): WebhookAnswer {
  return { status, body: JSON.stringify({ message }), headers: { "content-type": "application/json; charset=utf-8", ...extra } };
}

const ACCEPTED: WebhookAnswer = { status: 200, body: JSON.stringify({ message: "Recorded: the event will be sent to Attentive." }), headers: { "content-type": "application/json; charset=utf-8" } };

/** How long Flow is asked to wait before sending a run the app could not record (its database was unavailable). */
export const RETRY_AFTER_SECONDS = 30;

export type FlowRecordOutcome = { kind: "recorded"; deliveryId: string } | { kind: "duplicate" };

export async function receiveFlowAction(request: WebhookRequest, options: FlowActionOptions): Promise<WebhookAnswer> {
  if (request.method !== "POST") return { status: 405, body: "Flow actions are POST requests", headers: { allow: "POST" } };
  let bytes: Buffer;
  try {
    bytes = await request.readBody(MAX_FLOW_ACTION_BYTES);
  } catch (error) {
    if (error instanceof BodyTooLargeError) return { ...refusal(413, `The Flow action request is larger than ${MAX_FLOW_ACTION_BYTES / 1024} KB: shorten Properties.`), headers: { connection: "close", "content-type": "application/json; charset=utf-8" } };
    throw error;
  }
  const hmac = request.header("x-shopify-hmac-sha256");
  // Unsigned or wrongly signed: nothing about the request is trusted or recorded.
  if (!hmac || bytes.length === 0 || !shopifyHmacMatches(options.secret, bytes, hmac)) return { status: 401, body: "Unauthorized" };

  const text = bytes.toString("utf8");
  let body: JsonValue;
  try {
    body = parseShopifyJson(text);
  } catch {
    return refusal(400, "The Flow action request is not valid JSON.");
  }
  const parsed = parseFlowAction(body);
  if (!parsed.ok) {
    logger.info({ reason: parsed.reason, field: parsed.field }, "Flow action refused: its settings cannot make an Attentive event");
    return refusal(400, parsed.reason);
  }
  const { request: run, event } = parsed;
  if (!isShopDomain(run.shop)) return refusal(400, "shopify_domain is not a shop's <name>.myshopify.com domain.");

  try {
    if (!(await isInstalled(options.prisma, run.shop))) {
      return refusal(400, "The Attentive Events app is not installed on this shop: install it (or open it once in Shopify admin), then run the workflow again.");
    }
    const outcome = await recordFlowAction(options, run, event, text);
    if (outcome.kind === "recorded") options.onRecorded?.();
    logger.info({ shop: run.shop, actionRunId: run.actionRunId, outcome: outcome.kind }, "Flow action received");
    return ACCEPTED;
  } catch (error) {
    // Not recorded: a 429 with Retry-After is the answer Flow documents as "send this run again after that long".
    logger.error({ shop: run.shop, actionRunId: run.actionRunId, err: errorSummary(error) }, "Flow action not recorded");
    return refusal(429, "The app could not record this event just now; Flow will send it again.", { "retry-after": String(RETRY_AFTER_SECONDS) });
  }
}

/** Installed: the app holds the shop's offline session (uninstalling deletes it) and the shop is not marked gone. */
async function isInstalled(prisma: Database, shop: string): Promise<boolean> {
  const [session, row] = await Promise.all([
    prisma.session.findFirst({ where: { shop, isOnline: false }, select: { id: true } }),
    prisma.shop.findUnique({ where: { domain: shop }, select: { uninstalledAt: true } }),
  ]);
  return session !== null && (row === null || row.uninstalledAt === null);
}

/**
 * The run and its one delivery, in one statement: both or neither. The run's id is the de-duplication key, so Flow
 * sending the same run again finds it recorded and nothing more is sent.
 */
export async function recordFlowAction(
  options: Pick<FlowActionOptions, "prisma" | "now">,
  run: FlowActionRequest,
  event: FlowActionEvent,
  text: string,
): Promise<FlowRecordOutcome> {
  const { prisma } = options;
  const now = options.now?.() ?? new Date();
  await ensureShop(prisma, run.shop);
  const deliveryId = timeOrderedId();
  try {
    await prisma.webhook.create({
      data: {
        shop: run.shop,
        topic: FLOW_ACTION_TOPIC,
        eventKey: run.actionRunId,
        webhookId: run.actionRunId,
        eventId: null,
        apiVersion: "flow",
        triggeredAt: null,
        receivedAt: now,
        orderId: null,
        body: text,
        deliveries: {
          create: {
            id: deliveryId,
            shop: run.shop,
            mappingId: FLOW_ACTION_MAPPING_ID,
            topic: FLOW_ACTION_TOPIC,
            eventType: event.type,
            externalEventId: externalEventId({ shop: run.shop, topic: FLOW_ACTION_TOPIC, eventKey: run.actionRunId, mappingId: FLOW_ACTION_MAPPING_ID }),
            status: "pending",
            nextAttemptAt: now,
            occurredAt: now,
            createdAt: now,
            email: event.user.email?.toLowerCase() ?? null,
          },
        },
      },
    });
  } catch (error) {
    if (isUniqueViolation(error)) return { kind: "duplicate" };
    throw error;
  }
  return { kind: "recorded", deliveryId };
}

let wiring: FlowActionOptions | undefined;

/** The production wiring: the app's database and secret, waking the embedded worker. */
function productionOptions(): FlowActionOptions {
  wiring ??= { prisma: db(), secret: env().SHOPIFY_API_SECRET, onRecorded: wakeWorkers };
  return wiring;
}

/** POST through Remix. */
export async function flowActionAction(request: Request): Promise<Response> {
  return webhookResponse(await receiveFlowAction(fetchWebhookRequest(request), productionOptions()));
}

/** GET or HEAD: a quiet 405. */
export function flowActionLoader(): Response {
  return new Response("Flow actions are POST requests", { status: 405, headers: { allow: "POST" } });
}
