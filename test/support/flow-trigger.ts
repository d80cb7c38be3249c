/**
 * Shopify's `flowTriggerReceive`, as strict as Shopify, for either Admin API stand-in (they answer by operation name):
 * register `flowTriggerReceive.handler` under the app's operation name. It refuses what Shopify refuses, with
 * userErrors worded like Shopify's:
 * - no handle or payload: field ["handle"], "`handle` and `payload` arguments are required";
 * - a payload whose JSON is over 50,000 bytes: "Errors validating schema:\n  Properties size exceeds the limit of
 *   50000 bytes.\n" (captured from Shopify, as is the next one);
 * - a handle no deployed trigger has: "Errors validating schema:\n  Invalid handle '<handle>'.\n";
 * - a payload that does not match the trigger's fields (a key it does not declare, one missing, a value of the wrong
 *   type, a URL field that is not an absolute URL): one line each in the same "Errors validating schema" message,
 *   worded as Shopify words the same checks on the older `body` argument.
 * It can also answer like a busy Shopify (HTTP 503, or a 200 that says THROTTLED) for the next calls.
 */
import { readFileSync } from "node:fs";
import { parse } from "smol-toml";
import type { AdminCall, OperationHandler } from "../stand-ins/shopify-admin";
import { FLOW_TRIGGER_HANDLE } from "~/flow/trigger-contract";

export type FlowFieldType = "single_line_text_field" | "url";

/**
 * The trigger as its extension file declares it (extensions/attentive-event-failed), read from the file: what this
 * stand-in accepts is what `shopify app deploy` would publish, so the sender and the file cannot drift apart.
 */
export const ATTENTIVE_EVENT_FAILED_FIELDS: Record<string, FlowFieldType> = triggerFields();

function triggerFields(): Record<string, FlowFieldType> {
  const file = parse(readFileSync(new URL("../../extensions/attentive-event-failed/shopify.extension.toml", import.meta.url), "utf8")) as {
    extensions?: Array<{ handle?: unknown }>;
    settings?: { fields?: Array<{ key?: unknown; type?: unknown }> };
  };
  if (file.extensions?.[0]?.handle !== FLOW_TRIGGER_HANDLE) throw new Error(`the trigger's extension file does not declare ${FLOW_TRIGGER_HANDLE}`);
  const fields: Record<string, FlowFieldType> = {};
  for (const field of file.settings?.fields ?? []) {
    if (typeof field.key !== "string" || (field.type !== "single_line_text_field" && field.type !== "url")) {
      throw new Error(`the trigger's extension file has a field this stand-in does not know: ${JSON.stringify(field)}`);
    }
    fields[field.key] = field.type;
  }
  return fields;
}

export const FLOW_PAYLOAD_LIMIT_BYTES = 50_000;

export type BusyAnswer = "unavailable" | "throttled" | { status: number };

export interface FlowTriggerReceiveStandIn {
  handler: OperationHandler;
  /** Payloads Shopify took, with the call that carried each. */
  accepted: Array<{ handle: string; payload: Record<string, unknown>; call: AdminCall }>;
  /** Calls refused with userErrors. */
  refused: Array<{ call: AdminCall; messages: string[] }>;
  /** The next calls are answered like this, in order, before anything is checked. */
  busy(...answers: BusyAnswer[]): void;
  /** Triggers deployed in the app's current version: by default only "Attentive event failed". */
  deployed: Map<string, Record<string, FlowFieldType>>;
}

const schemaError = (lines: string[]) => ({ field: ["body"], message: `Errors validating schema:\n  ${lines.join("\n  ")}\n` });

function isAbsoluteUrl(value: string): boolean {
  try {
    return new URL(value).protocol.length > 1;
  } catch {
    return false;
  }
}

function shown(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

export function flowTriggerReceiveStandIn(): FlowTriggerReceiveStandIn {
  const accepted: FlowTriggerReceiveStandIn["accepted"] = [];
  const refused: FlowTriggerReceiveStandIn["refused"] = [];
  const queue: BusyAnswer[] = [];
  const deployed = new Map([[FLOW_TRIGGER_HANDLE, ATTENTIVE_EVENT_FAILED_FIELDS]]);

  const userErrors = (call: AdminCall, errors: Array<{ field: string[]; message: string }>) => {
    refused.push({ call, messages: errors.map((error) => error.message) });
    return { body: { data: { flowTriggerReceive: { userErrors: errors } }, extensions: { cost: { requestedQueryCost: 10, actualQueryCost: 10 } } } };
  };

  const handler: OperationHandler = (variables, call) => {
    const next = queue.shift();
    if (next === "unavailable") return { status: 503, body: { errors: "Service Unavailable" } };
    if (next === "throttled") {
      return { body: { errors: [{ message: "Throttled", extensions: { code: "THROTTLED", documentation: "https://shopify.dev/api/usage/rate-limits" } }] } };
    }
    if (next !== undefined) return { status: next.status, body: { errors: `HTTP ${next.status}` } };

    const { handle, payload } = variables;
    if (typeof handle !== "string" || handle.trim() === "" || payload === undefined || payload === null) {
      return userErrors(call, [{ field: ["handle"], message: "`handle` and `payload` arguments are required" }]);
    }
    if (Buffer.byteLength(JSON.stringify(payload), "utf8") > FLOW_PAYLOAD_LIMIT_BYTES) {
      return userErrors(call, [schemaError([`Properties size exceeds the limit of ${FLOW_PAYLOAD_LIMIT_BYTES} bytes.`])]);
    }
    const fields = deployed.get(handle);
    if (!fields) return userErrors(call, [schemaError([`Invalid handle '${handle}'.`])]);
    if (typeof payload !== "object" || Array.isArray(payload)) return userErrors(call, [schemaError(["Type error: payload is not an Object."])]);
    const values = payload as Record<string, unknown>;
    const problems: string[] = [];
    for (const key of Object.keys(values)) if (!(key in fields)) problems.push(`Invalid field: '${key}'.`);
    for (const [key, type] of Object.entries(fields)) {
      if (!(key in values)) {
        problems.push(`Required field missing: '${key}'.`);
        continue;
      }
      const value = values[key];
      if (typeof value !== "string") problems.push(`Type error for field '${key}': ${shown(value)} is not a String.`);
      else if (type === "url" && !isAbsoluteUrl(value)) problems.push(`Type error for field '${key}': ${value} is not an absolute URL.`);
    }
    if (problems.length > 0) return userErrors(call, [schemaError(problems)]);
    accepted.push({ handle, payload: values, call });
    return { body: { data: { flowTriggerReceive: { userErrors: [] } }, extensions: { cost: { requestedQueryCost: 10, actualQueryCost: 10 } } } };
  };

  return {
    handler,
    accepted,
    refused,
    deployed,
    busy(...answers) {
      queue.push(...answers);
    },
  };
}
