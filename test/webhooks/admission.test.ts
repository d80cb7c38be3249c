/**
 * The bound on webhooks held at once (decision 034): the counting itself, its configuration, and where the webhook
 * path applies it (after the body is read, before the HMAC, released whatever the answer). The production server
 * under a held SQLite lock is test/reliability/ingest-overload.suite.ts.
 */
import { describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { DEFAULT_SQLITE_LOCK_WAIT_MS, sqliteLockWaitMsFrom } from "~/webhooks/ingest-store.server";
import {
  admissionLimitsFrom,
  DEFAULT_INGEST_MAX_WAITING,
  DEFAULT_INGEST_MAX_WAITING_MB,
  IngestAdmission,
  REFUSAL_LOG_INTERVAL_MS,
  type RefusalReport,
} from "~/webhooks/admission";
import { OVERLOADED, receiveWebhook, fetchWebhookRequest, type AuthenticatedWebhook, type WebhookRequest } from "~/webhooks/receive.server";
import { WEBHOOK_ROUTES } from "~/webhooks/topics";
import { verifyShopifyWebhook } from "~/shopify/webhook-hmac.server";
import { loadOrderId, orderBody } from "../support/load";
import { signedWebhookRequest, TEST_SECRET } from "../support/webhooks";

const MB = 1024 * 1024;

describe("IngestAdmission", () => {
  it("holds up to the count, refuses the next, and takes one again once a place is left", () => {
    const admission = new IngestAdmission({ maxWaiting: 3, maxWaitingBytes: 100 * MB });
    const leaves = [admission.admit(10), admission.admit(10), admission.admit(10)];
    expect(leaves.every((leave) => leave !== null)).toBe(true);
    expect(admission.admit(10)).toBeNull();
    expect(admission.stats()).toEqual({ waiting: 3, waitingBytes: 30, refused: 1 });
    leaves[1]!();
    expect(admission.stats()).toMatchObject({ waiting: 2, waitingBytes: 20 });
    expect(admission.admit(10)).not.toBeNull();
    expect(admission.admit(10)).toBeNull();
    expect(admission.stats().refused).toBe(2);
  });

  it("refuses a body that would take the held bytes past their limit, but never one that arrives alone", () => {
    const admission = new IngestAdmission({ maxWaiting: 100, maxWaitingBytes: 1 * MB });
    const first = admission.admit(600 * 1024)!;
    expect(first).not.toBeNull();
    expect(admission.admit(500 * 1024)).toBeNull();
    // Exactly at the limit is within it.
    const second = admission.admit(424 * 1024);
    expect(second).not.toBeNull();
    expect(admission.stats().waitingBytes).toBe(1 * MB);
    first();
    second!();
    // Larger than the whole limit, but nothing else is held: admitted, so it can still be recorded.
    const huge = admission.admit(2 * MB);
    expect(huge).not.toBeNull();
    expect(admission.admit(1)).toBeNull();
    huge!();
    expect(admission.stats()).toMatchObject({ waiting: 0, waitingBytes: 0 });
  });

  it("frees a place once however many times the webhook's leave is called", () => {
    const admission = new IngestAdmission({ maxWaiting: 2, maxWaitingBytes: MB });
    const first = admission.admit(1)!;
    admission.admit(1);
    first();
    first();
    expect(admission.stats()).toMatchObject({ waiting: 1, waitingBytes: 1 });
    expect(admission.admit(1)).not.toBeNull();
    expect(admission.admit(1)).toBeNull();
  });

  it("reports refusals at most once per interval, with the count since the last report", () => {
    let now = 1_000_000;
    const reports: RefusalReport[] = [];
    const limits = { maxWaiting: 1, maxWaitingBytes: MB };
    const admission = new IngestAdmission(limits, { now: () => now, onRefusalReport: (report) => reports.push(report) });
    admission.admit(5);
    admission.admit(5);
    expect(reports).toEqual([{ refusedSinceLastReport: 1, waiting: 1, waitingBytes: 5, limits }]);
    now += REFUSAL_LOG_INTERVAL_MS - 1;
    admission.admit(5);
    admission.admit(5);
    expect(reports).toHaveLength(1);
    now += 1;
    admission.admit(5);
    expect(reports).toHaveLength(2);
    expect(reports[1]!.refusedSinceLastReport).toBe(3);
    expect(admission.stats().refused).toBe(4);
  });
});

describe("INGEST_MAX_WAITING, INGEST_MAX_WAITING_MB and SQLITE_LOCK_WAIT_MS", () => {
  it("default when unset or empty, and take whole numbers", () => {
    expect(admissionLimitsFrom({})).toEqual({ maxWaiting: DEFAULT_INGEST_MAX_WAITING, maxWaitingBytes: DEFAULT_INGEST_MAX_WAITING_MB * MB });
    expect(admissionLimitsFrom({ INGEST_MAX_WAITING: " ", INGEST_MAX_WAITING_MB: "" })).toEqual(admissionLimitsFrom({}));
    expect(admissionLimitsFrom({ INGEST_MAX_WAITING: "250", INGEST_MAX_WAITING_MB: "16" })).toEqual({ maxWaiting: 250, maxWaitingBytes: 16 * MB });
    expect(sqliteLockWaitMsFrom(undefined)).toBe(DEFAULT_SQLITE_LOCK_WAIT_MS);
    expect(sqliteLockWaitMsFrom("1500")).toBe(1500);
  });

  it.each(["0", "-5", "1.5", "ten", "1e400"])("refuse %j, naming the variable and what to do", (bad) => {
    expect(() => admissionLimitsFrom({ INGEST_MAX_WAITING: bad })).toThrow(/^INGEST_MAX_WAITING must be a whole number of at least 1 .*leave it unset for 500/);
    expect(() => admissionLimitsFrom({ INGEST_MAX_WAITING_MB: bad })).toThrow(/^INGEST_MAX_WAITING_MB must be .*leave it unset for 64/);
    expect(() => sqliteLockWaitMsFrom(bad)).toThrow(/^SQLITE_LOCK_WAIT_MS must be .*leave it unset for 3000/);
  });
});

describe("the webhook path with a bound", () => {
  /** A signed orders/fulfilled webhook, as the route's request. */
  const webhook = (index: number, body = orderBody(loadOrderId(index))): WebhookRequest =>
    fetchWebhookRequest(signedWebhookRequest({ topic: "orders/fulfilled", body, shop: "admission-test.myshopify.com" }));

  it("refuses past the bound before checking the HMAC, and frees the place whatever the answer", async () => {
    const admission = new IngestAdmission({ maxWaiting: 1, maxWaitingBytes: 64 * MB });
    const verify = verifyShopifyWebhook(TEST_SECRET);
    let checked = 0;
    let unblock!: () => void;
    const blocked = new Promise<void>((resolve) => (unblock = resolve));
    let block = true;
    const options = {
      route: WEBHOOK_ROUTES.commerce,
      prisma: db(),
      admission,
      authenticate: async (request: WebhookRequest, body: Buffer): Promise<AuthenticatedWebhook> => {
        checked++;
        if (block) await blocked;
        return verify(request, body);
      },
    };

    const held = receiveWebhook(webhook(1), options);
    // The held webhook is counted as soon as its body is read: wait for that by the count, not by time.
    while (admission.stats().waiting === 0) await new Promise((resolve) => setImmediate(resolve));
    expect(await receiveWebhook(webhook(2), options)).toEqual(OVERLOADED);
    expect(checked).toBe(1);
    block = false;
    unblock();
    expect((await held).status).toBe(200);
    expect(admission.stats()).toMatchObject({ waiting: 0, waitingBytes: 0, refused: 1 });

    // Answers other than 200 leave too: a bad signature (401) and a body that is not JSON (400).
    const unsigned = fetchWebhookRequest(signedWebhookRequest({ topic: "orders/fulfilled", body: orderBody(loadOrderId(5)), hmac: "bm90IHRoZSBobWFj" }));
    expect((await receiveWebhook(unsigned, options)).status).toBe(401);
    expect((await receiveWebhook(webhook(3, "{not json"), options)).status).toBe(400);
    expect(admission.stats()).toMatchObject({ waiting: 0, waitingBytes: 0, refused: 1 });
    expect((await receiveWebhook(webhook(4), options)).status).toBe(200);
  });
});
