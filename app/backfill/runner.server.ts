/**
 * Does a history backfill's work, a step at a time, from its Backfill row (docs/decisions/016-history-backfill.md):
 *
 * - queued: asks Shopify for a bulk operation over the range's orders (bulkOperationRunQuery);
 * - querying: polls it (bulkOperation(id:)) every `pollMs` until it completes, fails or expires;
 * - reading: reads its JSONL result from the last whole order read, turns each order into the events of the chosen
 *   mappings' topics (each topic's `history` in the catalog) and records them as the webhook path does (same event
 *   key, so the same externalEventId: a live webhook of the same fact is a duplicate, and the other way round). It
 *   stops reading while `highWater` of its deliveries wait to be sent, and saves its place after every
 *   `ordersPerWrite` orders, so a crash re-reads at most those (their events are duplicates then);
 * - sending: everything is recorded; it completes when none of its deliveries waits.
 *
 * A step runs under a lease on the row, so two processes never work on one backfill; pausing or cancelling changes
 * the row's status, which ends a step at its next save.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { z } from "zod";
import type { Database } from "~/db.server";
import { startPeriodicJob, type WakeablePeriodicJob } from "~/jobs/periodic-job.server";
import { fulfillmentBody } from "~/shopify/admin-order";
import { httpStatusOf, type AdminForShop, type AdminGraphqlClient } from "~/shopify/order-lookup.server";
import { CATALOG, isMappableTopic, type MappableTopic } from "~/topics/catalog";
import type { ReconciledEvent } from "~/topics/entry";
import { historyBulkQuery, OrderAssembler, parseHistoryOrder, type HistoryOrder, type Line } from "~/topics/history-order";
import { reconciledOrderBody } from "~/topics/reconcile-order";
import { ingestStoreOf } from "~/webhooks/ingest-store.server";
import { errorSummary, recordWebhook } from "~/webhooks/receive.server";
import { BACKFILL_ORDER_TOPIC } from "./constants";
import { JsonlReadError, jsonlLines } from "./jsonl.server";

export interface BackfillRunnerOptions {
  prisma: Database;
  adminForShop: AdminForShop;
  logger: Logger;
  /** The Admin API version the bulk query is written for (recorded with each event, like a webhook's). */
  apiVersion: string;
  /** Between two checks of a running bulk operation. */
  pollMs?: number;
  /** Deliveries of a backfill waiting to be sent above which it stops reading. */
  highWater?: number;
  /** Orders recorded together, and between two saves of the place reached. */
  ordersPerWrite?: number;
  /** Longest a step reads before it saves and lets the next backfill have a turn. */
  readSliceMs?: number;
  /** A result download that sends nothing for this long is dropped and started again from the last order read. */
  idleMs?: number;
  maxLineBytes?: number;
  leaseMs?: number;
  onRecorded?: () => void;
  now?: () => Date;
  fetch?: typeof fetch;
}

type Resolved = Required<Omit<BackfillRunnerOptions, "onRecorded" | "fetch">> & Pick<BackfillRunnerOptions, "onRecorded" | "fetch"> & { owner: string };

function resolve(options: BackfillRunnerOptions): Resolved {
  return {
    pollMs: 5_000,
    highWater: 2_000,
    ordersPerWrite: 100,
    readSliceMs: 20_000,
    idleMs: 60_000,
    maxLineBytes: 16 * 1024 * 1024,
    // A step saves at least every ordersPerWrite orders, renewing it; a crashed process's backfill resumes after it.
    leaseMs: 30_000,
    now: () => new Date(),
    ...options,
    owner: `backfill-${randomUUID()}`,
  };
}

/** Bad lines whose number and reason are kept for the merchant (all are counted). */
const BAD_LINE_SAMPLES = 20;
/** Times a broken-off download is started again from the last order read within one step. */
const DOWNLOAD_RETRIES = 3;
/** Waits after an Admin API or download failure: doubling from the first, up to the last. */
const RETRY_FIRST_MS = 5_000;
const RETRY_MAX_MS = 10 * 60_000;

type Row = NonNullable<Awaited<ReturnType<Database["backfill"]["findUnique"]>>>;

class StepError extends Error {
  override name = "StepError";
  constructor(
    message: string,
    readonly terminal: boolean,
  ) {
    super(message);
  }
}

/** Runs one step of every backfill that is due; answers how many it ran. */
export async function runDueBackfills(options: BackfillRunnerOptions): Promise<number> {
  return runDue(resolve(options));
}

