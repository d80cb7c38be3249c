/**
 * Every Shopify topic the app maps to Attentive events, each entry under its own topic name (decision 014).
 * Adding a topic: its module, a line here, its line in shopify.app.toml, its sample in samples/ and derived fixture,
 * its tests, its README row and docs/mapping-format.md section (the list: decision 014, "Adding a topic").
 */
import type { TopicEntry } from "./entry";
import { fulfillmentEventsCreate } from "./fulfillment-events-create";
import { fulfillmentsCreate } from "./fulfillments-create";
import { ordersCancelled } from "./orders-cancelled";
import { ordersCreate } from "./orders-create";
import { ordersFulfilled } from "./orders-fulfilled";
import { ordersPaid } from "./orders-paid";
import { refundsCreate } from "./refunds-create";
import { returnsApprove } from "./returns-approve";
import { returnsClose } from "./returns-close";
import { returnsDecline } from "./returns-decline";
import { returnsRequest } from "./returns-request";

/** Checks that every entry sits under its own topic name. */
function catalogOf<const C extends { [K in keyof C]: TopicEntry<K & string> }>(entries: C): C {
  return entries;
}

export const CATALOG = catalogOf({
  "orders/create": ordersCreate,
  "orders/paid": ordersPaid,
  "fulfillments/create": fulfillmentsCreate,
  "fulfillment_events/create": fulfillmentEventsCreate,
  "orders/fulfilled": ordersFulfilled,
  "orders/cancelled": ordersCancelled,
  "refunds/create": refundsCreate,
  "returns/request": returnsRequest,
  "returns/approve": returnsApprove,
  "returns/decline": returnsDecline,
  "returns/close": returnsClose,
});

export type MappableTopic = keyof typeof CATALOG;

/** In the catalog's order, which is the order of an order's life. */
export const MAPPABLE_TOPICS = Object.keys(CATALOG) as [MappableTopic, ...MappableTopic[]];

export function isMappableTopic(topic: string): topic is MappableTopic {
  return Object.hasOwn(CATALOG, topic);
}

export function topicEntry(topic: MappableTopic): TopicEntry<MappableTopic> {
  return CATALOG[topic];
}
