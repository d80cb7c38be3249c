/**
 * Shopify's webhook check for the commerce route (decision 007): the HMAC over the
 * bytes already read, then the headers, with the same verdicts as the library's
 * `shopify.webhooks.validate` and `authenticate.webhook` (405 for a non-POST, 400 for a
 * missing HMAC or header, 401 for a wrong HMAC). It skips what that route does not use:
 * loading the shop's offline session from the database, parsing the body a second
 * time and rebuilding the request. A test holds it to the library's verdicts.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { AuthenticatedWebhook, WebhookRequest } from "~/webhooks/receive.server";

const REQUIRED = {
  topic: "x-shopify-topic",
  shop: "x-shopify-shop-domain",
  apiVersion: "x-shopify-api-version",
  webhookId: "x-shopify-webhook-id",
} as const;

function refuse(status: number, statusText: string): Response {
  return new Response(undefined, { status, statusText });
}

/**
 * Whether `header` is the base64 HMAC-SHA256 of `body` under the app's secret: how Shopify signs webhooks and
 * Flow signs action requests. Compared as base64 text, as the library does: a header that only decodes to the
 * digest is refused.
 */
export function shopifyHmacMatches(secret: string, body: Buffer, header: string): boolean {
  const expected = Buffer.from(createHmac("sha256", secret).update(body).digest("base64"));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Returns the webhook's context, or throws a Response (405, 400, 401) as `authenticate.webhook` does. */
export function verifyShopifyWebhook(secret: string) {
  return async (request: WebhookRequest, body: Buffer): Promise<AuthenticatedWebhook> => {
    if (request.method !== "POST") throw refuse(405, "Method not allowed");
    if (body.length === 0) throw refuse(400, "Bad Request");
    const hmac = request.header("x-shopify-hmac-sha256");
    if (!hmac) throw refuse(400, "Bad Request");
    if (!shopifyHmacMatches(secret, body, hmac)) throw refuse(401, "Unauthorized");
    const values: Partial<Record<keyof typeof REQUIRED, string>> = {};
    for (const [field, name] of Object.entries(REQUIRED) as Array<[keyof typeof REQUIRED, string]>) {
      const value = request.header(name);
      if (!value) throw refuse(400, "Bad Request");
      values[field] = value;
    }
    const eventId = request.header("x-shopify-event-id");
    const triggeredAt = request.header("x-shopify-triggered-at");
    return {
      shop: values.shop!,
      // The library's form of the topic (ORDERS_FULFILLED); the route reads the header's own.
      topic: values.topic!.toUpperCase().replace(/\/|\./g, "_"),
      apiVersion: values.apiVersion!,
      webhookId: values.webhookId!,
      ...(eventId ? { eventId } : {}),
      ...(triggeredAt ? { triggeredAt } : {}),
    };
  };
}
