/**
 * Sends the "Attentive event failed" Flow trigger for each failure the outcome store queued in the FlowTrigger outbox
 * (docs/decisions/015-shopify-flow.md, "The trigger"): claims due rows under a lease (a conditional update, so two
 * processes never send one row), builds the payload from the delivery as it is now, calls `flowTriggerReceive` with
 * the shop's offline session, and records the row as sent, dropped (with the reason) or due again later.
 *
 * It runs beside the delivery worker as a periodic job of its own, woken in-process when a failure is written; the
 * worker never waits for it. One call per failure, except when a process dies after Shopify took the call and before
 * the row was marked sent: the next sender calls again once the lease expires (Flow has no idempotency key).
 */
import { SessionNotFoundError } from "@shopify/shopify-app-remix/server";
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { z } from "zod";
import type { Database } from "~/db.server";
import { DELIVERY_FAILED_TRIGGER } from "~/delivery/outcome-store.server";
import { onFlowTriggerQueued } from "~/delivery/wake.server";
import { startPeriodicJob, type PeriodicJob } from "~/jobs/periodic-job.server";
import { httpStatusOf } from "~/shopify/order-lookup.server";
import { FLOW_ACTION_TOPIC } from "./action";
import { FLOW_SOURCE, FLOW_TRIGGER_FIELDS, FLOW_TRIGGER_HANDLE, type FlowTriggerPayload } from "./trigger-contract";
import { FLOW_TRIGGER_MUTATION } from "./trigger-mutation";

/** The Admin API client the sender needs: shopify-app-remix's `admin.graphql`, which takes an abort signal. */
export interface TriggerAdminClient {
  graphql(query: string, options: { variables: Record<string, unknown>; signal?: AbortSignal }): Promise<Response>;
}
/** `unauthenticated.admin`: the shop's offline session; throws SessionNotFoundError when the shop has none. */
export type TriggerAdminForShop = (shop: string) => Promise<{ admin: TriggerAdminClient }>;

/**
 * Shopify refuses a payload whose JSON is over 50,000 bytes ("Properties size exceeds the limit of 50000 bytes"; the
 * older docs said 1 MB). The Reason is cut to fit; the other fields are short by construction.
 */
export const MAX_FLOW_TRIGGER_PAYLOAD_BYTES = 50_000;
/** Fields other than the Reason are stored at most 320 characters long; this only guards against a future change. */
const MAX_OTHER_FIELD_CHARS = 1_000;

export interface TriggerRetryPolicy {
  /** Wait after the first failed call, doubled after each further one. */
  baseDelayMs: number;
  /** Longest wait between two calls (and the most a Retry-After is believed). */
  maxDelayMs: number;
  /** A row Shopify has not taken this long after the failure is dropped. */
  giveUpAfterMs: number;
}

export const DEFAULT_TRIGGER_RETRY: TriggerRetryPolicy = { baseDelayMs: 30_000, maxDelayMs: 30 * 60_000, giveUpAfterMs: 24 * 60 * 60_000 };

export interface TriggerSenderOptions {
  prisma: Database;
  adminForShop: TriggerAdminForShop;
  logger: Logger;
  /** The app's client id (SHOPIFY_API_KEY): the delivery's page in the embedded admin is under it. */
  apiKey: string;
  senderId?: string;
  /** Rows claimed at once. */
  batchSize?: number;
  /** Calls in flight at once. */
  concurrency?: number;
  /** How long a claim holds: well beyond the call's timeout, so a live sender is never overtaken. */
  leaseMs?: number;
  callTimeoutMs?: number;
  retry?: TriggerRetryPolicy;
  /** Sent and dropped rows are kept this long for operators, then deleted. */
  keepFinishedMs?: number;
  now?: () => Date;
  random?: () => number;
  /** Test seams: after the due rows were read and before any is claimed; after each pass. */
  hooks?: { afterRead?: () => Promise<void>; afterPass?: (result: TriggerPassResult) => void };
}

type Resolved = Required<Omit<TriggerSenderOptions, "hooks">> & Pick<TriggerSenderOptions, "hooks">;

