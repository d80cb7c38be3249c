/**
 * What `npm run demo` plays, apart from how it reaches the app: one order's whole life (placed, paid, shipped,
 * three carrier updates, fulfilled, refunded, a return requested and closed) and a second order placed and
 * cancelled, as Shopify would send them, with the Attentive event each webhook must produce. demo.ts sends them over
 * HTTP to the built app; test/cli/demo-scenario.test.ts sends the same through the route and worker in process.
 *
 * Bodies are the catalog's samples (app/topics/samples/, one coherent order 820982911946154508), edited as text so
 * ids above 2^53 keep every digit, and re-dated into the last hour so no event is stale.
 */
import { readFileSync } from "node:fs";
import { catalogMappings } from "~/mapping/defaults";
import type { MappingDefinition } from "~/mapping/types";
import { CATALOG, type MappableTopic } from "~/topics/catalog";

export interface DemoWebhook {
  topic: MappableTopic;
  /** What happened, as the demo prints it. */
  caption: string;
  body: string;
  /** X-Shopify-Event-Id: fixed, so a redelivery can reuse it. */
  eventId: string;
  /** X-Shopify-Triggered-At: returns carry no time in their body and are dated by it. */
  triggeredAt: Date;
  /** The Attentive event types this webhook must produce, in order. */
  expect: readonly string[];
}

/** The slice of a createCustomEvent request the demo reads (the Attentive stand-in records these). */
export interface ReceivedEventLike {
  input: {
    type: string;
    externalEventId?: string | null;
    occurredAt?: string | null;
    user: { email?: string | null; phone?: string | null; externalIdentifiers?: { clientUserId?: string | null } | null };
  };
  properties: Record<string, unknown>;
}

export interface DemoStepResult {
  webhook: DemoWebhook;
  /** The HTTP status the app answered. */
  status: number;
  /** What Attentive received once this webhook's deliveries had settled. */
  events: ReceivedEventLike[];
}

/** The first order, as the samples have it (their `id` field is the already-rounded 820982911946154500). */
export const DEMO_ORDER_ID = "820982911946154508";
/** The second order: only its ids, name and number differ from the first. */
export const DEMO_OTHER_ORDER_ID = "820982911946160001";

function sample(file: string): string {
  return readFileSync(new URL(`../topics/samples/${file}`, import.meta.url), "utf8");
}

function occurrences(text: string, part: string): number {
  return text.split(part).length - 1;
}

/** Every `from` replaced; throws when the sample lacks it, so a changed sample cannot silently leave old data. */
function replaceEvery(text: string, from: string, to: string): string {
  if (occurrences(text, from) === 0) throw new Error(`The demo expected ${JSON.stringify(from)} in a sample body; update app/cli/demo-scenario.ts to the sample.`);
  return text.replaceAll(from, to);
}

/** Sets a top-level `"key": scalar` that the body has exactly once (JSON text in, so long ids stay exact). */
function setScalar(text: string, key: string, json: string): string {
  const pattern = new RegExp(`("${key}":\\s*)(?:null|true|false|-?\\d+(?:\\.\\d+)?|"(?:[^"\\\\]|\\\\.)*")`, "g");
  const found = text.match(pattern)?.length ?? 0;
  if (found !== 1) throw new Error(`The demo sets "${key}" in a sample body, which has it ${found} times instead of once; update app/cli/demo-scenario.ts.`);
  return text.replace(pattern, (_whole, prefix: string) => prefix + json);
}

/** The samples' times, each replaced by a time in the demo's last hour. */
function redate(text: string, times: Record<string, Date>): string {
  let out = text;
  for (const [sampleTime, demoTime] of Object.entries(times)) out = replaceEvery(out, sampleTime, demoTime.toISOString());
  return out;
}

// The samples' dates: the order placed (and paid) on New Year's Eve, its parcel sent on 3 January, out for delivery on 5 January.
const PLACED = "2021-12-31T19:00:00-05:00";
const CANCELLED = "2022-01-01T09:30:00-05:00";
const SHIPPED = "2022-01-03T10:15:00-05:00";
const UPDATE_HAPPENED = "2022-01-05T08:10:00-05:00";
const UPDATE_RECORDED = "2022-01-05T08:10:05-05:00";
const UPDATE_ESTIMATE = "2022-01-05T18:00:00-05:00";
/** The refund sample's two transactions, dated before the order itself. */
const REFUND_TRANSACTIONS = ["2019-12-31T19:00:00-05:00", "2020-01-01T19:00:00-05:00"] as const;

