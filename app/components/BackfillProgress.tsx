/**
 * A history backfill's status and progress as the Past orders page and Home show it, and the hook that reloads the
 * page's data every couple of seconds while a backfill is under way (so the bar moves), stopping once it finished.
 */
import { useRevalidator } from "@remix-run/react";
import { Badge, BlockStack, InlineStack, ProgressBar, Text } from "@shopify/polaris";
import { useEffect } from "react";
import { ACTIVE_BACKFILL_STATUSES, BACKFILL_STATUS_LABELS, type BackfillStatus } from "~/backfill/constants";

/** How often a page with an active backfill reloads its data. */
export const BACKFILL_REFRESH_MS = 2_000;

const TONES: Partial<Record<BackfillStatus, "info" | "success" | "warning" | "critical" | "attention">> = {
  querying: "info",
  reading: "info",
  sending: "info",
  paused: "warning",
  completed: "success",
  failed: "critical",
};

export function isActiveBackfill(status: BackfillStatus): boolean {
  return ACTIVE_BACKFILL_STATUSES.includes(status);
}

export function BackfillStatusBadge({ status }: { status: BackfillStatus }) {
  const tone = TONES[status];
  return <Badge {...(tone ? { tone } : {})}>{BACKFILL_STATUS_LABELS[status]}</Badge>;
}

export function BackfillProgress({ status, percent }: { status: BackfillStatus; percent: number }) {
  const tone = status === "failed" || status === "cancelled" ? "critical" : status === "completed" ? "success" : "highlight";
  return (
    <BlockStack gap="200">
      <InlineStack align="space-between" blockAlign="center" gap="200">
        <BackfillStatusBadge status={status} />
        <Text as="span" tone="subdued">
          {percent}%
        </Text>
      </InlineStack>
      <ProgressBar progress={percent} tone={tone} animated={false} />
    </BlockStack>
  );
}

/** Reloads the route's data every BACKFILL_REFRESH_MS while `active`, never two loads at once. */
export function useBackfillRefresh(active: boolean): void {
  const revalidator = useRevalidator();
  const { state, revalidate } = revalidator;
  useEffect(() => {
    if (!active) return undefined;
    const timer = setInterval(() => {
      if (state === "idle" && document.visibilityState !== "hidden") revalidate();
    }, BACKFILL_REFRESH_MS);
    return () => clearInterval(timer);
  }, [active, state, revalidate]);
}
