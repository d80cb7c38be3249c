/**
 * The "Send Attentive event" Flow action (extensions/send-attentive-event): the fields a merchant fills in Flow,
 * and the one function that turns a Flow action request into the Attentive event it asks for, under the same rules
 * as a mapping (Attentive's event type and key rules, E.164 phones, at least one identifier). Pure: the route runs
 * it before answering Flow (a request it can never send is refused, and nothing is recorded), and the worker runs
 * it again on the recorded request to build what it sends (docs/decisions/015-shopify-flow.md).
 */
import { MAX_PROPERTY_KEYS, MAX_SHORTENABLE_URL_LENGTH, eventTypeProblem, propertyKeyProblem } from "~/attentive/rules";
import { looksLikeEmail, normalizePhone, phoneWarning } from "~/mapping/identity";
import { isJsonObject, MAX_JSON_DEPTH, parseShopifyJson, type JsonValue } from "~/shopify/json";
import { FLOW_ACTION_HANDLE } from "./constants";

export { FLOW_ACTION_HANDLE, FLOW_ACTION_MAPPING_ID, FLOW_ACTION_PATH, FLOW_ACTION_TOPIC } from "./constants";

/**
 * The settings fields of the action, by the key Flow sends each under in `properties`. The extension file declares
 * the same keys (test/flow/extensions.test.ts holds the two together). A customer reference arrives as
 * `customer_id`.
 */
export const FLOW_ACTION_FIELDS = {
  eventType: "event_type",
  properties: "properties",
  email: "email",
  phone: "phone",
  customerId: "customer_id",
} as const;

/** The largest Flow action request read; Flow's own payloads are a few kilobytes. */
export const MAX_FLOW_ACTION_BYTES = 256 * 1024;
/** The properties text a merchant can write (Flow variables expanded). */
export const MAX_FLOW_PROPERTIES_BYTES = 64 * 1024;

/** What a valid Flow action request asks for. */
export interface FlowActionRequest {
  shop: string;
  actionRunId: string;
  handle: string;
}

export interface FlowActionEvent {
  type: string;
  properties: Record<string, JsonValue>;
  user: { email?: string; phone?: string; externalIdentifiers?: { clientUserId?: string } };
  warnings: string[];
}

export type FlowActionParse =
  | { ok: true; request: FlowActionRequest; event: FlowActionEvent }
  /** `field` is the settings field at fault (its key), when one is. */
  | { ok: false; reason: string; field?: string };

const DIGITS = /^\d+$/;
const CUSTOMER_GID = /^gid:\/\/shopify\/Customer\/(\d+)$/;

function text(value: JsonValue | undefined): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}

/** The request's envelope (who sent it, which run), before its settings. */
export function flowActionEnvelope(body: JsonValue): { ok: true; request: FlowActionRequest; settings: Record<string, JsonValue> } | { ok: false; reason: string } {
  if (!isJsonObject(body)) return { ok: false, reason: "The Flow action request is not a JSON object." };
  const shop = text(body.shopify_domain);
  const actionRunId = text(body.action_run_id);
  const handle = text(body.handle) ?? text(body.action_definition_id);
  if (!shop) return { ok: false, reason: "The Flow action request has no shopify_domain." };
  if (!actionRunId || actionRunId.trim() === "" || actionRunId.length > 200) {
    return { ok: false, reason: "The Flow action request has no usable action_run_id." };
  }
  if (handle !== FLOW_ACTION_HANDLE) {
    return { ok: false, reason: `The Flow action request is for action ${JSON.stringify((handle ?? "").slice(0, 100))}; this endpoint runs ${FLOW_ACTION_HANDLE}.` };
  }
  const settings = body.properties;
  if (!isJsonObject(settings)) return { ok: false, reason: "The Flow action request has no properties object." };
  return { ok: true, request: { shop, actionRunId, handle }, settings };
}

/** The customer id as exact digits, from a number, digit string or Customer gid. */
function customerId(value: JsonValue | undefined): string | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) && value > 0 ? String(value) : undefined;
  if (typeof value !== "string") return undefined;
  const trimmed = value.trim();
  if (DIGITS.test(trimmed)) return trimmed;
  return CUSTOMER_GID.exec(trimmed)?.[1];
}

function isLongUrl(value: string): boolean {
  return value.length > MAX_SHORTENABLE_URL_LENGTH && /^https?:\/\//i.test(value);
}

function kindOf(value: JsonValue): string {
  if (Array.isArray(value)) return "a list";
  if (value === null) return "null";
  if (typeof value === "string") return "text";
  if (typeof value === "number") return "a number";
  return typeof value === "boolean" ? "true or false" : "an object";
}

