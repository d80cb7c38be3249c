import { IndexFilters, type IndexFiltersProps } from "@shopify/polaris";
import type { UrlIndexFilters } from "./useUrlIndexFilters";

type BarProps = Omit<IndexFiltersProps, keyof UrlIndexFilters["props"] | "onClearAll"> & { controls: Pick<UrlIndexFilters, "key" | "props" | "onKeyDown" | "clearAll"> };

/** Polaris IndexFilters driven by useUrlIndexFilters: its tabs, search, mode and Clear all come from `controls`. */
export function UrlIndexFiltersBar({ controls, ...props }: BarProps) {
  return (
    // Enter in the search field applies it at once.
    <div onKeyDown={controls.onKeyDown}>
      <IndexFilters key={controls.key} {...controls.props} {...props} onClearAll={controls.clearAll} />
    </div>
  );
}