function resolve(options: TriggerSenderOptions): Resolved {
  return {
    senderId: `flow-trigger-${randomUUID()}`,
    batchSize: 50,
    concurrency: 4,
    leaseMs: 60_000,
    callTimeoutMs: 15_000,
    retry: DEFAULT_TRIGGER_RETRY,
    keepFinishedMs: 30 * 24 * 60 * 60_000,
    now: () => new Date(),
    random: Math.random,
    ...options,
  };
}

export interface TriggerPassResult {
  sent: number;
  dropped: number;
  retrying: number;
}

/** What became of one call. */
type CallEnd = { kind: "sent" } | { kind: "dropped"; reason: string } | { kind: "retry"; reason: string; retryAfterMs?: number };

/** The delivery fields the payload is built from. */
export interface FailedDelivery {
  id: string;
  shop: string;
  topic: string;
  eventType: string;
  orderName: string | null;
  lastError: string | null;
}

/** The trigger's payload for a failed delivery, within Shopify's size limit. */
export function flowTriggerPayload(delivery: FailedDelivery, apiKey: string): FlowTriggerPayload {
  const short = (text: string) => cutToChars(text, MAX_OTHER_FIELD_CHARS);
  const payload: FlowTriggerPayload = {
    [FLOW_TRIGGER_FIELDS.eventType]: short(delivery.eventType),
    [FLOW_TRIGGER_FIELDS.source]: short(delivery.topic === FLOW_ACTION_TOPIC ? FLOW_SOURCE : delivery.topic),
    [FLOW_TRIGGER_FIELDS.orderName]: short(delivery.orderName ?? ""),
    [FLOW_TRIGGER_FIELDS.reason]: delivery.lastError ?? "The delivery failed; its page in the app shows its attempts.",
    [FLOW_TRIGGER_FIELDS.deliveryUrl]: deliveryUrl(delivery, apiKey),
  };
  return fitReason(payload);
}

/** The delivery's page in the embedded admin (app/routes/app.deliveries.$id.tsx). */
export function deliveryUrl(delivery: Pick<FailedDelivery, "id" | "shop">, apiKey: string): string {
  return `https://${delivery.shop}/admin/apps/${encodeURIComponent(apiKey)}/app/deliveries/${encodeURIComponent(delivery.id)}`;
}

export function payloadBytes(payload: FlowTriggerPayload): number {
  return Buffer.byteLength(JSON.stringify(payload), "utf8");
}

/** Cuts the Reason (whole characters, marked with an ellipsis) until the payload's JSON fits the limit. */
function fitReason(payload: FlowTriggerPayload): FlowTriggerPayload {
  if (payloadBytes(payload) <= MAX_FLOW_TRIGGER_PAYLOAD_BYTES) return payload;
  const key = FLOW_TRIGGER_FIELDS.reason;
  const chars = Array.from(payload[key]);
  const withReason = (count: number) => ({ ...payload, [key]: `${chars.slice(0, count).join("")}…` });
  // The longest prefix that fits; escaping makes bytes per character vary, so search rather than compute.
  let low = 0;
  let high = chars.length;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (payloadBytes(withReason(middle)) <= MAX_FLOW_TRIGGER_PAYLOAD_BYTES) low = middle;
    else high = middle - 1;
  }
  return withReason(low);
}

function cutToChars(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}

const triggerAnswer = z.object({
  data: z.object({
    flowTriggerReceive: z.object({ userErrors: z.array(z.object({ field: z.array(z.string()).nullish(), message: z.string() })) }).nullable(),
  }),
});

/** How Shopify answered one call. */
export function callEnd(answer: unknown): CallEnd {
  const parsed = triggerAnswer.safeParse(answer);
  if (!parsed.success || parsed.data.data.flowTriggerReceive === null) {
    return { kind: "retry", reason: "Shopify's Admin API answered flowTriggerReceive with an unexpected shape." };
  }
  const errors = parsed.data.data.flowTriggerReceive.userErrors;
  if (errors.length === 0) return { kind: "sent" };
  const messages = errors.map((error) => error.message.trim().replace(/\s+/g, " ")).join("; ");
  return {
    kind: "dropped",
    reason:
      `Shopify Flow refused the trigger: ${messages}. ` +
      "Check that the app version with the Attentive event failed trigger is deployed and the shop can use Shopify Flow.",
  };
}

