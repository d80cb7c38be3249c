/**
 * The settle step: every write of a delivery's status after a claim goes through here
 * (docs/decisions/012-one-settle-step.md). The decision is `decideSettlement`, a pure
 * function; this module makes the text safe to store (no NUL, bounded), writes it under
 * the worker's lease, and makes sure a delivery Attentive accepted is never sent again
 * because its log detail could not be written.
 */
import type { Logger } from "pino";
import { MAX_STORED_BODY_BYTES } from "~/attentive/client.server";
import type { Database } from "~/db.server";
import type { ClaimedDelivery } from "./claim-store.server";
import { outcomeStoreOf, type OutcomeWrite } from "./outcome-store.server";
import { decideSettlement, type AttemptEnd, type RetryPolicy, type Settlement } from "./retry-policy";
import { describeUnexpected, storedBody, storedError, storedText, withoutNul } from "./stored-text";

export interface SettleContext {
  prisma: Database;
  workerId: string;
  logger: Logger;
  retry: RetryPolicy;
  random: () => number;
  now: () => Date;
}

/** What the log keeps of a send: the request (without the key) and what it was about. */
export interface SentRecord {
  request: string;
  stale: boolean;
  orderName: string | null;
  email: string | null;
  eventType: string;
}

/** Attentive's answer to the send, when there was one. */
export interface Answer {
  httpStatus: number | null;
  response: string | null;
}

export interface SettleDetail {
  /** When this attempt started; null when nothing was attempted (put back before the send). */
  startedAt: Date | null;
  sent?: SentRecord;
  answer?: Answer;
}

/** Order names and emails are short; anything longer is not one worth keeping whole. */
const MAX_STORED_FIELD_CHARS = 320;

/** The record of a send, safe to store on either database. */
export function storedSent(sent: SentRecord): SentRecord {
  return {
    // JSON.stringify escapes NUL inside strings already; a raw one can only come from elsewhere.
    request: withoutNul(sent.request),
    stale: sent.stale,
    orderName: sent.orderName === null ? null : storedText(sent.orderName, MAX_STORED_FIELD_CHARS),
    email: sent.email === null ? null : storedText(sent.email, MAX_STORED_FIELD_CHARS),
    eventType: storedText(sent.eventType, MAX_STORED_FIELD_CHARS),
  };
}

function attemptLabel(settlement: Settlement, end: AttemptEnd): string {
  if (end.kind === "rate-limited" && settlement.status === "pending" && !settlement.spendsAttempt) return "rate limited";
  if (end.kind === "unexpected") return "unexpected failure";
  if (settlement.status === "failed" || settlement.status === "pending") return `${settlement.errorKind} failure`;
  return settlement.status;
}

/** The settlement as the outcome store writes it, every text made safe. */
function outcomeWrite(ctx: SettleContext, delivery: ClaimedDelivery, end: AttemptEnd, settlement: Settlement, detail: SettleDetail): OutcomeWrite {
  const at = ctx.now();
  const response = detail.answer?.response == null ? null : storedBody(detail.answer.response, MAX_STORED_BODY_BYTES);
  const reason = storedError(settlement.reason);
  const base = {
    deliveryId: delivery.id,
    workerId: ctx.workerId,
    at,
    lastError: reason,
    errorKind: settlement.errorKind,
    ...(detail.sent ? { sent: storedSent(detail.sent) } : {}),
    attempt:
      detail.startedAt === null
        ? null
        : {
            number: delivery.attempts,
            startedAt: detail.startedAt,
            durationMs: Math.max(0, at.getTime() - detail.startedAt.getTime()) || 0,
            outcome: attemptLabel(settlement, end),
            httpStatus: detail.answer?.httpStatus ?? null,
            error: reason,
            response: settlement.status === "skipped" ? null : response,
          },
  };
  switch (settlement.status) {
    case "delivered":
      return { ...base, status: "delivered", finishedAt: settlement.finishedAt, response };
    case "skipped":
      return { ...base, status: "skipped", finishedAt: settlement.finishedAt };
    case "failed":
      return { ...base, status: "failed", finishedAt: settlement.finishedAt, response };
    case "pending":
      return {
        ...base,
        status: "pending",
        nextAttemptAt: settlement.nextAttemptAt,
        ...(settlement.spendsAttempt ? {} : { givesBackAttempt: true }),
        ...(detail.answer ? { response } : {}),
      };
  }
}

/** The same outcome without any detail: what is written when the detail cannot be. */
function minimalWrite(write: OutcomeWrite): OutcomeWrite {
  const { sent: _sent, response: _response, ...rest } = write;
  return { ...rest, attempt: write.attempt && { ...write.attempt, response: null } };
}