async function runDue(config: Resolved): Promise<number> {
  const now = config.now();
  const due = await config.prisma.backfill.findMany({
    where: { status: { in: ["queued", "querying", "reading", "sending"] }, nextRunAt: { lte: now } },
    orderBy: { nextRunAt: "asc" },
    select: { id: true },
    take: 50,
  });
  let ran = 0;
  for (const { id } of due) {
    const row = await lease(config, id);
    if (!row) continue;
    ran++;
    await step(config, row);
  }
  return ran;
}

async function lease(config: Resolved, id: string): Promise<Row | null> {
  const now = config.now();
  const taken = await config.prisma.backfill.updateMany({
    where: { id, status: { in: ["queued", "querying", "reading", "sending"] }, OR: [{ leaseExpiresAt: null }, { leaseExpiresAt: { lt: now } }] },
    data: { leaseOwner: config.owner, leaseExpiresAt: new Date(now.getTime() + config.leaseMs) },
  });
  if (taken.count === 0) return null;
  return config.prisma.backfill.findUnique({ where: { id } });
}

/** Saves what a step changed, only while this runner still holds the lease and the status is `from`. */
async function save(config: Resolved, row: Row, from: string, data: Parameters<Database["backfill"]["updateMany"]>[0]["data"], keepLease = false): Promise<boolean> {
  const now = config.now();
  const changed = await config.prisma.backfill.updateMany({
    where: { id: row.id, leaseOwner: config.owner, status: from },
    data: { ...data, updatedAt: now, ...(keepLease ? { leaseExpiresAt: new Date(now.getTime() + config.leaseMs) } : { leaseOwner: null, leaseExpiresAt: null }) },
  });
  return changed.count === 1;
}

async function release(config: Resolved, row: Row) {
  await config.prisma.backfill.updateMany({ where: { id: row.id, leaseOwner: config.owner }, data: { leaseOwner: null, leaseExpiresAt: null } });
}

function finished(config: Resolved, status: "completed" | "failed", lastError: string | null) {
  return { status, activeShop: null, finishedAt: config.now(), lastError };
}

async function step(config: Resolved, row: Row): Promise<void> {
  try {
    if (row.status === "queued") await startBulkOperation(config, row);
    else if (row.status === "querying") await pollBulkOperation(config, row);
    else if (row.status === "reading") await readResult(config, row);
    else if (row.status === "sending") await finishWhenSent(config, row);
    else await release(config, row);
  } catch (error) {
    const terminal = error instanceof StepError && error.terminal;
    const message = error instanceof StepError ? error.message : errorSummary(error).message;
    config.logger.warn({ backfillId: row.id, shop: row.shop, status: row.status, err: message, terminal }, "backfill step did not finish");
    if (terminal) {
      await save(config, row, row.status, finished(config, "failed", message));
      return;
    }
    const waited = row.nextRunAt.getTime() - row.updatedAt.getTime();
    const wait = Math.min(RETRY_MAX_MS, Math.max(RETRY_FIRST_MS, row.lastError ? waited * 2 : RETRY_FIRST_MS));
    await save(config, row, row.status, { lastError: `${message} (trying again in ${Math.round(wait / 1000)} s)`, nextRunAt: new Date(config.now().getTime() + wait) });
  } finally {
    // A save refused because the merchant paused (or cancelled) meanwhile leaves the lease: let go of it, or a
    // resumed backfill would wait for the lease to run out before its next step.
    await release(config, row);
  }
}

async function adminOf(config: Resolved, shop: string): Promise<AdminGraphqlClient> {
  try {
    return (await config.adminForShop(shop)).admin;
  } catch {
    throw new StepError("The app has no access to the shop's orders (no offline session): open the app in Shopify admin, then start the backfill again.", true);
  }
}

const graphqlErrors = z.object({ errors: z.array(z.object({ message: z.string() })).min(1) });

async function adminQuery(admin: AdminGraphqlClient, document: string, variables: Record<string, unknown>): Promise<unknown> {
  let payload: unknown;
  try {
    payload = await (await admin.graphql(document, { variables })).json();
  } catch (error) {
    const status = httpStatusOf(error);
    throw new StepError(`Shopify's Admin API did not answer${status === undefined ? "" : ` (HTTP ${status})`}`, false);
  }
  const errors = graphqlErrors.safeParse(payload);
  if (errors.success) {
    const text = errors.data.errors.map((e) => e.message).join("; ");
    throw new StepError(`Shopify's Admin API refused the backfill's request: ${text}`, !/throttl/i.test(text));
  }
  return payload;
}