/** How a call that threw ended: busy or unreachable Shopify is retried, a refusal is not. */
export function thrownEnd(error: unknown): CallEnd {
  const status = httpStatusOf(error);
  if (status !== undefined) {
    if (status === 429 || status >= 500) {
      const retryAfterMs = retryAfterOf(error);
      return { kind: "retry", reason: `Shopify's Admin API answered HTTP ${status}.`, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
    }
    return { kind: "dropped", reason: `Shopify's Admin API refused the trigger with HTTP ${status}.${adviceFor(status)}` };
  }
  const graphqlErrors = graphqlErrorsOf(error);
  if (graphqlErrors) {
    if (graphqlErrors.some((entry) => entry.code === "THROTTLED" || entry.code === "INTERNAL_SERVER_ERROR")) {
      return { kind: "retry", reason: `Shopify's Admin API was busy (${graphqlErrors.map((entry) => entry.code ?? entry.message).join(", ")}).` };
    }
    return { kind: "dropped", reason: `Shopify's Admin API refused the trigger: ${graphqlErrors.map((entry) => entry.message).join("; ")}` };
  }
  const name = error instanceof Error ? error.name : "unknown error";
  return { kind: "retry", reason: `Shopify's Admin API could not be reached (${name}).` };
}

function adviceFor(status: number): string {
  if (status === 401 || status === 403) return " The app's access to the shop was revoked: open the app in Shopify admin to grant it again.";
  if (status === 402) return " The shop is frozen for an unpaid bill.";
  if (status === 404) return " The shop no longer exists.";
  return "";
}

/** shopify-api's HttpThrottlingError keeps Retry-After (seconds) on its response. */
function retryAfterOf(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null || !("response" in error)) return undefined;
  const response: unknown = error.response;
  if (typeof response !== "object" || response === null || !("retryAfter" in response)) return undefined;
  const seconds = Number(response.retryAfter);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1_000 : undefined;
}

const graphqlErrorList = z.array(z.object({ message: z.string(), extensions: z.object({ code: z.string().optional() }).passthrough().optional() }));

/** shopify-api's GraphqlQueryError (an HTTP 200 carrying `errors`): its messages and codes. */
function graphqlErrorsOf(error: unknown): Array<{ message: string; code: string | undefined }> | null {
  if (typeof error !== "object" || error === null || !("body" in error)) return null;
  const body: unknown = error.body;
  if (typeof body !== "object" || body === null || !("errors" in body)) return null;
  const errors: unknown = body.errors;
  const list = typeof errors === "object" && errors !== null && "graphQLErrors" in errors ? errors.graphQLErrors : errors;
  const parsed = graphqlErrorList.safeParse(list);
  if (!parsed.success || parsed.data.length === 0) return null;
  return parsed.data.map((entry) => ({ message: entry.message, code: entry.extensions?.code }));
}

/** The failed delivery the row announces, or why the row is no longer worth a call. */
async function checkRow(config: Resolved, row: { deliveryId: string | null; createdAt: Date; shop: string }): Promise<{ reason: string } | { delivery: FailedDelivery }> {
  if (row.deliveryId === null) return { reason: "The row names no delivery." };
  const [delivery, shop] = await Promise.all([
    config.prisma.delivery.findUnique({
      where: { id: row.deliveryId },
      select: { id: true, shop: true, topic: true, eventType: true, orderName: true, lastError: true, status: true, finishedAt: true },
    }),
    config.prisma.shop.findUnique({ where: { domain: row.shop }, select: { uninstalledAt: true } }),
  ]);
  if (!delivery || delivery.shop !== row.shop) {
    return { reason: "The delivery was deleted (log retention or the shop's data erasure) before the trigger was sent." };
  }
  if (delivery.status !== "failed") {
    return { reason: `The delivery was retried before the trigger was sent; it is ${delivery.status} now.` };
  }
  // The outbox row is written with the failure; a failure written later has its own row, which says the same, newer.
  if (delivery.finishedAt && delivery.finishedAt.getTime() > row.createdAt.getTime()) {
    return { reason: "The delivery failed again after a retry; the trigger for that later failure is sent instead." };
  }
  if (!shop || shop.uninstalledAt) return { reason: "The app was uninstalled from the shop." };
  return { delivery };
}

