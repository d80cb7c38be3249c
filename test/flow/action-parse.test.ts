/** parseFlowAction: what a Flow run's settings become, and the sentence a merchant reads in Flow when they cannot. */
import { describe, expect, it } from "vitest";
import { FLOW_ACTION_HANDLE, MAX_FLOW_PROPERTIES_BYTES, parseFlowAction } from "~/flow/action";
import { parseShopifyJson } from "~/shopify/json";

function run(settings: Record<string, unknown>, envelope: Record<string, unknown> = {}) {
  return parseFlowAction(
    parseShopifyJson(JSON.stringify({ shop_id: "1", shopify_domain: "s.myshopify.com", action_run_id: "r-1", handle: FLOW_ACTION_HANDLE, properties: settings, ...envelope })),
  );
}

function event(settings: Record<string, unknown>) {
  const parsed = run(settings);
  if (!parsed.ok) throw new Error(`refused: ${parsed.reason}`);
  return parsed.event;
}

describe("parseFlowAction", () => {
  it.each([
    ["a gid", "gid://shopify/Customer/115310627314723954", "115310627314723954"],
    ["digits", "207119551", "207119551"],
    ["a number", 207119551, "207119551"],
  ])("reads the customer reference given as %s as the exact customer id", (_what, customerId, expected) => {
    expect(event({ event_type: "VIP", customer_id: customerId }).user).toEqual({ externalIdentifiers: { clientUserId: expected } });
  });

  it("keeps an id above 2^53 exact when Flow sends it as a bare number", () => {
    const parsed = parseFlowAction(
      parseShopifyJson(
        `{"shopify_domain":"s.myshopify.com","action_run_id":"r","handle":"${FLOW_ACTION_HANDLE}","properties":{"event_type":"VIP","customer_id":115310627314723954}}`,
      ),
    );
    expect(parsed.ok && parsed.event.user.externalIdentifiers?.clientUserId).toBe("115310627314723954");
  });

  it("treats empty properties text as no properties, and takes a properties object as it is", () => {
    expect(event({ event_type: "VIP", email: "a@example.com", properties: "  " }).properties).toEqual({});
    expect(event({ event_type: "VIP", email: "a@example.com", properties: { a: 1 } }).properties).toEqual({ a: 1 });
  });

  it("keeps a __proto__ key as a plain property", () => {
    const properties = event({ event_type: "VIP", email: "a@example.com", properties: '{"__proto__": {"x": 1}, "y": 2}' }).properties;
    expect(Object.keys(properties)).toEqual(["__proto__", "y"]);
    expect(Object.getPrototypeOf(properties)).toBe(Object.prototype);
  });

  it("warns about lists and objects (emails only) and long URLs, and still sends", () => {
    const warnings = event({
      event_type: "VIP",
      email: "a@example.com",
      properties: JSON.stringify({ items: ["a"], link: `https://example.com/${"x".repeat(1100)}` }),
    }).warnings;
    expect(warnings.join(" ")).toMatch(/"items" is a list or object/);
    expect(warnings.join(" ")).toMatch(/"link" contains a URL longer than 1024/);
  });

  it("keeps a usable identifier and warns about the unusable one", () => {
    const parsed = event({ event_type: "VIP", email: "a@example.com", phone: "555" });
    expect(parsed.user).toEqual({ email: "a@example.com" });
    expect(parsed.warnings.join(" ")).toMatch(/phone number was left out/);
  });

  it("trims the event type but keeps its case", () => {
    expect(event({ event_type: "  VIP Tagged ", email: "a@example.com" }).type).toBe("VIP Tagged");
  });

  it.each([
    ["a type with an invisible character", { event_type: "VIP\u200b", email: "a@example.com" }, "event_type", /invisible/],
    ["a type over the length limit", { event_type: "V".repeat(129), email: "a@example.com" }, "event_type", /limit is 128/],
    ["properties nested too deep", { event_type: "VIP", email: "a@example.com", properties: `${"[".repeat(3000)}${"]".repeat(3000)}` }, "properties", /nested deeper/],
    ["properties over the size limit", { event_type: "VIP", email: "a@example.com", properties: `{"a":"${"x".repeat(MAX_FLOW_PROPERTIES_BYTES)}"}` }, "properties", /longer than 64 KB/],
    ["a number as properties", { event_type: "VIP", email: "a@example.com", properties: "12" }, "properties", /not a number/],
  ])("refuses %s and names the field", (_what, settings, field, reason) => {
    const parsed = run(settings);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.field).toBe(field);
    expect(parsed.reason).toMatch(reason);
  });

  it.each([
    ["no action_run_id", { action_run_id: undefined }, /action_run_id/],
    ["no shopify_domain", { shopify_domain: undefined }, /shopify_domain/],
    ["another action's handle", { handle: "other" }, /this endpoint runs send-attentive-event/],
    ["settings that are not an object", { properties: "x" }, /no properties object/],
  ])("refuses a request with %s", (_what, envelope, reason) => {
    const parsed = run({ event_type: "VIP", email: "a@example.com" }, envelope);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(reason);
  });
});