const runQueryAnswer = z.object({
  data: z.object({
    bulkOperationRunQuery: z.object({
      bulkOperation: z.object({ id: z.string(), status: z.string() }).nullable(),
      userErrors: z.array(z.object({ message: z.string() })),
    }),
  }),
});

export const BULK_RUN_QUERY = `#graphql
  mutation BackfillBulkQuery($query: String!) {
    bulkOperationRunQuery(query: $query, groupObjects: true) {
      bulkOperation { id status }
      userErrors { field message }
    }
  }`;

async function startBulkOperation(config: Resolved, row: Row) {
  const admin = await adminOf(config, row.shop);
  const answer = runQueryAnswer.safeParse(await adminQuery(admin, BULK_RUN_QUERY, { query: historyBulkQuery({ since: row.since, until: row.until }) }));
  if (!answer.success) throw new StepError("Shopify's Admin API answered the bulk query with an unexpected shape", false);
  const { bulkOperation, userErrors } = answer.data.data.bulkOperationRunQuery;
  if (userErrors.length > 0 || !bulkOperation) {
    const text = userErrors.map((e) => e.message).join("; ") || "no bulk operation was created";
    // Shopify runs a limited number of bulk queries per app and shop: another one (ours or not) may hold the slot.
    throw new StepError(`Shopify did not start the bulk query: ${text}`, !/in progress|already/i.test(text));
  }
  await save(config, row, "queued", { status: "querying", bulkOperationId: bulkOperation.id, bulkStatus: bulkOperation.status, lastError: null, nextRunAt: new Date(config.now().getTime() + config.pollMs) });
}

const bulkOperationAnswer = z.object({
  data: z.object({
    bulkOperation: z
      .object({
        id: z.string(),
        status: z.string(),
        errorCode: z.string().nullish(),
        objectCount: z.union([z.string(), z.number()]).nullish(),
        url: z.string().nullish(),
      })
      .nullable(),
  }),
});

export const BULK_OPERATION_QUERY = `#graphql
  query BackfillBulkOperation($id: ID!) {
    bulkOperation(id: $id) { id status errorCode objectCount url }
  }`;

async function pollBulkOperation(config: Resolved, row: Row) {
  const admin = await adminOf(config, row.shop);
  const answer = bulkOperationAnswer.safeParse(await adminQuery(admin, BULK_OPERATION_QUERY, { id: row.bulkOperationId }));
  if (!answer.success) throw new StepError("Shopify's Admin API answered the bulk operation's status with an unexpected shape", false);
  const operation = answer.data.data.bulkOperation;
  if (!operation) throw new StepError("Shopify no longer knows the backfill's bulk operation: start the backfill again.", true);
  const objectCount = Number(operation.objectCount ?? 0) || 0;
  switch (operation.status) {
    case "COMPLETED":
      // No url: the range holds no orders.
      await save(config, row, "querying", {
        status: operation.url ? "reading" : "sending",
        bulkStatus: operation.status,
        objectCount,
        resultUrl: operation.url ?? null,
        lastError: null,
        nextRunAt: config.now(),
      });
      return;
    case "FAILED":
      throw new StepError(`Shopify's bulk operation failed (${operation.errorCode ?? "no reason given"}): start the backfill again${operation.errorCode === "ACCESS_DENIED" ? " after granting the app access to the orders" : ""}.`, true);
    case "EXPIRED":
      throw new StepError("Shopify's bulk operation result expired before it was read (Shopify keeps it 7 days): start the backfill again.", true);
    case "CANCELED":
    case "CANCELING":
      throw new StepError("The backfill's bulk operation was cancelled in Shopify: start the backfill again.", true);
    default:
      await save(config, row, "querying", { bulkStatus: operation.status, objectCount, lastError: null, nextRunAt: new Date(config.now().getTime() + config.pollMs) });
  }
}

async function waitingDeliveries(config: Resolved, backfillId: string): Promise<number> {
  return config.prisma.delivery.count({ where: { backfillId, status: { in: ["pending", "sending"] } } });
}

async function finishWhenSent(config: Resolved, row: Row) {
  if ((await waitingDeliveries(config, row.id)) > 0) {
    await save(config, row, "sending", { nextRunAt: new Date(config.now().getTime() + config.pollMs) });
    return;
  }
  await save(config, row, "sending", finished(config, "completed", null));
}