async function call(config: Resolved, delivery: FailedDelivery): Promise<CallEnd> {
  let admin: TriggerAdminClient;
  try {
    ({ admin } = await config.adminForShop(delivery.shop));
  } catch (error) {
    if (error instanceof SessionNotFoundError) {
      return { kind: "dropped", reason: "The app has no offline session for the shop: it was uninstalled, or must be opened in Shopify admin once to reinstall it." };
    }
    return { kind: "retry", reason: `The shop's session could not be loaded (${error instanceof Error ? error.name : "unknown error"}).` };
  }
  let answer: unknown;
  try {
    const response = await admin.graphql(FLOW_TRIGGER_MUTATION, {
      variables: { handle: FLOW_TRIGGER_HANDLE, payload: flowTriggerPayload(delivery, config.apiKey) },
      signal: AbortSignal.timeout(config.callTimeoutMs),
    });
    answer = await response.json();
  } catch (error) {
    return thrownEnd(error);
  }
  return callEnd(answer);
}

/** The wait before the next call: doubling from the base with equal jitter, at least Retry-After, at most the cap. */
function retryDelayMs(policy: TriggerRetryPolicy, attempts: number, random: () => number, retryAfterMs: number | undefined): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(30, Math.max(0, attempts - 1)));
  const jitter = Math.min(1, Math.max(0, random() || 0));
  const delay = exponential / 2 + (exponential / 2) * jitter;
  return Math.min(policy.maxDelayMs, Math.max(delay, retryAfterMs ?? 0));
}

interface Claimed {
  id: string;
  shop: string;
  deliveryId: string | null;
  attempts: number;
  createdAt: Date;
}

const CLAIM_SELECT = { id: true, shop: true, deliveryId: true, attempts: true, createdAt: true } as const;

/** Claims up to a batch of due rows: each by a conditional update, so a row another sender took is skipped. */
async function claim(config: Resolved): Promise<Claimed[]> {
  const now = config.now();
  const due = { kind: DELIVERY_FAILED_TRIGGER, status: "pending", nextAttemptAt: { lte: now }, OR: [{ leaseExpiresAt: null }, { leaseExpiresAt: { lte: now } }] };
  const rows = await config.prisma.flowTrigger.findMany({ where: due, orderBy: { nextAttemptAt: "asc" }, take: config.batchSize, select: CLAIM_SELECT });
  await config.hooks?.afterRead?.();
  const claimed: Claimed[] = [];
  for (const row of rows) {
    const taken = await config.prisma.flowTrigger.updateMany({
      where: { id: row.id, ...due },
      data: { leaseOwner: config.senderId, leaseExpiresAt: new Date(now.getTime() + config.leaseMs), attempts: { increment: 1 } },
    });
    if (taken.count === 1) claimed.push({ ...row, attempts: row.attempts + 1 });
  }
  return claimed;
}

/** Records how the row's call ended, only while this sender still holds its lease. */
async function record(config: Resolved, row: Claimed, end: CallEnd): Promise<keyof TriggerPassResult> {
  const now = config.now();
  const mine = { id: row.id, leaseOwner: config.senderId, status: "pending" };
  const released = { leaseOwner: null, leaseExpiresAt: null };
  const log = { flowTriggerId: row.id, shop: row.shop, deliveryId: row.deliveryId, attempts: row.attempts };
  const write = async (data: { status?: "sent" | "dropped"; sentAt?: Date; lastError: string | null; nextAttemptAt?: Date }) => {
    const { count } = await config.prisma.flowTrigger.updateMany({ where: mine, data: { ...released, ...data } });
    if (count === 0) config.logger.warn(log, "Flow trigger's lease ran out before its result was recorded; another sender may call again");
  };
  if (end.kind === "sent") {
    await write({ status: "sent", sentAt: now, lastError: null });
    config.logger.info(log, "Flow trigger sent: the delivery's failure was announced to Shopify Flow");
    return "sent";
  }
  const gaveUp = end.kind === "retry" && now.getTime() - row.createdAt.getTime() >= config.retry.giveUpAfterMs;
  if (end.kind === "dropped" || gaveUp) {
    const hours = Math.round(config.retry.giveUpAfterMs / 3_600_000);
    const reason = end.kind === "dropped" ? end.reason : `Shopify did not take the trigger within ${hours} hours; the last try said: ${end.reason}`;
    await write({ status: "dropped", lastError: reason });
    config.logger.warn({ ...log, reason }, "Flow trigger dropped: the delivery's failure was not announced to Shopify Flow");
    return "dropped";
  }
  const delayMs = retryDelayMs(config.retry, row.attempts, config.random, end.retryAfterMs);
  await write({ nextAttemptAt: new Date(now.getTime() + delayMs), lastError: end.reason });
  config.logger.warn({ ...log, reason: end.reason, retryInMs: Math.round(delayMs) }, "Flow trigger not sent yet; will try again");
  return "retrying";
}

