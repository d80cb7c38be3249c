/**
 * Where a delivery's event came from: a Shopify webhook under one of the catalog's topics, or a run of the "Send
 * Attentive event" Flow action. Shared by the server and the admin UI.
 */
import { FLOW_ACTION_MAPPING_ID, FLOW_ACTION_TOPIC } from "~/flow/constants";

/** The topic a Flow action run is recorded under. Not a Shopify topic: the catalog and mappings never see it. */
export const FLOW_TOPIC = FLOW_ACTION_TOPIC;
/** The mapping id a Flow delivery carries; no Mapping row has it. */
export const FLOW_MAPPING_ID = FLOW_ACTION_MAPPING_ID;
/** How the admin names the source of a Flow delivery. */
export const FLOW_SOURCE_LABEL = "Flow action";

/**
 * The delivery log's source filter value for events a history backfill recorded (deliveries with a backfillId,
 * whatever their topic). Not a topic: no delivery is recorded under it.
 */
export const BACKFILL_SOURCE = "backfill";
/** How the admin names the source of a backfilled delivery. */
export const BACKFILL_SOURCE_LABEL = "Past order";

export function isFlowTopic(topic: string): boolean {
  return topic === FLOW_TOPIC;
}

/** Delivered events by where they came from. */
export interface SentBySource {
  webhooks: number;
  flow: number;
}

/** The delivery log's counts: live webhooks, Flow, and past orders a backfill recorded. */
export interface LoggedBySource extends SentBySource {
  backfill: number;
}