interface Batch {
  orders: Array<{ line: Line; lineNumber: number }>;
  bad: Array<{ line: number; reason: string }>;
}

/** Reads the result from the saved place; see the module comment. */
async function readResult(config: Resolved, row: Row) {
  const waiting = await waitingDeliveries(config, row.id);
  if (waiting >= config.highWater) {
    // The worker is behind: read on once it has sent some (checked again shortly).
    await save(config, row, "reading", { nextRunAt: new Date(config.now().getTime() + Math.min(config.pollMs, 1_000)) });
    return;
  }
  const reader = new ResultReader(config, row, config.highWater - waiting);
  let attempt = 0;
  for (;;) {
    try {
      const outcome = await reader.read();
      if (outcome === "stopped") return;
      if (outcome === "end") {
        await save(config, row, "reading", { status: "sending", nextRunAt: config.now(), lastError: null });
        return;
      }
      // "more": this step's share is read; the next one goes on.
      await save(config, row, "reading", { nextRunAt: config.now(), lastError: null });
      return;
    } catch (error) {
      if (!(error instanceof JsonlReadError)) throw error;
      if (error.gone) throw new StepError(`The bulk operation's result can no longer be read (${error.message}): start the backfill again.`, true);
      // Broken off: start again from the last order saved.
      if (++attempt > DOWNLOAD_RETRIES) throw new StepError(`Reading the bulk operation's result failed ${attempt} times in a row (${error.message})`, false);
      config.logger.warn({ backfillId: row.id, shop: row.shop, err: error.message, attempt }, "backfill result download broke off; reading again from the last order saved");
    }
  }
}

/** What one reading step holds: the place saved, the mappings by topic, and what it recorded. */
class ResultReader {
  private readonly topics: MappableTopic[];
  private readonly mappingIds: ReadonlySet<string>;
  private readonly needsOrderSnapshot: boolean;
  private recorded = 0;
  private readonly startedAt: number;
  constructor(
    private readonly config: Resolved,
    private readonly row: Row,
    private readonly budget: number,
  ) {
    this.topics = (JSON.parse(row.topics) as string[]).filter(isMappableTopic);
    this.mappingIds = new Set(JSON.parse(row.mappingIds) as string[]);
    this.needsOrderSnapshot = this.topics.some((topic) => CATALOG[topic].needs.order === "lookup");
    this.startedAt = config.now().getTime();
  }