/**
 * Decides what the delivery becomes and writes it, with its attempt row, while this worker
 * still holds its lease. Returns the settlement (the worker uses a rate limit's shop
 * cooldown), or null when the lease was no longer this worker's and nothing was written.
 *
 * A delivered outcome never throws: Attentive has the event, so a failure to write the
 * log detail falls back to writing the status alone, and if even that fails it is logged
 * and left to the lease (never to a path that would schedule another send).
 */
export async function settle(ctx: SettleContext, delivery: ClaimedDelivery, end: AttemptEnd, detail: SettleDetail): Promise<Settlement | null> {
  const settlement = decideSettlement({ attempt: delivery.attempts, end, policy: ctx.retry, random: ctx.random, now: ctx.now() });
  const write = outcomeWrite(ctx, delivery, end, settlement, detail);
  const store = outcomeStoreOf(ctx.prisma);
  let written: boolean;
  try {
    written = await store.finish(write);
  } catch (error) {
    const problem = describeUnexpected(error);
    ctx.logger.error(
      { deliveryId: delivery.id, status: write.status, err: problem.summary },
      "could not write the delivery's outcome with its detail; writing the outcome alone",
    );
    try {
      written = await store.finish(minimalWrite(write));
    } catch (fallbackError) {
      if (write.status !== "delivered") throw fallbackError;
      ctx.logger.error(
        { deliveryId: delivery.id, err: describeUnexpected(fallbackError).summary },
        "Attentive accepted this event but the app could not record it; it may be sent again (same externalEventId) when its lease runs out",
      );
      return null;
    }
  }
  if (!written) {
    ctx.logger.warn({ deliveryId: delivery.id, status: write.status }, "the delivery's lease was no longer this worker's: its outcome was not written");
    return null;
  }
  ctx.logger.info({ deliveryId: delivery.id, shop: delivery.shop, status: write.status, attempt: delivery.attempts }, "delivery processed");
  return settlement;
}

/**
 * Something this code did not expect (a database blip, an unreadable row, a bug): it is
 * retried within the same budget as a failed send, then the delivery ends failed. The
 * reason says what kind of problem it was, never a database error's text (it can quote a
 * customer's email), and does not blame the mapping for the database. If even this write
 * fails (the database is gone), the lease expires and a later pass takes the delivery again.
 */
export async function settleUnexpected(ctx: SettleContext, delivery: ClaimedDelivery, error: unknown, startedAt: Date | null): Promise<void> {
  const problem = describeUnexpected(error);
  ctx.logger.error({ deliveryId: delivery.id, err: problem.summary }, "delivery processing failed unexpectedly");
  const reason = problem.database
    ? `The app could not save this delivery's progress in its database (${problem.summary}).`
    : `The app could not process this delivery (${problem.summary}).`;
  try {
    await settle(ctx, delivery, { kind: "unexpected", reason, database: problem.database }, { startedAt });
  } catch (writeError) {
    ctx.logger.error(
      { deliveryId: delivery.id, err: describeUnexpected(writeError).summary },
      "could not record the failure; the lease will expire and the delivery be taken again",
    );
  }
}

/**
 * Before a send late in a long pass: extends the lease and records what is about to be
 * sent. False when the lease already ran out (another worker may have taken the delivery):
 * the delivery is given up to it, and nothing is sent.
 */
export async function renewLease(ctx: SettleContext, delivery: ClaimedDelivery, leaseMs: number, sent: SentRecord): Promise<boolean> {
  const now = ctx.now();
  const renewed = await ctx.prisma.delivery.updateMany({
    where: { id: delivery.id, leaseOwner: ctx.workerId, status: "sending", leaseExpiresAt: { gt: now } },
    data: { ...storedSent(sent), leaseExpiresAt: new Date(now.getTime() + leaseMs) },
  });
  if (renewed.count === 1) return true;
  ctx.logger.warn({ deliveryId: delivery.id }, "the delivery's lease ran out before its send: left to whoever takes it");
  return false;
}

/**
 * Gives back claimed deliveries that were never sent (a stopping worker's, waiting for a lane): pending again, due
 * as before, without the attempt their claim counted, for whichever worker claims next.
 */
export async function releaseUnsent(ctx: SettleContext, ids: string[]): Promise<number> {
  const released = await ctx.prisma.delivery.updateMany({
    where: { id: { in: ids }, leaseOwner: ctx.workerId, status: "sending" },
    data: { status: "pending", leaseOwner: null, leaseExpiresAt: null, attempts: { decrement: 1 } },
  });
  return released.count;
}
