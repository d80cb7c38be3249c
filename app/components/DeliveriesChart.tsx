import { Box, InlineStack, Text } from "@shopify/polaris";
import { useEffect, useState, type ComponentType } from "react";
import type { BarsProps } from "./DeliveriesBars";

export interface HourPoint {
  hour: string;
  delivered: number;
  failed: number;
  other: number;
}

const SERIES = [
  { name: "Delivered", color: "#29845a", pick: (point: HourPoint) => point.delivered },
  { name: "Failed", color: "#e22c38", pick: (point: HourPoint) => point.failed },
  { name: "Pending or skipped", color: "#8a8a8a", pick: (point: HourPoint) => point.other },
] as const;

/**
 * Deliveries per hour by outcome. polaris-viz measures the DOM, so it renders in the browser only (and the hours are
 * the merchant's, in their time zone).
 *
 * polaris-viz's bar chart is drawn for the eye only (aria-hidden): its SVG is a `role="list"` whose bar groups are
 * lists again, with no list items between (axe's aria-required-children, critical; in polaris-viz 16, not settable by
 * its props), which screen readers announce as nested empty lists. Screen readers get the same figures as a table
 * instead, and its legend is this component's own (polaris-viz's is a `role="list"` of buttons, the same fault, and
 * would put focusable buttons inside the hidden chart).
 */
export function DeliveriesChart({ hours }: { hours: HourPoint[] }) {
  const [mounted, setMounted] = useState(false);
  // polaris-viz is most of the home page's JavaScript: its bars load after the page is interactive, in an effect
  // (not React.lazy, whose Suspense boundary breaks hydration when the page updates before the code arrives). The
  // frame, legend and table are here from the first paint, so nothing moves when the bars arrive.
  const [Bars, setBars] = useState<ComponentType<BarsProps> | null>(null);
  useEffect(() => {
    setMounted(true);
    let live = true;
    import("./DeliveriesBars")
      .then((module) => {
        if (live) setBars(() => module.DeliveriesBars);
      })
      .catch(() => {
        /* the table below still holds every figure */
      });
    return () => {
      live = false;
    };
  }, []);
  const label = (iso: string) => new Date(iso).toLocaleTimeString(undefined, { hour: "numeric" });
  // 260 px in all, legend included.
  return (
    <div data-testid="deliveries-chart" style={{ height: 260, display: "flex", flexDirection: "column", gap: 8 }}>
      <div style={{ flex: 1, minHeight: 0 }} aria-hidden="true">
        {mounted && Bars ? (
          <Bars
            series={SERIES.map((series) => ({
              name: series.name,
              color: series.color,
              data: hours.map((point) => ({ key: label(point.hour), value: series.pick(point) })),
            }))}
          />
        ) : null}
      </div>
      <InlineStack as="ul" gap="400" align="center">
        {SERIES.map((series) => (
          <li key={series.name} style={{ listStyle: "none", display: "flex", alignItems: "center", gap: 6 }}>
            <span aria-hidden="true" style={{ width: 12, height: 12, borderRadius: 3, background: series.color, display: "inline-block" }} />
            <Text as="span" variant="bodySm">
              {series.name}
            </Text>
          </li>
        ))}
      </InlineStack>
      {/* Out of the flow (visually hidden is absolutely positioned): it takes none of the 260 px. */}
      {mounted ? (
        <Box visuallyHidden>
          <table>
            <caption>Each hour's deliveries by outcome, last 24 hours</caption>
            <thead>
              <tr>
                <th scope="col">Hour</th>
                {SERIES.map((series) => (
                  <th scope="col" key={series.name}>
                    {series.name}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {hours.map((point) => (
                <tr key={point.hour}>
                  <th scope="row">{label(point.hour)}</th>
                  {SERIES.map((series) => (
                    <td key={series.name}>{series.pick(point)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </Box>
      ) : null}
    </div>
  );
}
