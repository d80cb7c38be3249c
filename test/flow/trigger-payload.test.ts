/**
 * The trigger's payload and how the sender reads Shopify's answers, checked against the strict flowTriggerReceive
 * stand-in (test/support/flow-trigger.ts), which is itself checked here to refuse what Shopify refuses.
 */
import { describe, expect, it } from "vitest";
import { FLOW_TRIGGER_HANDLE } from "~/flow/trigger-contract";
import { callEnd, flowTriggerPayload, MAX_FLOW_TRIGGER_PAYLOAD_BYTES, payloadBytes, thrownEnd, type FailedDelivery } from "~/flow/trigger-sender.server";
import type { AdminCall } from "../stand-ins/shopify-admin";
import { flowTriggerReceiveStandIn } from "../support/flow-trigger";

const SHOP = "payload-shop.myshopify.com";
const delivery: FailedDelivery = {
  id: "cm0delivery1",
  shop: SHOP,
  topic: "refunds/create",
  eventType: "Order Refunded",
  orderName: "#1042",
  lastError: "Attentive refused the event (HTTP 400): the event type is not allowed.",
};

function offer(variables: Record<string, unknown>) {
  const standIn = flowTriggerReceiveStandIn();
  const call: AdminCall = { shop: SHOP, apiVersion: "2025-10", operationName: "FlowTriggerReceive", query: "mutation FlowTriggerReceive", variables, accessToken: "shpat_x" };
  const answer = standIn.handler(variables, call);
  return { answer, standIn };
}

const accepted = (variables: Record<string, unknown>) => offer(variables).standIn.accepted.length === 1;
const refusal = (variables: Record<string, unknown>) => offer(variables).standIn.refused[0]?.messages.join("\n");

describe("the payload", () => {
  it("holds exactly the trigger's fields, as strings, and Shopify's check takes it", () => {
    const payload = flowTriggerPayload(delivery, "client-id-1");
    expect(payload).toEqual({
      "Event type": "Order Refunded",
      Source: "refunds/create",
      "Order name": "#1042",
      Reason: delivery.lastError,
      "Delivery URL": `https://${SHOP}/admin/apps/client-id-1/app/deliveries/cm0delivery1`,
    });
    expect(accepted({ handle: FLOW_TRIGGER_HANDLE, payload })).toBe(true);
  });

  it("says Flow for an event a Flow action sent, and an empty order name when there is none", () => {
    const payload = flowTriggerPayload({ ...delivery, topic: "flow/action", orderName: null }, "k");
    expect(payload).toMatchObject({ Source: "Flow", "Order name": "" });
  });

  it("cuts a Reason that would take it over Shopify's 50,000 bytes, and keeps the rest whole", () => {
    // Escaped characters (quotes, backslashes, control characters) and 4-byte emoji count more in JSON than they look.
    const reason = `${'"\\\u0001'.repeat(6_000)}${"é😀".repeat(10_000)}`;
    const payload = flowTriggerPayload({ ...delivery, lastError: reason }, "client-id-1");
    const bytes = payloadBytes(payload);
    expect(bytes).toBeLessThanOrEqual(MAX_FLOW_TRIGGER_PAYLOAD_BYTES);
    expect(bytes).toBeGreaterThan(MAX_FLOW_TRIGGER_PAYLOAD_BYTES - 10);
    expect(payload.Reason.endsWith("…")).toBe(true);
    expect(reason.startsWith(payload.Reason.slice(0, -1))).toBe(true);
    expect(payload["Delivery URL"]).toBe(`https://${SHOP}/admin/apps/client-id-1/app/deliveries/cm0delivery1`);
    expect(accepted({ handle: FLOW_TRIGGER_HANDLE, payload })).toBe(true);
  });

  it("leaves a payload that fits as it is", () => {
    const reason = "x".repeat(40_000);
    expect(flowTriggerPayload({ ...delivery, lastError: reason }, "k").Reason).toBe(reason);
  });
});

