/**
 * Which topics each webhook route accepts: exactly what shopify.app.toml subscribes it to
 * (test/webhooks/route-topics.test.ts reads the file and holds this table to it). The
 * HMAC covers only the body, so a captured order body re-posted with another
 * `X-Shopify-Topic` is authentic; the route is what tells an order from an erase request.
 */
import { MAPPABLE_TOPICS } from "~/topics/catalog";
import { COMPLIANCE_TOPICS } from "./compliance.server";

export const WEBHOOK_ROUTES = {
  commerce: { path: "/webhooks/commerce", topics: MAPPABLE_TOPICS },
  app: { path: "/webhooks/app", topics: ["app/uninstalled", "app/scopes_update"] },
  compliance: { path: "/webhooks/compliance", topics: COMPLIANCE_TOPICS },
} as const satisfies Record<string, { path: string; topics: readonly string[] }>;

export type WebhookRouteName = keyof typeof WEBHOOK_ROUTES;

export interface WebhookRoute {
  path: string;
  topics: readonly string[];
}

export function acceptsTopic(route: WebhookRoute, topic: string): boolean {
  return route.topics.includes(topic);
}
