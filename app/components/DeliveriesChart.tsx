import { BarChart, PolarisVizProvider } from "@shopify/polaris-viz";
import { useEffect, useState } from "react";

export interface HourPoint {
  hour: string;
  delivered: number;
  failed: number;
  other: number;
}

/** Deliveries per hour by outcome. polaris-viz measures the DOM, so it renders in the browser only. */
export function DeliveriesChart({ hours }: { hours: HourPoint[] }) {
  const [mounted, setMounted] = useState(false);
  useEffect(() => setMounted(true), []);
  const label = (iso: string) => new Date(iso).toLocaleTimeString(undefined, { hour: "numeric" });
  const series = (name: string, pick: (point: HourPoint) => number, color: string) => ({
    name,
    color,
    data: hours.map((point) => ({ key: label(point.hour), value: pick(point) })),
  });
  return (
    <div style={{ height: 260 }} aria-label="Deliveries per hour over the last 24 hours">
      {mounted ? (
        <PolarisVizProvider>
          <BarChart
            theme="Light"
            type="stacked"
            data={[
              series("Delivered", (point) => point.delivered, "#29845a"),
              series("Failed", (point) => point.failed, "#e22c38"),
              series("Pending or skipped", (point) => point.other, "#8a8a8a"),
            ]}
          />
        </PolarisVizProvider>
      ) : null}
    </div>
  );
}

// The home page loads the chart lazily (React.lazy takes a default export).
export default DeliveriesChart;