describe("the flowTriggerReceive stand-in refuses what Shopify refuses", () => {
  const good = flowTriggerPayload(delivery, "k");

  it("a payload one byte over the limit, and takes one at the limit", () => {
    const base = { ...good, Reason: "" };
    const room = MAX_FLOW_TRIGGER_PAYLOAD_BYTES - Buffer.byteLength(JSON.stringify(base));
    expect(accepted({ handle: FLOW_TRIGGER_HANDLE, payload: { ...base, Reason: "r".repeat(room) } })).toBe(true);
    expect(refusal({ handle: FLOW_TRIGGER_HANDLE, payload: { ...base, Reason: "r".repeat(room + 1) } })).toBe(
      "Errors validating schema:\n  Properties size exceeds the limit of 50000 bytes.\n",
    );
  });

  it("an unknown handle, or none", () => {
    expect(refusal({ handle: "attentive-event-faild", payload: good })).toBe("Errors validating schema:\n  Invalid handle 'attentive-event-faild'.\n");
    expect(refusal({ payload: good })).toBe("`handle` and `payload` arguments are required");
  });

  it("keys that are not exactly the trigger's fields, and values of the wrong type", () => {
    const { Reason: _reason, ...missing } = good;
    expect(refusal({ handle: FLOW_TRIGGER_HANDLE, payload: missing })).toContain("Required field missing: 'Reason'.");
    expect(refusal({ handle: FLOW_TRIGGER_HANDLE, payload: { ...good, reason: "lower case" } })).toContain("Invalid field: 'reason'.");
    expect(refusal({ handle: FLOW_TRIGGER_HANDLE, payload: { ...good, "Order name": 1042 } })).toContain("Type error for field 'Order name': 1042 is not a String.");
    expect(refusal({ handle: FLOW_TRIGGER_HANDLE, payload: { ...good, "Delivery URL": "/app/deliveries/1" } })).toContain("is not an absolute URL.");
  });
});

describe("Shopify's answers", () => {
  it("no userErrors is sent; userErrors drop the trigger with Shopify's words", () => {
    expect(callEnd({ data: { flowTriggerReceive: { userErrors: [] } } })).toEqual({ kind: "sent" });
    const dropped = callEnd({ data: { flowTriggerReceive: { userErrors: [{ field: ["body"], message: "Errors validating schema:\n  Invalid handle 'x'.\n" }] } } });
    expect(dropped).toMatchObject({ kind: "dropped", reason: expect.stringContaining("Errors validating schema: Invalid handle 'x'.") });
    expect(callEnd({ data: {} })).toMatchObject({ kind: "retry" });
  });

  it("busy or unreachable is retried, a refusal is not", () => {
    expect(thrownEnd({ response: { code: 503 } })).toMatchObject({ kind: "retry" });
    expect(thrownEnd({ response: { code: 429, retryAfter: 2.5 } })).toEqual({ kind: "retry", reason: "Shopify's Admin API answered HTTP 429.", retryAfterMs: 2_500 });
    expect(thrownEnd({ response: { code: 402 } })).toMatchObject({ kind: "dropped", reason: expect.stringContaining("HTTP 402") });
    expect(thrownEnd({ response: { code: 404 } })).toMatchObject({ kind: "dropped" });
    const graphql = (code: string, message: string) => ({ response: new Response(), body: { errors: { graphQLErrors: [{ message, extensions: { code } }] } } });
    expect(thrownEnd(graphql("THROTTLED", "Throttled"))).toMatchObject({ kind: "retry" });
    expect(thrownEnd(graphql("ACCESS_DENIED", "Access denied for flowTriggerReceive field."))).toMatchObject({
      kind: "dropped",
      reason: expect.stringContaining("Access denied for flowTriggerReceive field."),
    });
    expect(thrownEnd(new TypeError("fetch failed"))).toMatchObject({ kind: "retry", reason: expect.stringContaining("TypeError") });
    expect(thrownEnd(new DOMException("The operation timed out.", "TimeoutError"))).toMatchObject({ kind: "retry" });
  });
});
