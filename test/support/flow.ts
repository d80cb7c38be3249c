/** Flow action requests signed the way Shopify Flow signs them (HMAC-SHA256 of the raw body, base64). */
import { randomUUID } from "node:crypto";
import { FLOW_ACTION_HANDLE, FLOW_ACTION_PATH } from "~/flow/action";
import { action as flowAction } from "~/routes/flow.actions.send-attentive-event";
import { shopifyHmac, TEST_SHOP } from "./webhooks";

export interface FlowRunOptions {
  shop?: string;
  actionRunId?: string;
  handle?: string;
  /** The action's settings as Flow sends them (variables already filled in). */
  settings?: Record<string, unknown>;
}

/** Flow's documented request body for one run of the action. */
export function flowRunBody(options: FlowRunOptions = {}): string {
  const shop = options.shop ?? TEST_SHOP;
  return JSON.stringify({
    shop_id: "gid://shopify/Shop/548380009",
    shopify_domain: shop,
    action_run_id: options.actionRunId ?? randomUUID(),
    action_definition_id: "Send Attentive event",
    handle: options.handle ?? FLOW_ACTION_HANDLE,
    properties: options.settings ?? {
      event_type: "VIP Tagged",
      properties: '{"tier": "gold", "points": 1200, "since": "2026-01-02"}',
      email: "vip@example.com",
      customer_id: "gid://shopify/Customer/115310627314723954",
    },
  });
}

export function flowRunRequest(body: string, init: { hmac?: string | null; method?: string; origin?: string } = {}): Request {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (init.hmac !== null) headers["x-shopify-hmac-sha256"] = init.hmac ?? shopifyHmac(body);
  const method = init.method ?? "POST";
  return new Request(`${init.origin ?? "https://app.example.test"}${FLOW_ACTION_PATH}`, { method, headers, ...(method === "POST" ? { body } : {}) });
}

/** Posts a run through the app's route (as Remix calls it) and returns the status and the parsed JSON answer. */
export async function postFlowRun(body: string, init: Parameters<typeof flowRunRequest>[1] = {}): Promise<{ status: number; message: string | null }> {
  const response = await flowAction({ request: flowRunRequest(body, init), params: {}, context: {} });
  const text = await response.text();
  let message: string | null = null;
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    message = typeof parsed.message === "string" ? parsed.message : null;
  } catch {
    message = null;
  }
  return { status: response.status, message };
}
