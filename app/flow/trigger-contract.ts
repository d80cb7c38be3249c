/**
 * The "Attentive event failed" Flow trigger (extensions/attentive-event-failed): its handle and the fields of the
 * payload the app sends with `flowTriggerReceive` when a delivery ends failed. The extension file declares the same
 * fields (test/flow/extensions.test.ts holds the two together), so a workflow can use each as a variable.
 */
export const FLOW_TRIGGER_HANDLE = "attentive-event-failed";

/** Payload keys, as declared in the extension's fields; every one is sent on every run. */
export const FLOW_TRIGGER_FIELDS = {
  eventType: "Event type",
  source: "Source",
  orderName: "Order name",
  reason: "Reason",
  deliveryUrl: "Delivery URL",
} as const;

/** The Source of an event a Flow action sent (other events name their Shopify topic, such as orders/fulfilled). */
export const FLOW_SOURCE = "Flow";

export type FlowTriggerPayload = Record<(typeof FLOW_TRIGGER_FIELDS)[keyof typeof FLOW_TRIGGER_FIELDS], string>;
