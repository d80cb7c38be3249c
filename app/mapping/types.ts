import type { MappableTopic } from "~/topics/meta";

/** Topics whose webhooks can be mapped to Attentive custom events: the topic catalog's (app/topics/). */
export { MAPPABLE_TOPICS, isMappableTopic, type MappableTopic } from "~/topics/meta";

/** Liquid templates that say who the event is about; a missing field uses the default. */
export interface UserTemplates {
  email?: string;
  phone?: string;
  clientUserId?: string;
}

/** One mapping as in the mapping file format (docs/mapping-format.md). */
export interface MappingDefinition {
  topic: MappableTopic;
  eventType: string;
  enabled: boolean;
  when?: string;
  /** Property key -> Liquid template, in the order the merchant gave them. */
  properties: Record<string, string>;
  user?: UserTemplates;
}
