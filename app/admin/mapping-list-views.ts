/**
 * The mappings list's search, filter and views as its URL holds them (`?sending=on|off&topic=…&q=…`). The list is
 * short (a shop has at most MAX_MAPPINGS_PER_SHOP mappings), so the page filters what its loader already sent; the URL
 * only keeps the view across reloads and shared links. No server-only imports: the page bundles this.
 */
import { isMappableTopic } from "~/topics/meta";

export interface MappingListView {
  sending?: "on" | "off";
  topic?: string;
  q?: string;
}

export const SAVED_MAPPING_VIEWS: ReadonlyArray<{ id: string; name: string; view: MappingListView }> = [
  { id: "all", name: "All", view: {} },
  { id: "on", name: "Sending", view: { sending: "on" } },
  { id: "off", name: "Turned off", view: { sending: "off" } },
];

export function mappingListViewFrom(params: URLSearchParams): MappingListView {
  const sending = params.get("sending");
  const topic = params.get("topic");
  const q = params.get("q")?.trim();
  return {
    ...(sending === "on" || sending === "off" ? { sending } : {}),
    ...(topic && isMappableTopic(topic) ? { topic } : {}),
    ...(q && q.length <= 200 ? { q } : {}),
  };
}

export function mappingListViewUrl(view: MappingListView): string {
  const params = new URLSearchParams();
  if (view.sending) params.set("sending", view.sending);
  if (view.topic) params.set("topic", view.topic);
  if (view.q) params.set("q", view.q);
  const query = params.toString();
  return query ? `/app/mappings?${query}` : "/app/mappings";
}

export function savedMappingViewIndex(view: MappingListView): number {
  const url = mappingListViewUrl(view);
  return SAVED_MAPPING_VIEWS.findIndex((saved) => mappingListViewUrl(saved.view) === url);
}

/** The mappings a view shows; `query` is the search field's text, applied as it is typed. */
export function mappingsInView<M extends { eventType: string; topic: string; enabled: boolean }>(mappings: M[], view: MappingListView, query: string): M[] {
  const words = query.trim().toLowerCase();
  return mappings.filter(
    (mapping) =>
      (view.sending === undefined || mapping.enabled === (view.sending === "on")) &&
      (view.topic === undefined || mapping.topic === view.topic) &&
      (words === "" || mapping.eventType.toLowerCase().includes(words)),
  );
}
