import { BarChart, PolarisVizProvider } from "@shopify/polaris-viz";

export interface BarsProps {
  series: Array<{ name: string; color: string; data: Array<{ key: string; value: number }> }>;
}

/** The bars of the home page's chart, drawn by polaris-viz: loaded on its own by DeliveriesChart, after the page. */
export function DeliveriesBars({ series }: BarsProps) {
  return (
    <PolarisVizProvider>
      <BarChart theme="Light" type="stacked" showLegend={false} data={series} />
    </PolarisVizProvider>
  );
}
