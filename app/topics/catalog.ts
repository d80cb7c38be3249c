/**
 * Every Shopify topic the app maps to Attentive events, each entry under its own topic name (decision 014): the
 * topic's metadata from meta.ts joined with its module's handlers. Server code, the render threads and the CLI read
 * this; the browser bundle reads meta.ts only, since this brings every topic's parsers, reconciliation queries and
 * zod schemas along.
 * Adding a topic: its metadata in meta.ts, its module and its line here, its line in shopify.app.toml, its sample in
 * samples/ and derived fixture, its tests, its README row and docs/mapping-format.md section (the list: decision
 * 014, "Adding a topic").
 */
import { topicEntryOf, type TopicEntry, type TopicHandlers } from "./entry";
import { fulfillmentEventsCreate } from "./fulfillment-events-create";
import { fulfillmentsCreate } from "./fulfillments-create";
import { MAPPABLE_TOPICS, TOPIC_META, type MappableTopic } from "./meta";
import { ordersCancelled } from "./orders-cancelled";
import { ordersCreate } from "./orders-create";
import { ordersFulfilled } from "./orders-fulfilled";
import { ordersPaid } from "./orders-paid";
import { refundsCreate } from "./refunds-create";
import { returnsApprove } from "./returns-approve";
import { returnsClose } from "./returns-close";
import { returnsDecline } from "./returns-decline";
import { returnsRequest } from "./returns-request";

export { MAPPABLE_TOPICS, isMappableTopic, type MappableTopic } from "./meta";

/** Each topic's module, under the topic: a topic of meta.ts without its module here (or one extra) does not compile. */
const HANDLERS: { readonly [K in MappableTopic]: TopicHandlers } = {
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
};

/** In meta.ts' order, which is the order of an order's life. */
export const CATALOG = Object.fromEntries(MAPPABLE_TOPICS.map((topic) => [topic, topicEntryOf(TOPIC_META[topic], HANDLERS[topic])])) as {
  readonly [K in MappableTopic]: TopicEntry<K>;
};

export function topicEntry(topic: MappableTopic): TopicEntry<MappableTopic> {
  return CATALOG[topic];
}
