import { Badge } from "@shopify/polaris";

const TONES = {
  delivered: "success",
  failed: "critical",
  pending: "attention",
  sending: "info",
  skipped: undefined,
} as const;

const LABELS: Record<string, string> = {
  delivered: "Delivered",
  failed: "Failed",
  pending: "Pending",
  sending: "Sending",
  skipped: "Skipped",
};

export function DeliveryStatusBadge({ status }: { status: string }) {
  const tone = TONES[status as keyof typeof TONES];
  return <Badge {...(tone ? { tone } : {})}>{LABELS[status] ?? status}</Badge>;
}
