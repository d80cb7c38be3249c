/**
 * The delivery log's filters as its URL holds them, shared by the loader (which turns them into a query) and the
 * page (which shows them as IndexFilters pills and tabs), so a reload or a shared link shows the same view.
 *
 *   ?status=failed&status=pending   any of these statuses (one value keeps the links that predate the filters working)
 *   ?topic=orders/fulfilled         a catalog topic, Flow, or `backfill` (past orders): the Source filter
 *   ?eventType=Order Fulfilled      ?from=2025-01-31&to=2025-02-28 (received, inclusive)
 *   ?stale=1                        sent more than 12 h late   ?q=#1001 or jane@example.com
 *
 * Anything else in the URL (embedded, host, id_token, the page cursor…) is not part of the view. No server-only
 * imports: the page bundles this.
 */
import { DELIVERY_STATUSES, type DeliveryStatus } from "~/models/delivery-statuses";
import { BACKFILL_SOURCE, FLOW_TOPIC } from "~/models/delivery-sources";
import { MAPPABLE_TOPICS } from "~/topics/meta";

export interface LogView {
  /** In DELIVERY_STATUSES order, without repeats. */
  status: DeliveryStatus[];
  topic?: string;
  eventType?: string;
  /** YYYY-MM-DD, the first day received. */
  from?: string;
  /** YYYY-MM-DD, the last day received (inclusive). */
  to?: string;
  stale: boolean;
  q?: string;
}

export const LOG_VIEW_PARAMS = ["status", "topic", "eventType", "from", "to", "stale", "q"] as const;

const SOURCES = new Set<string>([...MAPPABLE_TOPICS, FLOW_TOPIC, BACKFILL_SOURCE]);
const MAX_TEXT = 200;

function isoDate(value: string | null): string | undefined {
  if (!value || !/^\d{4}-\d{2}-\d{2}$/.test(value)) return undefined;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value ? value : undefined;
}

function text(value: string | null, trim = false): string | undefined {
  const kept = trim ? value?.trim() : value;
  return kept && kept.length <= MAX_TEXT ? kept : undefined;
}

/** The view a URL's query asks for; a value that is not valid is ignored, never an error. */
export function logViewFrom(params: URLSearchParams): LogView {
  const statuses = new Set(params.getAll("status"));
  const topic = params.get("topic");
  const stale = params.get("stale");
  const view: LogView = { status: DELIVERY_STATUSES.filter((status) => statuses.has(status)), stale: stale === "1" || stale === "true" };
  if (topic && SOURCES.has(topic)) view.topic = topic;
  const eventType = text(params.get("eventType"));
  if (eventType) view.eventType = eventType;
  const from = isoDate(params.get("from"));
  if (from) view.from = from;
  const to = isoDate(params.get("to"));
  if (to) view.to = to;
  const q = text(params.get("q"), true);
  if (q) view.q = q;
  return view;
}

/** The view as a query, in one canonical order (no page cursor): what links, the retry form and tabs use. */
export function logViewParams(view: LogView): URLSearchParams {
  const params = new URLSearchParams();
  for (const status of DELIVERY_STATUSES) if (view.status.includes(status)) params.append("status", status);
  if (view.topic) params.set("topic", view.topic);
  if (view.eventType) params.set("eventType", view.eventType);
  if (view.from) params.set("from", view.from);
  if (view.to) params.set("to", view.to);
  if (view.stale) params.set("stale", "1");
  if (view.q) params.set("q", view.q);
  return params;
}

export function logViewUrl(view: LogView, cursor?: { after: string } | { before: string }): string {
  const params = logViewParams(view);
  if (cursor) for (const [name, value] of Object.entries(cursor)) params.set(name, value);
  const query = params.toString();
  return query ? `/app/deliveries?${query}` : "/app/deliveries";
}

export const EMPTY_LOG_VIEW: LogView = { status: [], stale: false };

export function isFiltered(view: LogView): boolean {
  return logViewParams(view).toString() !== "";
}

/** The log's saved views, shown as IndexFilters tabs. */
export const SAVED_LOG_VIEWS: ReadonlyArray<{ id: string; name: string; view: LogView }> = [
  { id: "all", name: "All", view: EMPTY_LOG_VIEW },
  { id: "failed", name: "Failed", view: { ...EMPTY_LOG_VIEW, status: ["failed"] } },
  { id: "stale", name: "Stale", view: { ...EMPTY_LOG_VIEW, stale: true } },
  // Not sent yet: waiting for its first or next attempt, or being sent right now.
  { id: "waiting", name: "Waiting", view: { ...EMPTY_LOG_VIEW, status: ["pending", "sending"] } },
  { id: "past-orders", name: "Past orders", view: { ...EMPTY_LOG_VIEW, topic: BACKFILL_SOURCE } },
];

/** The saved view a view is exactly, or -1 (a view of the merchant's own, shown with its filters). */
export function savedLogViewIndex(view: LogView): number {
  const query = logViewParams(view).toString();
  return SAVED_LOG_VIEWS.findIndex((saved) => logViewParams(saved.view).toString() === query);
}
