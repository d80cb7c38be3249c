/**
 * The mappings the topic catalog offers (app/topics/). A new shop starts with the enabled ones (decision 014 says
 * which and why); the Mappings page offers the rest with one click. Defaults leave `user` out so the order's own
 * email, phone and customer id are used.
 */
import { MAPPABLE_TOPICS, TOPIC_META, type MappableTopic } from "~/topics/meta";
import type { MappingDefinition } from "./types";

/** Every mapping the catalog offers, in the catalog's order (fresh objects on each call). */
export function catalogMappings(): MappingDefinition[] {
  return MAPPABLE_TOPICS.flatMap((topic) => topicDefaults(topic));
}

export function topicDefaults(topic: MappableTopic): MappingDefinition[] {
  return TOPIC_META[topic].defaults.map((mapping) => structuredClone({ topic, ...mapping }));
}

/** What a new shop starts with. */
export function defaultMappings(): MappingDefinition[] {
  return catalogMappings().filter((mapping) => mapping.enabled);
}
