/**
 * What the admin shows of each Shopify topic the app maps (decision 014): its label, when Shopify sends it, its stage
 * of the order's life, the access scope it needs, and the mappings it offers. This is the browser's view of the
 * topic catalog: pages, components and the modules they bundle import this, never catalog.ts, whose entries add
 * each topic's webhook readers, reconciliation and history (with their zod schemas and GraphQL documents). The
 * catalog builds every entry from the metadata here and the topic's module, so these words are written only here.
 *
 * Type imports only (test/topics/meta.test.ts holds it to that), so bundling this brings no other module along.
 */
import type { MappingDefinition } from "~/mapping/types";

/** The order's life as a merchant builds Journeys on it; the editor's topic picker groups topics by these. */
export const LIFECYCLE_STAGES = [
  { stage: "placed", label: "Placed" },
  { stage: "paid", label: "Paid" },
  { stage: "shipped", label: "Shipped" },
  { stage: "delivered", label: "Delivered" },
  { stage: "cancelled", label: "Cancelled" },
  { stage: "refunded", label: "Refunded" },
  { stage: "returned", label: "Returned" },
] as const;
export type LifecycleStage = (typeof LIFECYCLE_STAGES)[number]["stage"];

/** Access scopes a topic's webhooks need (Shopify sends a topic's webhooks only to an app granted its scope). */
export type AccessScope = "read_orders" | "read_fulfillments" | "read_returns";

/** A mapping a topic offers: what a new shop starts with when `enabled`, and what "Add" creates otherwise. */
export type DefaultMapping = Omit<MappingDefinition, "topic">;

/** The part of a topic's catalog entry (TopicEntry in entry.ts) that the admin shows. */
export interface TopicMeta<T extends string = string> {
  topic: T;
  /** As the merchant reads it: "Parcel shipped". */
  label: string;
  /** One sentence for the editor: when Shopify sends it. */
  description: string;
  stage: LifecycleStage;
  scope: AccessScope;
  defaults: readonly DefaultMapping[];
}

/** What a message about an order usually says, read from an order body. */
export const ORDER_PROPERTIES: Readonly<Record<string, string>> = {
  orderName: "{{ name }}",
  orderNumber: "{{ order_number }}",
  firstName: "{{ customer.first_name | default: shipping_address.first_name }}",
  totalPrice: "{{ total_price }}",
  currency: "{{ currency }}",
  itemTitles: "{{ line_items | map: 'title' | join: ', ' }}",
  itemCount: "{{ line_items | map: 'quantity' | sum }}",
  orderStatusUrl: "{{ order_status_url }}",
};

/** What a message about a return usually says, read from a returns/* body and the order found for it. */
export const RETURN_PROPERTIES: Readonly<Record<string, string>> = {
  orderName: "{{ order.name }}",
  firstName: "{{ order.customer.first_name | default: order.shipping_address.first_name }}",
  returnName: "{{ name }}",
  returnStatus: "{{ status }}",
  itemCount: "{{ total_return_line_items }}",
  orderStatusUrl: "{{ order.order_status_url }}",
};

/** The statuses Shopify's FulfillmentEvent can have (its FulfillmentEventStatus enum, lower-cased as webhooks send it). */
export const FULFILLMENT_EVENT_STATUSES = [
  "label_printed",
  "label_purchased",
  "confirmed",
  "ready_for_pickup",
  "picked_up",
  "carrier_picked_up",
  "in_transit",
  "out_for_delivery",
  "attempted_delivery",
  "delayed",
  "delivered",
  "failure",
] as const;

const DELIVERY_UPDATE_PROPERTIES = {
  orderName: "{{ order.name }}",
  firstName: "{{ order.customer.first_name | default: order.shipping_address.first_name }}",
  status: "{{ status }}",
  message: "{{ message }}",
  trackingNumber: "{{ fulfillment.tracking_number }}",
  trackingUrl: "{{ fulfillment.tracking_url }}",
  trackingCompany: "{{ fulfillment.tracking_company }}",
  estimatedDeliveryAt: "{{ estimated_delivery_at }}",
  orderStatusUrl: "{{ order.order_status_url }}",
};

