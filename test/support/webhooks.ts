/** Webhook requests signed the way Shopify signs them, from the copied sample bodies. */
import { createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";

export const TEST_SECRET = "test-api-secret";
export const TEST_SHOP = "test-shop.myshopify.com";

export function fixtureText(name: string): string {
  return readFileSync(new URL(`../fixtures/shopify/${name}`, import.meta.url), "utf8");
}

/** The fixture's JSON with changes applied (for derived bodies; ids stay exact in the text). */
export function fixtureWith(name: string, change: (body: Record<string, unknown>) => void): string {
  const body = JSON.parse(fixtureText(name)) as Record<string, unknown>;
  change(body);
  return JSON.stringify(body);
}

export function shopifyHmac(body: string, secret = TEST_SECRET): string {
  return createHmac("sha256", secret).update(body, "utf8").digest("base64");
}

export const WEBHOOK_PATH: Record<string, string> = {
  "orders/fulfilled": "/webhooks/commerce",
  "refunds/create": "/webhooks/commerce",
  "app/uninstalled": "/webhooks/app",
  "app/scopes_update": "/webhooks/app",
  "customers/data_request": "/webhooks/compliance",
  "customers/redact": "/webhooks/compliance",
  "shop/redact": "/webhooks/compliance",
};

export interface SignedWebhookOptions {
  topic: string;
  body: string;
  shop?: string;
  secret?: string;
  webhookId?: string;
  eventId?: string;
  triggeredAt?: string;
  apiVersion?: string;
  hmac?: string | null;
  origin?: string;
  omitHeaders?: string[];
}

export function webhookHeaders(options: SignedWebhookOptions): Record<string, string> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-shopify-topic": options.topic,
    "x-shopify-shop-domain": options.shop ?? TEST_SHOP,
    "x-shopify-api-version": options.apiVersion ?? "2026-10",
    "x-shopify-webhook-id": options.webhookId ?? randomUUID(),
    "x-shopify-event-id": options.eventId ?? randomUUID(),
    "x-shopify-triggered-at": options.triggeredAt ?? new Date().toISOString(),
  };
  if (options.hmac !== null) headers["x-shopify-hmac-sha256"] = options.hmac ?? shopifyHmac(options.body, options.secret);
  for (const name of options.omitHeaders ?? []) delete headers[name];
  return headers;
}

export function signedWebhookRequest(options: SignedWebhookOptions): Request {
  const url = `${options.origin ?? "https://app.example.test"}${WEBHOOK_PATH[options.topic] ?? "/webhooks/commerce"}`;
  return new Request(url, { method: "POST", headers: webhookHeaders(options), body: options.body });
}