async function sendOne(config: Resolved, row: Claimed): Promise<keyof TriggerPassResult> {
  const checked = await checkRow(config, row);
  const end: CallEnd = "reason" in checked ? { kind: "dropped", reason: checked.reason } : await call(config, checked.delivery);
  return record(config, row, end);
}

const MAX_BATCHES_PER_PASS = 20;

/**
 * One pass: claims due rows a batch at a time until none is left, and sends each. A row whose processing throws
 * (the database went away) is left to its lease and taken again when it expires.
 */
export async function sendDueFlowTriggers(options: TriggerSenderOptions): Promise<TriggerPassResult> {
  const config = resolve(options);
  const result: TriggerPassResult = { sent: 0, dropped: 0, retrying: 0 };
  // Bounded: a policy without delay (tests) would make a retried row due again within the same pass.
  for (let batch = 0; batch < MAX_BATCHES_PER_PASS; batch++) {
    const claimed = await claim(config);
    let next = 0;
    const lanes = Array.from({ length: Math.min(config.concurrency, claimed.length) }, async () => {
      while (next < claimed.length) {
        const row = claimed[next++]!;
        try {
          result[await sendOne(config, row)] += 1;
        } catch (error) {
          config.logger.error(
            { flowTriggerId: row.id, err: error instanceof Error ? error.name : "unknown error" },
            "Flow trigger could not be processed; it is taken again when its lease expires",
          );
        }
      }
    });
    await Promise.all(lanes);
    if (claimed.length < config.batchSize) break;
  }
  config.hooks?.afterPass?.(result);
  return result;
}

/** Deletes up to `limit` sent or dropped rows created before `before`; returns how many. */
export async function pruneFinishedFlowTriggers(prisma: Database, before: Date, limit = 500): Promise<number> {
  const rows = await prisma.flowTrigger.findMany({ where: { status: { in: ["sent", "dropped"] }, createdAt: { lt: before } }, select: { id: true }, take: limit });
  if (rows.length === 0) return 0;
  const deleted = await prisma.flowTrigger.deleteMany({ where: { id: { in: rows.map((row) => row.id) }, status: { in: ["sent", "dropped"] } } });
  return deleted.count;
}

const PRUNE_EVERY_MS = 60 * 60_000;

/**
 * The sender as a periodic job: a pass every `intervalMs` (retries and rows a crashed process left), and one as soon
 * as an outcome write in this process queued a trigger. Old finished rows are pruned about once an hour.
 */
export function startFlowTriggerSender(options: TriggerSenderOptions & { intervalMs: number; firstDelayMs?: number }): PeriodicJob {
  const config = resolve(options);
  let lastPruneAt = 0;
  const job = startPeriodicJob(
    "flow-trigger",
    config.logger,
    options.intervalMs,
    async () => {
      await sendDueFlowTriggers(config);
      const now = config.now().getTime();
      if (now - lastPruneAt >= PRUNE_EVERY_MS) {
        lastPruneAt = now;
        await pruneFinishedFlowTriggers(config.prisma, new Date(now - config.keepFinishedMs));
      }
    },
    options.firstDelayMs,
  );
  const unsubscribe = onFlowTriggerQueued(() => job.wake());
  return {
    async stop() {
      unsubscribe();
      await job.stop();
    },
  };
}
