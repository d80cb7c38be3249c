/**
 * The catalog's topics by stage of the order's life, as the admin shows them (the editor's topic picker, the
 * delivery log's filter, the Mappings page's catalog section): built from the catalog's metadata (app/topics/meta.ts,
 * which the browser can load), so a topic added there appears under its stage with no list to edit.
 */
import { LIFECYCLE_STAGES, MAPPABLE_TOPICS, TOPIC_META, type LifecycleStage, type MappableTopic } from "~/topics/meta";

/** In LIFECYCLE_STAGES' order, each stage's topics in the catalog's; a stage without a topic is left out. */
export const TOPICS_BY_STAGE: ReadonlyArray<{ stage: LifecycleStage; label: string; topics: MappableTopic[] }> = LIFECYCLE_STAGES.map(
  ({ stage, label }) => ({ stage, label, topics: MAPPABLE_TOPICS.filter((topic) => TOPIC_META[topic].stage === stage) }),
).filter((group) => group.topics.length > 0);
