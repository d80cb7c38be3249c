/** Delivery states (docs/decisions/001), shared by the server and the admin UI: the models own the list. */
export const DELIVERY_STATUSES = ["pending", "sending", "delivered", "failed", "skipped"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export function isDeliveryStatus(value: string): value is DeliveryStatus {
  return (DELIVERY_STATUSES as readonly string[]).includes(value);
}

/** How the admin names each state (the log's badge and its status filter). */
export const DELIVERY_STATUS_LABELS: Record<DeliveryStatus, string> = {
  pending: "Pending",
  sending: "Sending",
  delivered: "Delivered",
  failed: "Failed",
  skipped: "Skipped",
};
