/**
 * What the app knows about one Shopify webhook topic, in one place (decision 014). The admin's part of it (label,
 * description, stage, scope, default mappings) is the topic's metadata in meta.ts; the rest, how its webhooks are
 * read, related, reconciled and rebuilt from history, is the topic's module, which exports its `TopicHandlers`. The
 * catalog (catalog.ts) joins the two into one `TopicEntry` per topic, in a map keyed by topic, and every part of the
 * app that behaves differently by topic (ingest, the worker, the renderer, the editor, the log, the reconciliation,
 * the docs) reads the entry instead of testing the topic's name. An entry without one of these fields does not
 * compile.
 *
 * Entries are plain data and pure functions: the render threads load them (under tsx, without Vite). The browser
 * bundle loads only meta.ts.
 */
import type { z } from "zod";
import type { JsonValue } from "~/shopify/json";
import type { HistoryOrder } from "./history-order";
import type { AccessScope, TopicMeta } from "./meta";

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

/** One field a topic's Liquid templates can read beyond the body's own (documented in docs/mapping-format.md). */
export interface ContextField {
  name: string;
  description: string;
}

/** The stretch of time one reconciliation run checks: events after `from`, up to and including `until`. */
export interface ReconcileWindow {
  from: Date;
  until: Date;
}

/** An event found through the Admin API, as the webhook would have brought it. */
export interface ReconciledEvent {
  /** The topic's subject as a GraphQL id: what `identify(body).subjectId` gives, so a webhook of it is a duplicate. */
  subjectId: string;
  /** When it happened (ISO 8601); the job keeps only events inside its window. */
  at: string;
  /** Shaped like the topic's webhook body, for the fields its default mappings and identity defaults read. */
  body: JsonObject;
}

/**
 * How the reconciliation job finds a topic's events in a window: `document` is a named query taking `$query: String!`
 * (the search) and `$after: String` (the page cursor), plus any `variables`, and answering
 * `orders { pageInfo { hasNextPage endCursor } nodes }`; `node` is the schema of one of those nodes and `events`
 * turns one into the events it holds (zero or more; the job drops those outside its window).
 */
export interface QueryReconciliationSpec<N> {
  description: string;
  document: string;
  /** Orders per page (the document's `first`): as many as keep the query's requested cost under Shopify's 1,000. */
  pageSize: number;
  /** What the document reads needs, beyond the topic's own scope (which the job checks too). */
  reads: readonly AccessScope[];
  /** Shopify's search syntax for the orders to look at. */
  search(window: ReconcileWindow): string;
  /** Further variables the document takes. */
  variables?(window: ReconcileWindow): Record<string, string>;
  node: z.ZodType<N>;
  events(node: N): ReconciledEvent[];
}

/** A query reconciliation with its node type hidden, so every topic's fits one catalog. */
export interface QueryReconciliation extends Omit<QueryReconciliationSpec<unknown>, "node" | "events"> {
  kind: "query";
  node: z.ZodType<unknown>;
  /** Only for a value `node` parsed. */
  events(node: unknown): ReconciledEvent[];
}

/** How the reconciliation job finds this topic's events that no webhook brought, or why it cannot. */
export type TopicReconciliation = QueryReconciliation | { kind: "none"; why: string };

export function queryReconciliation<N>(spec: QueryReconciliationSpec<N>): QueryReconciliation {
  // The cast is safe by contract: the job passes `events` only what `spec.node` parsed.
  return { ...spec, kind: "query", events: (node) => spec.events(node as N) };
}

/**
 * How a history backfill (docs/decisions/016) finds this topic's past events in an order its bulk query read: the
 * events the order holds, each with the subject id its webhook would have (so either one makes the other a
 * duplicate), or why the topic cannot be rebuilt from history.
 */
export type TopicHistory = { kind: "bulk"; events(order: HistoryOrder): ReconciledEvent[] } | { kind: "none"; why: string };

/**
 * A topic's history from its reconciliation's events function: the assembled order is in the shape its paginated
 * query answers (after `adapt`), and the bodies say they came from the backfill.
 */
export function historyFromReconciliation(reconciliation: QueryReconciliation, adapt: (order: HistoryOrder) => unknown = (order) => order): TopicHistory {
  return {
    kind: "bulk",
    events(order) {
      const node = reconciliation.node.safeParse(adapt(order));
      if (!node.success) return [];
      return reconciliation.events(node.data).map((event) => ({ ...event, body: { ...event.body, source: "backfill" } }));
    },
  };
}

/** A topic's catalog entry: its metadata (meta.ts), and what its module gives (`TopicHandlers`). */
export interface TopicEntry<T extends string = string> extends TopicMeta<T> {
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
  /** The file in app/topics/samples/ the editor previews against when the shop has no webhook of the topic yet. */
  sample: string;
  reconciliation: TopicReconciliation;
  history: TopicHistory;
}

/**
 * What a topic's module exports: its entry without the metadata, which meta.ts holds (so a label or a default
 * written here does not compile).
 */
export type TopicHandlers = Omit<TopicEntry, keyof TopicMeta>;

/** A topic's entry: its metadata, and its module's handlers (the metadata last, so it is what the entry says). */
export function topicEntryOf<T extends string>(meta: TopicMeta<T>, handlers: TopicHandlers): TopicEntry<T> {
  return { ...handlers, ...meta };
}