  async read(): Promise<"end" | "more" | "stopped"> {
    const { row, config } = this;
    const assembler = new OrderAssembler();
    let batch: Batch = { orders: [], bad: [] };
    let current: { lineNumber: number; start: number } | null = null;
    // The place after the last order saved, and the lines before it.
    const place = { offset: row.byteOffset, lines: row.linesRead };
    let lineNumber = row.linesRead;
    for await (const line of jsonlLines(row.resultUrl!, { offset: place.offset, idleMs: config.idleMs, maxLineBytes: config.maxLineBytes, ...(config.fetch ? { fetch: config.fetch } : {}) })) {
      lineNumber++;
      if (line.text === null) {
        batch.bad.push({ line: lineNumber, reason: `longer than ${config.maxLineBytes} bytes` });
        continue;
      }
      if (line.text.trim() === "") continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line.text);
      } catch {
        batch.bad.push({ line: lineNumber, reason: "not JSON" });
        continue;
      }
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        batch.bad.push({ line: lineNumber, reason: "not a JSON object" });
        continue;
      }
      const object = parsed as Line;
      if (!OrderAssembler.isOrderLine(object)) {
        const problem = assembler.addChild(object);
        if (problem) batch.bad.push({ line: lineNumber, reason: problem });
        continue;
      }
      // A new order: the one before it is whole.
      if (assembler.current && current) batch.orders.push({ line: assembler.current, lineNumber: current.lineNumber });
      if (batch.orders.length >= config.ordersPerWrite) {
        if (!(await this.flush(batch, { offset: line.start, lines: lineNumber - 1 }))) return "stopped";
        batch = { orders: [], bad: [] };
        if (this.recorded >= this.budget || config.now().getTime() - this.startedAt >= config.readSliceMs) return "more";
      }
      const problem = assembler.start(object);
      current = problem ? null : { lineNumber, start: line.start };
      if (problem) batch.bad.push({ line: lineNumber, reason: problem });
    }
    if (assembler.current && current) batch.orders.push({ line: assembler.current, lineNumber: current.lineNumber });
    return (await this.flush(batch, "end", lineNumber)) ? "end" : "stopped";
  }

  /** Records a batch of orders and saves the place after them; false when the backfill was paused or cancelled. */
  private async flush(batch: Batch, place: { offset: number; lines: number } | "end", endLines?: number): Promise<boolean> {
    const { row, config } = this;
    const bad = [...batch.bad];
    const recorded = await Promise.all(
      batch.orders.map(async ({ line, lineNumber }) => {
        const order = parseHistoryOrder(line);
        if (!order.ok) {
          bad.push({ line: lineNumber, reason: order.reason });
          return 0;
        }
        return this.recordOrder(order.order);
      }),
    );
    const added = recorded.reduce((sum, n) => sum + n, 0);
    this.recorded += added;
    if (added > 0) config.onRecorded?.();
    const samples = (JSON.parse(row.badLineSamples) as Array<{ line: number; reason: string }>).concat(bad).slice(0, BAD_LINE_SAMPLES);
    row.badLineSamples = JSON.stringify(samples);
    row.badLines += bad.length;
    row.ordersRead += batch.orders.length;
    if (place === "end") {
      row.linesRead = endLines ?? row.linesRead;
    } else {
      row.byteOffset = place.offset;
      row.linesRead = place.lines;
    }
    for (const sample of bad) config.logger.warn({ backfillId: row.id, shop: row.shop, line: sample.line, reason: sample.reason }, "backfill skipped a result line");
    return save(
      config,
      row,
      "reading",
      { byteOffset: row.byteOffset, linesRead: row.linesRead, ordersRead: row.ordersRead, badLines: row.badLines, badLineSamples: row.badLineSamples },
      true,
    );
  }

  /** Records one order's events for the chosen mappings; answers how many deliveries that made. */
  private async recordOrder(order: HistoryOrder): Promise<number> {
    const { row, config } = this;
    const events: Array<{ topic: MappableTopic; event: ReconciledEvent }> = [];
    for (const topic of this.topics) {
      const history = CATALOG[topic].history;
      if (history.kind !== "bulk") continue;
      for (const event of history.events(order)) {
        // What happened since the range's end is the live webhooks' (and the reconciliation's) to send.
        if (Date.parse(event.at) <= row.until.getTime()) events.push({ topic, event });
      }
    }
    if (events.length === 0) return 0;
    if (this.needsOrderSnapshot) await this.recordOrderSnapshot(order);
    let deliveries = 0;
    for (const { topic, event } of events) {
      const outcome = await recordWebhook(
        { prisma: config.prisma, authenticate: () => Promise.reject(new Error("not used")), now: config.now },
        {
          shop: row.shop,
          topic,
          webhookId: `backfill:${event.subjectId}`,
          apiVersion: config.apiVersion,
          triggeredAt: event.at,
          text: JSON.stringify(event.body),
          body: event.body,
          backfill: { id: row.id, mappingIds: this.mappingIds },
        },
      );
      if (outcome.kind === "recorded") deliveries += outcome.deliveries;
    }
    return deliveries;
  }

  /** The order as its events' templates and customer look-ups read it (app/shopify/order-lookup.server.ts). */
  private async recordOrderSnapshot(order: HistoryOrder) {
    const { row, config } = this;
    const body = {
      ...reconciledOrderBody(order),
      fulfillments: order.fulfillments.map((fulfillment) => fulfillmentBody(fulfillment, order.legacyResourceId)),
      source: "backfill",
    };
    const now = config.now();
    await ingestStoreOf(config.prisma).record({
      shop: row.shop,
      topic: BACKFILL_ORDER_TOPIC,
      eventKey: order.id,
      webhookId: `backfill:${order.id}`,
      eventId: null,
      apiVersion: config.apiVersion,
      triggeredAt: null,
      receivedAt: now,
      orderId: order.legacyResourceId,
      occurredAt: null,
      body: JSON.stringify(body),
    });
  }
}

/** Runs due backfill steps every `intervalMs`, and at once when woken (a backfill started or resumed). */
export function startBackfillRunner(options: BackfillRunnerOptions & { intervalMs: number; firstDelayMs?: number }): WakeablePeriodicJob {
  const config = resolve(options);
  return startPeriodicJob(
    "backfill",
    config.logger,
    options.intervalMs,
    async () => {
      // Steps that finish at once (a poll, a read slice) leave the next due now: run until none is due.
      for (let pass = 0; pass < 100; pass++) if ((await runDue(config)) === 0) return;
    },
    options.firstDelayMs ?? options.intervalMs,
  );
}