/** The properties field: a JSON object (Flow variables already expanded in it), or nothing. */
function parseProperties(raw: JsonValue | undefined, warnings: string[]): { ok: true; properties: Record<string, JsonValue> } | { ok: false; reason: string } {
  const field = FLOW_ACTION_FIELDS.properties;
  if (raw === undefined || raw === null) return { ok: true, properties: {} };
  let value: JsonValue = raw;
  if (typeof raw === "string") {
    if (raw.trim() === "") return { ok: true, properties: {} };
    if (Buffer.byteLength(raw, "utf8") > MAX_FLOW_PROPERTIES_BYTES) {
      return { ok: false, reason: `Properties is longer than ${MAX_FLOW_PROPERTIES_BYTES / 1024} KB: send only what your messages use.` };
    }
    try {
      value = parseShopifyJson(raw);
    } catch (error) {
      const where = error instanceof RangeError ? ` nested deeper than ${MAX_JSON_DEPTH} levels` : "";
      return {
        ok: false,
        reason:
          `Properties is not valid JSON${where}: write a JSON object such as {"orderName": "{{order.name}}", "total": {{order.totalPriceSet.shopMoney.amount}}}. ` +
          "Put text variables in double quotes; a quote inside a value needs a backslash.",
      };
    }
  }
  if (!isJsonObject(value)) {
    return { ok: false, reason: `Properties must be a JSON object ({"key": value, …}), not ${kindOf(value)}.` };
  }
  const keys = Object.keys(value);
  for (const key of keys) {
    const problem = propertyKeyProblem(key);
    if (problem !== null) return { ok: false, reason: `${problem} (in ${field})` };
  }
  if (keys.length > MAX_PROPERTY_KEYS) {
    warnings.push(`The event has ${keys.length} properties; Attentive uses only the first ${MAX_PROPERTY_KEYS} in Journeys and messages.`);
  }
  for (const [key, item] of Object.entries(value)) {
    if (typeof item === "string" && isLongUrl(item)) {
      warnings.push(`Property "${key}" contains a URL longer than ${MAX_SHORTENABLE_URL_LENGTH} characters: Attentive will not shorten it, so it may be cut off or cost extra in a text.`);
    } else if (typeof item === "object" && item !== null) {
      warnings.push(`Property "${key}" is a list or object: Attentive uses those in emails only, not in texts.`);
    }
  }
  // fromEntries defines own data properties, so even a "__proto__" key stays a plain property.
  return { ok: true, properties: Object.fromEntries(Object.entries(value)) };
}

/**
 * The event a Flow action request asks for, or the sentence that tells the merchant what to change in Flow.
 * Identifiers that are present but unusable are left out with a warning, as for mappings; with none left, the
 * request is refused.
 */
export function parseFlowAction(body: JsonValue): FlowActionParse {
  const envelope = flowActionEnvelope(body);
  if (!envelope.ok) return envelope;
  const { settings, request } = envelope;
  const warnings: string[] = [];

  const type = text(settings[FLOW_ACTION_FIELDS.eventType])?.trim() ?? "";
  const typeProblem = eventTypeProblem(type);
  if (typeProblem !== null) return { ok: false, reason: `Event type: ${typeProblem}`, field: FLOW_ACTION_FIELDS.eventType };

  const parsed = parseProperties(settings[FLOW_ACTION_FIELDS.properties], warnings);
  if (!parsed.ok) return { ok: false, reason: parsed.reason, field: FLOW_ACTION_FIELDS.properties };

  const user: FlowActionEvent["user"] = {};
  const email = text(settings[FLOW_ACTION_FIELDS.email])?.trim() ?? "";
  if (email !== "") {
    if (looksLikeEmail(email)) user.email = email;
    else warnings.push(`The email was left out: "${email.slice(0, 100)}" (from the Email field) is not an email address.`);
  }
  const rawPhone = text(settings[FLOW_ACTION_FIELDS.phone])?.trim() ?? "";
  if (rawPhone !== "") {
    const phone = normalizePhone(rawPhone);
    if (phone !== null) user.phone = phone;
    else warnings.push(phoneWarning(`"${rawPhone.slice(0, 100)}" (from the Phone field)`));
  }
  const clientUserId = customerId(settings[FLOW_ACTION_FIELDS.customerId]);
  if (clientUserId !== undefined) user.externalIdentifiers = { clientUserId };

  if (user.email === undefined && user.phone === undefined && user.externalIdentifiers === undefined) {
    const why = warnings.length > 0 ? ` ${warnings.join(" ")}` : "";
    return {
      ok: false,
      reason:
        "No email, phone or customer for this event: Attentive needs at least one. Choose a customer in the action, or fill Email " +
        "or Phone (a phone in international form, like +14155552671), for example with {{customer.email}}." +
        why,
      field: FLOW_ACTION_FIELDS.email,
    };
  }
  return { ok: true, request, event: { type, properties: parsed.properties, user, warnings } };
}

/**
 * Whether a recorded Flow run is about this customer (by email, case aside, or Shopify customer id), for
 * customers/redact and customers/data_request: a run holds what the merchant's workflow put in it.
 */
export function flowRunConcerns(body: JsonValue, customer: { email?: string | null; customerId?: string | null }): boolean {
  const settings = isJsonObject(body) && isJsonObject(body.properties) ? body.properties : null;
  if (settings === null) return false;
  const email = text(settings[FLOW_ACTION_FIELDS.email])?.trim().toLowerCase();
  if (customer.email && email !== undefined && email === customer.email.trim().toLowerCase()) return true;
  const id = customerId(settings[FLOW_ACTION_FIELDS.customerId]);
  return Boolean(customer.customerId) && id === customer.customerId;
}