function deliveryUpdate(id: number, status: string, message: string, at: Date, estimate: Date): string {
  let text = sample(CATALOG["fulfillment_events/create"].sample);
  text = setScalar(text, "id", String(id));
  text = setScalar(text, "admin_graphql_api_id", JSON.stringify(`gid://shopify/FulfillmentEvent/${id}`));
  text = setScalar(text, "status", JSON.stringify(status));
  text = setScalar(text, "message", JSON.stringify(message));
  return redate(text, { [UPDATE_HAPPENED]: at, [UPDATE_RECORDED]: at, [UPDATE_ESTIMATE]: estimate });
}

/** The sample order made into the second order: another id, name and number, the same customer. */
function otherOrder(text: string): string {
  let out = replaceEvery(text, DEMO_ORDER_ID, DEMO_OTHER_ORDER_ID);
  out = replaceEvery(out, "820982911946154500", DEMO_OTHER_ORDER_ID);
  out = replaceEvery(out, '"name": "#9999"', '"name": "#10000"');
  return setScalar(out, "order_number", "10000");
}

/** The webhooks in the order they are sent, dated in the hour before `now`. */
export function demoWebhooks(now: Date): DemoWebhook[] {
  const ago = (minutes: number) => new Date(now.getTime() - minutes * 60_000);
  const webhooks: Omit<DemoWebhook, "eventId">[] = [
    {
      topic: "orders/create",
      caption: "order #9999 placed",
      body: redate(sample(CATALOG["orders/create"].sample), { [PLACED]: ago(60) }),
      triggeredAt: ago(60),
      expect: ["Order Placed"],
    },
    {
      topic: "orders/paid",
      caption: "order #9999 paid at checkout",
      body: redate(sample(CATALOG["orders/paid"].sample), { [PLACED]: ago(60) }),
      triggeredAt: ago(60),
      expect: ["Order Paid"],
    },
    {
      topic: "fulfillments/create",
      caption: "its parcel shipped with UPS",
      body: redate(sample(CATALOG["fulfillments/create"].sample), { [SHIPPED]: ago(50) }),
      triggeredAt: ago(50),
      expect: ["Order Shipped"],
    },
    {
      topic: "fulfillment_events/create",
      caption: "carrier: in transit",
      body: deliveryUpdate(1234566, "in_transit", "In transit", ago(40), ago(20)),
      triggeredAt: ago(40),
      expect: ["Order In Transit"],
    },
    {
      topic: "fulfillment_events/create",
      caption: "carrier: out for delivery",
      body: deliveryUpdate(1234567, "out_for_delivery", "Out for delivery", ago(30), ago(20)),
      triggeredAt: ago(30),
      expect: ["Order Out For Delivery"],
    },
    {
      topic: "fulfillment_events/create",
      caption: "carrier: delivered",
      body: deliveryUpdate(1234568, "delivered", "Delivered", ago(20), ago(20)),
      triggeredAt: ago(20),
      expect: ["Order Delivered"],
    },
    {
      // Shopify sends orders/fulfilled as the last item ships; arriving late is allowed, and it is dated by its parcel.
      topic: "orders/fulfilled",
      caption: "every item shipped",
      body: redate(sample(CATALOG["orders/fulfilled"].sample), { [PLACED]: ago(60), [SHIPPED]: ago(50) }),
      triggeredAt: ago(19),
      expect: ["Order Fulfilled"],
    },
    {
      topic: "refunds/create",
      caption: "85.00 refunded",
      body: redate(sample(CATALOG["refunds/create"].sample), {
        [PLACED]: ago(15),
        [REFUND_TRANSACTIONS[0]]: ago(15),
        [REFUND_TRANSACTIONS[1]]: ago(15),
      }),
      triggeredAt: ago(15),
      expect: ["Order Refunded"],
    },
    {
      topic: "returns/request",
      caption: "the customer asks to return the sunglasses",
      body: sample(CATALOG["returns/request"].sample),
      triggeredAt: ago(12),
      expect: ["Return Requested"],
    },
    {
      topic: "returns/close",
      caption: "the return is closed",
      body: sample(CATALOG["returns/close"].sample),
      triggeredAt: ago(9),
      expect: ["Return Closed"],
    },
    {
      topic: "orders/create",
      caption: "a second order, #10000, placed",
      body: otherOrder(redate(sample(CATALOG["orders/create"].sample), { [PLACED]: ago(6) })),
      triggeredAt: ago(6),
      expect: ["Order Placed"],
    },
    {
      topic: "orders/cancelled",
      caption: "order #10000 cancelled by the customer",
      body: otherOrder(redate(sample(CATALOG["orders/cancelled"].sample), { [PLACED]: ago(6), [CANCELLED]: ago(3) })),
      triggeredAt: ago(3),
      expect: ["Order Cancelled"],
    },
  ];
  return webhooks.map((webhook, index) => ({ ...webhook, eventId: `demo-event-${index + 1}` }));
}

