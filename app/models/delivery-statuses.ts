/** Delivery states (docs/decisions/001), shared by the server and the admin UI: the models own the list. */
export const DELIVERY_STATUSES = ["pending", "sending", "delivered", "failed", "skipped"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export function isDeliveryStatus(value: string): value is DeliveryStatus {
  return (DELIVERY_STATUSES as readonly string[]).includes(value);
}
