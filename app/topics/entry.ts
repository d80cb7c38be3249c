/**
 * What the app knows about one Shopify webhook topic, in one place (decision 014). Each topic is one module that
 * exports a `defineTopic({...})`; the catalog (catalog.ts) collects them in a map keyed by topic, and every part of
 * the app that behaves differently by topic (ingest, the worker, the renderer, the editor, the log, the
 * reconciliation, the docs) reads the entry instead of testing the topic's name. An entry without one of these
 * fields does not compile.
 *
 * Entries are plain data and pure functions: the render threads load them (under tsx, without Vite), and so does the
 * browser bundle, for labels and stages.
 */
import type { MappingDefinition } from "~/mapping/types";
import type { JsonValue } from "~/shopify/json";

/** The order's life as a merchant builds Journeys on it; the editor's topic picker groups topics by these. */
export const LIFECYCLE_STAGES = [
  { stage: "placed", label: "Placed" },
  { stage: "paid", label: "Paid" },
  { stage: "shipped", label: "Shipped" },
  { stage: "delivered", label: "Delivered" },
  { stage: "cancelled", label: "Cancelled" },
  { stage: "refunded", label: "Refunded" },
  { stage: "returned", label: "Returned" },
] as const;
export type LifecycleStage = (typeof LIFECYCLE_STAGES)[number]["stage"];

/** Access scopes a topic's webhooks need (Shopify sends a topic's webhooks only to an app granted its scope). */
export type AccessScope = "read_orders" | "read_fulfillments" | "read_returns";

export type JsonObject = { [key: string]: JsonValue };

/** What a webhook is about, read from its body. */
export interface TopicIdentity {
  /**
   * The resource whose event this is, as a GraphQL id (`gid://shopify/Fulfillment/1`): with the shop and the topic,
   * it is what makes two webhooks the same event. Null when the body lacks it (the webhook's own id is used then).
   */
  subjectId: string | null;
  /** The order it concerns, as a decimal string (never a JS number: ids exceed 2^53). */
  orderId: string | null;
}

/** Records found for a webhook whose body does not hold them (the worker finds them; see order-lookup.server.ts). */
export interface Related {
  /** The order, shaped like an order webhook's body, or null when it could not be found. */
  order: JsonValue | null;
  /** For fulfillment events: their fulfillment, shaped like a fulfillments/create body, or null. */
  fulfillment: JsonValue | null;
}

/** A mapping a topic offers: what a new shop starts with when `enabled`, and what "Add" creates otherwise. */
export type DefaultMapping = Omit<MappingDefinition, "topic">;

/** One field a topic's Liquid templates can read beyond the body's own (documented in docs/mapping-format.md). */
export interface ContextField {
  name: string;
  description: string;
}

/** How the reconciliation job finds this topic's events that no webhook brought, or why it cannot. */
export type TopicReconciliation = { kind: "query"; description: string } | { kind: "none"; why: string };

export interface TopicEntry<T extends string = string> {
  topic: T;
  /** As the merchant reads it: "Parcel shipped". */
  label: string;
  /** One sentence for the editor: when Shopify sends it. */
  description: string;
  stage: LifecycleStage;
  scope: AccessScope;
  /** What one event is about, in the words of skip and failure reasons: "order", "parcel", "refund". */
  subject: string;
  /** The order as failure reasons name it: "the order", "the refunded order". */
  orderNoun: string;
  identify(body: JsonObject): TopicIdentity;
  /** When the thing happened, from the body (never the webhook's arrival). */
  occurredAt(body: JsonObject): Date | null;
  /**
   * Where the order and the person come from: the body itself (order topics), or the order looked up by the
   * body's order id (a recorded order webhook, then the Admin API). `fulfillment: true` also looks up the
   * fulfillment the event belongs to.
   */
  needs: { order: "body" | "lookup"; fulfillment?: boolean };
  /** What the default email, phone and customer id are read from. */
  identitySource(body: JsonObject, related: Related): JsonValue | null;
  /** The Liquid names this topic adds to the body's own fields (they win over body keys of the same name). */
  context(body: JsonObject, related: Related): JsonObject;
  /**
   * A body this topic cannot make an event of although it parsed (a delivery status the app does not know): the
   * reason its deliveries are skipped, or null. Topics whose every body is usable leave it out.
   */
  validate?(body: JsonObject): string | null;
  contextFields: readonly ContextField[];
  defaults: readonly DefaultMapping[];
  /** The file in app/topics/samples/ the editor previews against when the shop has no webhook of the topic yet. */
  sample: string;
  reconciliation: TopicReconciliation;
}

/** Keeps a module's topic name a literal type, so the catalog can check that each entry sits under its own name. */
export function defineTopic<const T extends string>(entry: TopicEntry<T>): TopicEntry<T> {
  return entry;
}
