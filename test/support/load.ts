/**
 * Webhook bodies for load tests: Shopify's sample order and refund, each given its own
 * ids (beyond 2^53, kept exact in the text) so every one is a distinct Shopify event.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fixtureText } from "./webhooks";

const orderTemplate = fixtureText("orders_fulfilled.derived.json");
const refundTemplate = fixtureText("refunds_create.derived.json");
const ORDER_ID = /"admin_graphql_api_id":\s*"gid:\/\/shopify\/Order\/(\d+)"/.exec(orderTemplate)?.[1] ?? "";
const REFUND_ID = /"admin_graphql_api_id":\s*"gid:\/\/shopify\/Refund\/(\d+)"/.exec(refundTemplate)?.[1] ?? "";
const REFUND_ORDER_ID = /"order_id":\s*(\d+)/.exec(refundTemplate)?.[1] ?? "";
const FULFILLED_AT = "2022-01-03T10:15:00-05:00";

/** Ids above 2^53 on purpose: they must survive the whole pipeline exactly. */
export function loadOrderId(index: number): string {
  return (9_007_199_254_740_993n + BigInt(index) * 7n).toString();
}

export function loadRefundId(index: number): string {
  return (18_014_398_509_481_985n + BigInt(index) * 11n).toString();
}

/** An orders/fulfilled body for order `orderId`, fulfilled now (so the event is not stale). */
export function orderBody(orderId: string, fulfilledAt = new Date().toISOString()): string {
  if (!ORDER_ID) throw new Error("the order fixture has no admin_graphql_api_id");
  return orderTemplate
    .replaceAll(`gid://shopify/Order/${ORDER_ID}`, `gid://shopify/Order/${orderId}`)
    .replace(/^(\s*)"id":\s*\d+/m, `$1"id": ${orderId}`)
    .replaceAll(FULFILLED_AT, fulfilledAt);
}

/** A refunds/create body for refund `refundId` of order `orderId`. */
export function refundBody(refundId: string, orderId: string, createdAt = new Date().toISOString()): string {
  if (!REFUND_ID || !REFUND_ORDER_ID) throw new Error("the refund fixture has no ids");
  return refundTemplate
    .replaceAll(`gid://shopify/Refund/${REFUND_ID}`, `gid://shopify/Refund/${refundId}`)
    .replace(/^(\s*)"id":\s*\d+/m, `$1"id": ${refundId}`)
    .replaceAll(`"order_id": ${REFUND_ORDER_ID}`, `"order_id": ${orderId}`)
    .replace(/"created_at":\s*"[^"]*"/, `"created_at": "${createdAt}"`);
}

/** Runs `task` over `items` with at most `concurrency` in flight. */
export async function forEachConcurrently<T>(items: readonly T[], concurrency: number, task: (item: T, index: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        await task(items[index]!, index);
      }
    }),
  );
}

export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, pollMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Figures of a reliability run, printed and kept for docs/reliability.md. */
export function reportFigures(name: string, figures: Record<string, unknown>): void {
  const dir = process.env.RELIABILITY_REPORT_DIR ?? join(tmpdir(), "attentive-reliability");
  mkdirSync(dir, { recursive: true });
  const provider = process.env.TEST_DATABASE === "postgresql" ? "postgresql" : "sqlite";
  const record = { suite: name, provider, at: new Date().toISOString(), ...figures };
  writeFileSync(join(dir, `${name}-${provider}.json`), `${JSON.stringify(record, null, 2)}\n`);
  console.log(`[reliability] ${JSON.stringify(record)}`);
}
