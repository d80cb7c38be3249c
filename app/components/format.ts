import { TOPICS_BY_STAGE } from "~/mapping/topic-groups";
import { BACKFILL_SOURCE, FLOW_SOURCE_LABEL, FLOW_TOPIC, isFlowTopic } from "~/models/delivery-sources";
import { MAPPABLE_TOPICS, TOPIC_META, type MappableTopic } from "~/topics/meta";

/** Dates as a merchant reads them, in their browser's locale and time zone. */
export function formatDateTime(value: string | Date | null | undefined): string {
  if (!value) return "—";
  const date = typeof value === "string" ? new Date(value) : value;
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function formatRelative(value: string | Date | null | undefined, now = Date.now()): string {
  if (!value) return "—";
  const ms = now - (typeof value === "string" ? new Date(value) : value).getTime();
  const minutes = Math.round(ms / 60_000);
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}

export const TOPIC_LABELS: Record<string, string> = Object.fromEntries(MAPPABLE_TOPICS.map((topic) => [topic, TOPIC_META[topic].label]));

/** Option groups for a Polaris Select of topics, one per stage of the order's life. */
export function topicOptionGroups(labelOf: (topic: MappableTopic) => string): Array<{ title: string; options: Array<{ value: string; label: string }> }> {
  return TOPICS_BY_STAGE.map((group) => ({ title: group.label, options: group.topics.map((topic) => ({ value: topic, label: labelOf(topic) })) }));
}

/** The editor's topic picker: the catalog's label, and the topic as Shopify names it. */
export const TOPIC_OPTION_GROUPS = topicOptionGroups((topic) => `${TOPIC_META[topic].label} (${topic})`);

/** What a delivery came from, as the log and the delivery page name it: a Shopify topic's label, or Flow. */
export function sourceLabel(topic: string): string {
  return isFlowTopic(topic) ? FLOW_SOURCE_LABEL : (TOPIC_LABELS[topic] ?? topic);
}

/**
 * The delivery log's source filter: the catalog's topics by stage, then Flow in a group of its own (it is not a
 * Shopify topic, so the catalog and the topic groups know nothing of it), then the events backfills recorded from
 * past orders (any topic).
 */
export const SOURCE_FILTER_GROUPS: Array<{ title: string; options: Array<{ value: string; label: string }> }> = [
  ...topicOptionGroups((topic) => TOPIC_LABELS[topic] ?? topic),
  { title: "Shopify Flow", options: [{ value: FLOW_TOPIC, label: FLOW_SOURCE_LABEL }] },
  { title: "Past orders", options: [{ value: BACKFILL_SOURCE, label: "Backfill (past orders)" }] },
];

/** EmptyState requires an image; the app shows none (a 1x1 blank SVG). */
export const NO_ILLUSTRATION = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/%3E";
