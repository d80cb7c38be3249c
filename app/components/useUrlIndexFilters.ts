/**
 * Polaris IndexFilters whose whole state is the page's URL: saved views as tabs, a search field applied after a pause,
 * and filtering mode for any view that is not a saved one. Shared by the delivery log and the mappings list.
 *
 *   const filters = useUrlIndexFilters({ view, savedViews, savedIndex, query: view.q ?? "", withQuery, show });
 *   <IndexFilters key={filters.key} {...filters.props} filters={…} appliedFilters={…} onClearAll={filters.clearAll} />
 *
 * The page parses its view from the URL (or the URL being loaded, so a ticked box stays ticked) and shows a view by
 * navigating to its URL. Cancel goes back to the saved view filtering started from, as in Shopify admin.
 */
import { useLocation, useNavigationType } from "@remix-run/react";
import { IndexFiltersMode } from "@shopify/polaris";
import { startTransition, useCallback, useEffect, useRef, useState, type KeyboardEvent } from "react";

export interface SavedView<V> {
  id: string;
  name: string;
  view: V;
}

export interface UrlIndexFiltersOptions<V> {
  /** The view the URL shows, or the one it is loading. */
  view: V;
  savedViews: ReadonlyArray<SavedView<V>>;
  /** The saved view `view` is exactly, or -1. */
  savedIndex: number;
  /** The search text `view` holds. */
  query: string;
  withQuery(view: V, query: string): V;
  /** Navigates to a view's URL. */
  show(view: V, options?: { replace?: boolean }): void;
  /** A prefix for the tabs' element ids. */
  idPrefix: string;
  searchDelayMs?: number;
  maxQueryLength?: number;
}

/** What useUrlIndexFilters returns, for UrlIndexFiltersBar. */
export type UrlIndexFilters = ReturnType<typeof useUrlIndexFilters>;

export function useUrlIndexFilters<V>(options: UrlIndexFiltersOptions<V>) {
  const { view, savedViews, savedIndex, show, withQuery } = options;
  const delay = options.searchDelayMs ?? 400;
  const maxLength = options.maxQueryLength ?? 200;
  const location = useLocation();
  const navigationType = useNavigationType();
  const latestView = useRef(view);
  latestView.current = view;

  // A view that is exactly a saved one selects its tab; any other shows its filters (IndexFilters' filtering mode).
  const [mode, setMode] = useState(savedIndex === -1 ? IndexFiltersMode.Filtering : IndexFiltersMode.Default);
  // The tab Cancel goes back to: the one selected when filtering began.
  const [baseTab, setBaseTab] = useState(Math.max(savedIndex, 0));
  // Escape in a filter's popover closes the popover; Polaris hears it as Cancel too, which would drop the filter just
  // chosen. Only Cancel itself, or Escape from the search field, leaves filtering.
  const keepFiltering = useRef(false);

  // The search field: typed text is applied after a pause (or on Enter), replacing the history entry.
  const [query, setQuery] = useState(options.query);
  const appliedQuery = useRef(options.query);
  useEffect(() => {
    // The URL's search changed from elsewhere (a tab, Clear all, Back): show it.
    if (options.query !== appliedQuery.current) {
      appliedQuery.current = options.query;
      setQuery(options.query);
    }
  }, [options.query]);
  const applyQuery = useCallback(
    (value: string) => {
      const applied = value.trim().slice(0, maxLength);
      if (applied === appliedQuery.current) return;
      appliedQuery.current = applied;
      show(withQuery(latestView.current, applied), { replace: true });
    },
    [show, withQuery, maxLength],
  );
  useEffect(() => {
    const timer = setTimeout(() => applyQuery(query), delay);
    return () => clearTimeout(timer);
  }, [query, applyQuery, delay]);

  const showSaved = (index: number) => {
    const saved = savedViews[index] ?? savedViews[0]!;
    setBaseTab(index);
    appliedQuery.current = "";
    setQuery("");
    show(saved.view);
  };

  // Polaris keeps the pills it shows in its own state: Back and Forward, which change them from outside, redraw it.
  const [key, setKey] = useState(0);
  const seenLocation = useRef(location.key);
  useEffect(() => {
    if (location.key === seenLocation.current) return;
    seenLocation.current = location.key;
    if (navigationType === "POP") setKey((current) => current + 1);
  }, [location.key, navigationType]);

  return {
    key,
    /** The text in the search field, which may not be applied yet. */
    query,
    props: {
      tabs: savedViews.map((saved) => ({ id: `${options.idPrefix}-${saved.id}`, content: saved.name, isLocked: true })),
      selected: savedIndex >= 0 ? savedIndex : baseTab,
      onSelect: (index: number) => {
        if (index !== savedIndex && savedViews[index]) showSaved(index);
      },
      canCreateNewView: false,
      queryValue: query,
      onQueryChange: setQuery,
      onQueryClear: () => {
        setQuery("");
        applyQuery("");
      },
      cancelAction: {
        onAction: () => {
          const focused = typeof document === "undefined" ? null : document.activeElement;
          if (focused?.closest(".Polaris-Popover, .Polaris-Filters-FilterPill__FilterButton")) {
            keepFiltering.current = true;
            return;
          }
          showSaved(baseTab);
        },
      },
      mode: savedIndex === -1 ? IndexFiltersMode.Filtering : mode,
      setMode: (next: IndexFiltersMode) => {
        if (next === IndexFiltersMode.Default && keepFiltering.current) {
          keepFiltering.current = false;
          return;
        }
        if (next === IndexFiltersMode.Filtering && savedIndex >= 0) setBaseTab(savedIndex);
        // The bar's filtering mode mounts the search field, the pinned filters and their popovers: 50 to 90 ms at 4x
        // CPU slowdown. As a transition, React renders it in slices after the click's frame is painted, instead of
        // inside the click (INP, `npm run bench` admin).
        startTransition(() => setMode(next));
      },
    },
    /** For a wrapper's onKeyDown: Enter in the search field applies the search without waiting for the pause. */
    onKeyDown: (event: KeyboardEvent) => {
      const target = event.target as HTMLInputElement;
      if (event.key === "Enter" && target.tagName === "INPUT" && target.type === "text") applyQuery(target.value);
    },
    /** IndexFilters' Clear all: the first saved view (All), search included. */
    clearAll: () => showSaved(0),
    /** A Clear filters button outside the bar: All, with the tabs showing. */
    reset: () => {
      setMode(IndexFiltersMode.Default);
      showSaved(0);
    },
  };
}
