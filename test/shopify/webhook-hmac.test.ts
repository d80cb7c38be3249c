/**
 * The commerce route's HMAC check (decision 007) on its own: every verdict a forged, truncated or incomplete
 * webhook gets, with the status and status text the library's `authenticate.webhook` gives.
 */
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { verifyShopifyWebhook } from "~/shopify/webhook-hmac.server";
import type { WebhookRequest } from "~/webhooks/receive.server";

const SECRET = "hmac-test-secret";
const BODY = Buffer.from('{"id":820982911946154508,"email":"jon@example.com"}');

function sign(body: Buffer, secret = SECRET): string {
  return createHmac("sha256", secret).update(body).digest("base64");
}

function headersFor(body: Buffer): Record<string, string> {
  return {
    "x-shopify-hmac-sha256": sign(body),
    "x-shopify-topic": "orders/fulfilled",
    "x-shopify-shop-domain": "pinned-shop.myshopify.com",
    "x-shopify-api-version": "2025-07",
    "x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
  };
}

function request(headers: Record<string, string>, method = "POST"): WebhookRequest {
  return {
    method,
    header: (name) => headers[name] ?? null,
    readBody: () => Promise.reject(new Error("the check is given the bytes already read")),
  };
}

async function verdict(promise: Promise<unknown>): Promise<{ status: number; statusText: string }> {
  try {
    await promise;
  } catch (thrown) {
    if (thrown instanceof Response) return { status: thrown.status, statusText: thrown.statusText };
    throw thrown;
  }
  throw new Error("expected the webhook to be refused");
}

const verify = verifyShopifyWebhook(SECRET);

describe("verifyShopifyWebhook", () => {
  it("returns the webhook's context for a correctly signed POST", async () => {
    const headers = { ...headersFor(BODY), "x-shopify-event-id": "evt-1", "x-shopify-triggered-at": "2025-01-01T00:00:00Z" };
    expect(await verify(request(headers), BODY)).toEqual({
      shop: "pinned-shop.myshopify.com",
      topic: "ORDERS_FULFILLED",
      apiVersion: "2025-07",
      webhookId: "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
      eventId: "evt-1",
      triggeredAt: "2025-01-01T00:00:00Z",
    });
  });

  it("leaves out the event id and trigger time when Shopify does not send them", async () => {
    const context = await verify(request(headersFor(BODY)), BODY);
    expect(Object.keys(context).sort()).toEqual(["apiVersion", "shop", "topic", "webhookId"]);
    const blank = await verify(request({ ...headersFor(BODY), "x-shopify-event-id": "", "x-shopify-triggered-at": "" }), BODY);
    expect(Object.keys(blank).sort()).toEqual(["apiVersion", "shop", "topic", "webhookId"]);
  });

  it("gives the library's form of every slash and dot in the topic", async () => {
    for (const [topic, expected] of [
      ["refunds/create", "REFUNDS_CREATE"],
      ["app/scopes_update", "APP_SCOPES_UPDATE"],
      ["a.b/c.d", "A_B_C_D"],
    ]) {
      const context = await verify(request({ ...headersFor(BODY), "x-shopify-topic": topic! }), BODY);
      expect(context.topic).toBe(expected);
    }
  });

  it("refuses a method other than POST with 405, before looking at the signature", async () => {
    for (const method of ["GET", "PUT", "post"]) {
      expect(await verdict(verify(request(headersFor(BODY), method), BODY))).toEqual({ status: 405, statusText: "Method not allowed" });
    }
  });

  it("refuses an empty body or a missing HMAC with 400", async () => {
    const empty = Buffer.alloc(0);
    expect(await verdict(verify(request(headersFor(empty)), empty))).toEqual({ status: 400, statusText: "Bad Request" });
    const { "x-shopify-hmac-sha256": _hmac, ...unsigned } = headersFor(BODY);
    expect(await verdict(verify(request(unsigned), BODY))).toEqual({ status: 400, statusText: "Bad Request" });
    expect(await verdict(verify(request({ ...headersFor(BODY), "x-shopify-hmac-sha256": "" }), BODY))).toEqual({ status: 400, statusText: "Bad Request" });
  });

  it("refuses a wrong HMAC with 401: another secret, another body, a truncated, padded or raw-digest header", async () => {
    const good = sign(BODY);
    const digest = createHmac("sha256", SECRET).update(BODY).digest();
    const forged = [
      sign(BODY, "another-secret"),
      sign(Buffer.from(`${BODY.toString()} `)),
      good.slice(0, -1),
      `${good}=`,
      `${good.slice(0, -2)}AA`,
      digest.toString("hex"),
      digest.toString("latin1"),
    ];
    for (const hmac of forged) {
      expect(await verdict(verify(request({ ...headersFor(BODY), "x-shopify-hmac-sha256": hmac }), BODY)), hmac).toEqual({
        status: 401,
        statusText: "Unauthorized",
      });
    }
  });

  it("refuses a signed webhook missing any required header with 400", async () => {
    for (const name of ["x-shopify-topic", "x-shopify-shop-domain", "x-shopify-api-version", "x-shopify-webhook-id"]) {
      const headers = headersFor(BODY);
      delete headers[name];
      expect(await verdict(verify(request(headers), BODY)), name).toEqual({ status: 400, statusText: "Bad Request" });
      expect(await verdict(verify(request({ ...headersFor(BODY), [name]: "" }), BODY)), name).toEqual({ status: 400, statusText: "Bad Request" });
    }
  });

  it("checks the signature before the headers: a forged webhook without headers is a 401", async () => {
    expect(await verdict(verify(request({ "x-shopify-hmac-sha256": sign(BODY, "forger") }), BODY))).toEqual({ status: 401, statusText: "Unauthorized" });
  });
});
