import { Badge } from "@shopify/polaris";
import { DELIVERY_STATUS_LABELS, isDeliveryStatus } from "~/models/delivery-statuses";

const TONES = {
  delivered: "success",
  failed: "critical",
  pending: "attention",
  sending: "info",
  skipped: undefined,
} as const;

export function DeliveryStatusBadge({ status }: { status: string }) {
  const tone = TONES[status as keyof typeof TONES];
  return <Badge {...(tone ? { tone } : {})}>{isDeliveryStatus(status) ? DELIVERY_STATUS_LABELS[status] : status}</Badge>;
}
