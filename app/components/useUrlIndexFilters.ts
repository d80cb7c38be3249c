/**
 * Polaris IndexFilters whose whole state is the page's URL: saved views as tabs, a search field applied after a pause,
 * and filtering mode for any view that is not a saved one. Shared by the delivery log and the mappings list.
 *
 *   const filters = useUrlIndexFilters({ view, savedViews, savedIndex, query: view.q ?? "", withQuery, show });
 *   const update = (change) => filters.show({ ...filters.current(), ...change });
 *   <UrlIndexFiltersBar controls={filters} filters={…} appliedFilters={…} />
 *
 * The page parses its view from the URL (or the URL being loaded, so a ticked box stays ticked) and shows a view by
 * navigating to its URL. Changes go through `filters.show` and build on `filters.current()`, so two clicks made
 * before the first one's URL is drawn both count; `filters.view` is what the bar should draw meanwhile. Cancel goes
 * back to the saved view filtering started from, as in Shopify admin.
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
  // The view the last change asked for, until the page renders the URL it navigates to. Remix renders navigations as
  // transitions, so a second click can come before that render: a change builds on what was asked, not on the view
  // still shown (ticking two boxes quickly keeps both). The ref serves click handlers at once; the state, set in the
  // same click, renders the asked view's tab and ticks before the next click (Polaris ignores a click on the tab it
  // shows as selected, so a tab clicked right after another must already show as not selected).
  const requested = useRef<{ from: V; to: V } | null>(null);
  const [asked, setAsked] = useState<{ from: V; to: V } | null>(null);
  const current = useCallback((): V => {
    const last = requested.current;
    return last !== null && last.from === latestView.current ? last.to : latestView.current;
  }, []);
  const go = useCallback(
    (next: V, goOptions?: { replace?: boolean }) => {
      const request = { from: latestView.current, to: next };
      requested.current = request;
      setAsked(request);
      show(next, goOptions);
    },
    [show],
  );
  // What the bar shows: the view asked for while its URL is on its way, else the URL's. A saved view asked for is
  // known by identity (showSaved passes the saved object).
  const shown = asked !== null && asked.from === view ? asked.to : view;
  const shownIndex = shown === view ? savedIndex : savedViews.findIndex((saved) => saved.view === shown);

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
      go(withQuery(current(), applied), { replace: true });
    },
    [go, current, withQuery, maxLength],
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
    go(saved.view);
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
    /** The view the bar shows: the one asked for while its URL loads, else the URL's. Filters render from it. */
    view: shown,
    /** The view to build the next change on: the one last asked for, or the URL's. */
    current,
    /** Shows a view (the page's `show`), remembering it for `current`. */
    show: go,
    /** The text in the search field, which may not be applied yet. */
    query,
    props: {
      tabs: savedViews.map((saved) => ({ id: `${options.idPrefix}-${saved.id}`, content: saved.name, isLocked: true })),
      selected: shownIndex >= 0 ? shownIndex : baseTab,
      onSelect: (index: number) => {
        const target = savedViews[index];
        if (target && current() !== target.view && !(index === savedIndex && current() === view)) showSaved(index);
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
      mode: shownIndex === -1 ? IndexFiltersMode.Filtering : mode,
      setMode: (next: IndexFiltersMode) => {
        if (next === IndexFiltersMode.Default && keepFiltering.current) {
          keepFiltering.current = false;
          return;
        }
        if (next === IndexFiltersMode.Filtering && shownIndex >= 0) setBaseTab(shownIndex);
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
