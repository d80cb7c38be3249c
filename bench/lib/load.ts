/**
 * Signed Shopify webhooks with a fresh order per request. `runLoad` (autocannon, closed loop) is for maximum
 * throughput only; every fixed-rate latency figure uses bench/lib/poisson.ts (open loop, Poisson arrivals).
 */
import autocannon from "autocannon";
import { randomInt, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, round } from "./common";
import { shopifyHmac } from "./app";
import type { IngestRow } from "~/webhooks/ingest-sql";

/** The sample order's own gid, replaced to make each webhook's body its own. */
export const FIXTURE_ORDER_GID = "gid://shopify/Order/820982911946154508";
const FIXTURE_FULFILLED_AT = "2022-01-03T10:15:00-05:00";

/** test/fixtures/shopify/orders_fulfilled.derived.json: Shopify's sample order with a fulfillment, ~15.7 KB. */
export const ORDER_BODY = readFileSync(join(ROOT, "test", "fixtures", "shopify", "orders_fulfilled.derived.json"), "utf8");

export interface SignedRequest {
  body: string;
  headers: Record<string, string>;
}

/** Makes unique orders/fulfilled webhooks: a new order gid per call, fulfilled now, signed with the app secret. */
export function orderWebhooks(shops: string[], secret?: string): () => SignedRequest {
  // A random prefix keeps several runs against one database from colliding on the de-duplication key.
  const prefix = `9${randomInt(100_000, 999_999)}`;
  let counter = 0;
  return () => {
    counter++;
    const orderNumber = `${prefix}${String(counter).padStart(9, "0")}`;
    const body = ORDER_BODY.replace(FIXTURE_ORDER_GID, `gid://shopify/Order/${orderNumber}`).replace(FIXTURE_FULFILLED_AT, new Date().toISOString());
    return {
      body,
      headers: {
        "content-type": "application/json",
        "x-shopify-topic": "orders/fulfilled",
        "x-shopify-shop-domain": shops[counter % shops.length]!,
        "x-shopify-api-version": "2026-10",
        "x-shopify-webhook-id": randomUUID(),
        "x-shopify-event-id": randomUUID(),
        "x-shopify-triggered-at": new Date().toISOString(),
        "x-shopify-hmac-sha256": shopifyHmac(body, secret),
      },
    };
  };
}

export interface LoadResult {
  target: string;
  rate: number | "max";
  durationS: number;
  sent: number;
  ok: number;
  acceptedPerSec: number;
  p50: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

export interface LoadOptions {
  url: string;
  path?: string;
  durationS: number;
  connections: number;
  /** Requests per second across all connections; omit for as fast as the server answers. */
  rate?: number;
  next: () => SignedRequest;
  target: string;
  timeoutS?: number;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationS,
    timeout: options.timeoutS ?? 10,
    // autocannon 8's coordinated-omission correction uses 1/rate as the interval in ms (ceil(1/2) = 1 ms for 2
    // requests/s per connection), filling the histogram with made-up low values: it is off, latencies are as measured.
    ...(options.rate ? { overallRate: options.rate, ignoreCoordinatedOmission: true } : {}),
    requests: [
      {
        method: "POST",
        path: options.path ?? "/webhooks/commerce",
        setupRequest: (request) => {
          const { body, headers } = options.next();
          return { ...request, body, headers };
        },
      },
    ],
  });
  const seconds = options.durationS;
  return {
    target: options.target,
    rate: options.rate ?? "max",
    durationS: seconds,
    sent: result.requests.sent,
    ok: result["2xx"],
    acceptedPerSec: round(result["2xx"] / seconds, 0),
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

/**
 * The row the ingest path would write for the n-th orders/fulfilled webhook of `shop`, with its own copy of the
 * sample body: what the SQLite writer's micro benchmarks feed it.
 */
export function orderIngestRow(shop: string, n: number): IngestRow {
  const now = new Date();
  return {
    shop,
    topic: "orders/fulfilled",
    eventKey: `gid://shopify/Order/${n}`,
    webhookId: `w${n}`,
    eventId: null,
    apiVersion: "2026-10",
    triggeredAt: now,
    receivedAt: now,
    orderId: String(n),
    occurredAt: now,
    body: ORDER_BODY.replace(FIXTURE_ORDER_GID, `gid://shopify/Order/${n}`),
  };
}