/** A delivery update's mapping for one status. */
function onStatus(eventType: string, status: (typeof FULFILLMENT_EVENT_STATUSES)[number], enabled: boolean): DefaultMapping {
  return { eventType, enabled, when: `status == '${status}'`, properties: { ...DELIVERY_UPDATE_PROPERTIES } };
}

/** Refunds can also record failed or pending attempts; only money actually returned counts. */
const REFUNDED_TRANSACTIONS = "transactions | where: 'kind', 'refund' | where: 'status', 'success'";

/** What the four returns/* topics share. */
const RETURN_TOPIC = { stage: "returned", scope: "read_returns" } as const;

/** Each topic's metadata under its name, with the name put into it (so each sits under its own). */
function metaOf<M extends Record<string, Omit<TopicMeta, "topic">>>(entries: M): { readonly [K in keyof M & string]: TopicMeta<K> } {
  return Object.fromEntries(Object.entries(entries).map(([topic, meta]) => [topic, { topic, ...meta }])) as {
    [K in keyof M & string]: TopicMeta<K>;
  };
}

/**
 * Every Shopify topic the app maps, in the order of an order's life. Adding a topic starts here (the list: decision
 * 014, "Adding a topic"); catalog.ts then does not compile until the topic's module is in it too.
 */
export const TOPIC_META = metaOf({
  "orders/create": {
    label: "Order placed",
    description: "An order was placed: online, at a point of sale, or created by staff.",
    stage: "placed",
    scope: "read_orders",
    // Off for new shops: Attentive's own Shopify integration already reports purchases.
    defaults: [{ eventType: "Order Placed", enabled: false, properties: { ...ORDER_PROPERTIES } }],
  },
  "orders/paid": {
    label: "Order paid",
    description: "The order is paid in full (at checkout, or later when payment is captured or marked as received).",
    stage: "paid",
    scope: "read_orders",
    defaults: [{ eventType: "Order Paid", enabled: false, properties: { ...ORDER_PROPERTIES, paymentGateways: "{{ payment_gateway_names | join: ', ' }}" } }],
  },
  "fulfillments/create": {
    label: "Parcel shipped",
    description: "A fulfillment was created: one parcel of the order, with its tracking number. An order shipped in three parcels sends three.",
    stage: "shipped",
    scope: "read_fulfillments",
    defaults: [
      {
        eventType: "Order Shipped",
        enabled: true,
        properties: {
          orderName: "{{ order.name }}",
          firstName: "{{ order.customer.first_name | default: destination.first_name }}",
          trackingNumber: "{{ tracking_number }}",
          trackingUrl: "{{ tracking_url }}",
          trackingCompany: "{{ tracking_company }}",
          itemTitles: "{{ line_items | map: 'title' | join: ', ' }}",
          itemCount: "{{ line_items | map: 'quantity' | sum }}",
          orderStatusUrl: "{{ order.order_status_url }}",
        },
      },
    ],
  },
  "fulfillment_events/create": {
    label: "Delivery update",
    description:
      "The carrier reported on a parcel: in transit, out for delivery, delivered, attempted delivery, failure, ready for pickup, picked up. Send each status as its own event with a condition on status.",
    stage: "delivered",
    scope: "read_fulfillments",
    defaults: [
      onStatus("Order In Transit", "in_transit", false),
      onStatus("Order Out For Delivery", "out_for_delivery", true),
      onStatus("Order Delivered", "delivered", true),
      onStatus("Delivery Attempted", "attempted_delivery", false),
      onStatus("Delivery Failed", "failure", false),
      onStatus("Order Ready For Pickup", "ready_for_pickup", false),
      onStatus("Order Picked Up", "picked_up", false),
    ],
  },
  "orders/fulfilled": {
    label: "Order fulfilled",
    description: "Every item of the order has shipped: once per order, however many parcels.",
    stage: "shipped",
    scope: "read_orders",
    defaults: [
      {
        eventType: "Order Fulfilled",
        enabled: true,
        properties: {
          orderName: "{{ name }}",
          orderNumber: "{{ order_number }}",
          firstName: "{{ customer.first_name | default: shipping_address.first_name }}",
          totalPrice: "{{ total_price }}",
          currency: "{{ currency }}",
          itemTitles: "{{ line_items | map: 'title' | join: ', ' }}",
          itemCount: "{{ line_items | map: 'quantity' | sum }}",
          trackingNumber: "{{ fulfillments.last.tracking_number }}",
          trackingUrl: "{{ fulfillments.last.tracking_url }}",
          trackingCompany: "{{ fulfillments.last.tracking_company }}",
          orderStatusUrl: "{{ order_status_url }}",
        },
      },
    ],
  },
  "orders/cancelled": {
    label: "Order cancelled",
    description: "The order was cancelled; cancel_reason says why (customer, fraud, inventory, declined, staff, other).",
    stage: "cancelled",
    scope: "read_orders",
    defaults: [
      {
        eventType: "Order Cancelled",
        enabled: true,
        properties: { ...ORDER_PROPERTIES, cancelReason: "{{ cancel_reason }}", cancelledAt: "{{ cancelled_at }}" },
      },
    ],
  },
  "refunds/create": {
    label: "Refund created",
    description: "A refund was issued on an order (money back, with or without items).",
    stage: "refunded",
    scope: "read_orders",
    defaults: [
      {
        eventType: "Order Refunded",
        enabled: true,
        properties: {
          orderName: "{{ order.name }}",
          firstName: "{{ order.customer.first_name | default: order.shipping_address.first_name }}",
          // Rounded because summing decimal strings in floating point leaves tails like 85.00000000000001.
          refundAmount: `{{ ${REFUNDED_TRANSACTIONS} | map: 'amount' | sum | round: 2 }}`,
          currency: "{{ transactions.first.currency | default: order.presentment_currency | default: order.currency }}",
          refundedItemTitles: "{{ refund_line_items | map: 'line_item' | map: 'title' | join: ', ' }}",
          note: "{{ note }}",
          orderStatusUrl: "{{ order.order_status_url }}",
        },
      },
    ],
  },
  "returns/request": {
    ...RETURN_TOPIC,
    label: "Return requested",
    description: "The customer asked to return items (from the order status page or the customer account).",
    defaults: [{ eventType: "Return Requested", enabled: false, properties: { ...RETURN_PROPERTIES } }],
  },
  "returns/approve": {
    ...RETURN_TOPIC,
    label: "Return approved",
    description: "The merchant approved a return request; the customer can send the items back.",
    defaults: [{ eventType: "Return Approved", enabled: false, properties: { ...RETURN_PROPERTIES } }],
  },
  "returns/decline": {
    ...RETURN_TOPIC,
    label: "Return declined",
    description: "The merchant declined a return request; decline.reason and decline.note say why.",
    defaults: [{ eventType: "Return Declined", enabled: false, properties: { ...RETURN_PROPERTIES, declineReason: "{{ decline.reason }}", declineNote: "{{ decline.note }}" } }],
  },
  "returns/close": {
    ...RETURN_TOPIC,
    label: "Return closed",
    description: "The return is complete: items received and refunds or exchanges settled.",
    defaults: [{ eventType: "Return Closed", enabled: false, properties: { ...RETURN_PROPERTIES } }],
  },
});

export type MappableTopic = keyof typeof TOPIC_META;

/** In the order of an order's life. */
export const MAPPABLE_TOPICS = Object.keys(TOPIC_META) as [MappableTopic, ...MappableTopic[]];

export function isMappableTopic(topic: string): topic is MappableTopic {
  return Object.hasOwn(TOPIC_META, topic);
}