/**
 * The catalog's own default mappings for the events the demo expects, all turned on (a new shop has only some on;
 * decision 014 says which). Throws when the catalog no longer offers one of them.
 */
export function demoMappings(webhooks: readonly DemoWebhook[]): MappingDefinition[] {
  const wanted = new Set(webhooks.flatMap((webhook) => webhook.expect));
  const mappings = catalogMappings().filter((mapping) => wanted.has(mapping.eventType));
  const missing = [...wanted].filter((type) => !mappings.some((mapping) => mapping.eventType === type));
  if (missing.length > 0) throw new Error(`The catalog offers no default mapping for ${missing.join(", ")}: update the demo's expectations.`);
  return mappings.map((mapping) => ({ ...mapping, enabled: true }));
}

/** Sends each webhook, lets its deliveries settle, and notes what reached Attentive meanwhile. */
export async function playDemo(
  webhooks: readonly DemoWebhook[],
  io: { send(webhook: DemoWebhook): Promise<number>; settle(webhook: DemoWebhook): Promise<void>; received(): readonly ReceivedEventLike[] },
): Promise<DemoStepResult[]> {
  const results: DemoStepResult[] = [];
  for (const webhook of webhooks) {
    const before = io.received().length;
    const status = await io.send(webhook);
    await io.settle(webhook);
    results.push({ webhook, status, events: io.received().slice(before) });
  }
  return results;
}

/** Where the run differs from what each webhook should have produced (empty when the demo passed). */
export function demoProblems(results: readonly DemoStepResult[]): string[] {
  const problems: string[] = [];
  for (const { webhook, status, events } of results) {
    const got = events.map((event) => event.input.type);
    if (status !== 200) problems.push(`${webhook.topic} (${webhook.caption}) was answered ${status}, not 200`);
    else if (got.join("\n") !== webhook.expect.join("\n")) {
      problems.push(`${webhook.topic} (${webhook.caption}) should have sent ${webhook.expect.join(", ")}; Attentive got ${got.length > 0 ? got.join(", ") : "nothing"}`);
    }
  }
  return problems;
}

/** The properties worth a glance, in this order, when the event has them. */
const KEY_PROPERTIES = [
  "orderName",
  "status",
  "trackingCompany",
  "trackingNumber",
  "totalPrice",
  "refundAmount",
  "currency",
  "paymentGateways",
  "returnName",
  "returnStatus",
  "cancelReason",
] as const;

function who(user: ReceivedEventLike["input"]["user"]): string {
  const parts: string[] = [];
  if (user.email) parts.push(user.email);
  if (user.phone) parts.push(user.phone);
  if (user.externalIdentifiers?.clientUserId) parts.push(`customer ${user.externalIdentifiers.clientUserId}`);
  return parts.length > 0 ? parts.join(", ") : "nobody";
}

function minutesBefore(now: Date, occurredAt: string | null | undefined): string {
  if (!occurredAt) return "no occurredAt";
  const minutes = Math.round((now.getTime() - new Date(occurredAt).getTime()) / 60_000);
  return `occurred ${minutes} min before the demo's start`;
}

/**
 * The demo's report, one block per webhook: what was sent and what Attentive received for it. Times are relative to
 * `now`, so two runs print the same text.
 */
export function formatDemo(results: readonly DemoStepResult[], now: Date): string[] {
  const lines: string[] = [];
  results.forEach(({ webhook, status, events }, index) => {
    lines.push(`${String(index + 1).padStart(2)}. ${webhook.topic.padEnd(26)} ${webhook.caption.padEnd(44)} → ${status}`);
    if (events.length === 0) lines.push("      Attentive received nothing");
    for (const { input, properties } of events) {
      lines.push(`      Attentive: "${input.type}" about ${who(input.user)}, ${minutesBefore(now, input.occurredAt)}`);
      const shown = KEY_PROPERTIES.filter((key) => properties[key] !== undefined && properties[key] !== "").map(
        (key) => `${key}=${typeof properties[key] === "string" ? properties[key] : JSON.stringify(properties[key])}`,
      );
      if (shown.length > 0) lines.push(`        ${shown.join("  ")}`);
    }
  });
  return lines;
}
