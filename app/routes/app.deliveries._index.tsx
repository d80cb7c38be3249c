import { json, type ActionFunctionArgs, type LoaderFunctionArgs } from "@remix-run/node";
import { useFetcher, useLoaderData, useLocation, useNavigate, useNavigation } from "@remix-run/react";
import { useAppBridge } from "@shopify/app-bridge-react";
import logStyles from "~/components/delivery-log.css?url";
import {
  Badge,
  BlockStack,
  Box,
  Button,
  Card,
  Checkbox,
  ChoiceList,
  EmptyState,
  IndexTable,
  InlineStack,
  Link,
  Page,
  Text,
  TextField,
  useBreakpoints,
  type AppliedFilterInterface,
  type FilterInterface,
} from "@shopify/polaris";
import { memo, useCallback, useEffect, useMemo, useRef, useState, type MutableRefObject } from "react";
import { adminContext } from "~/admin/context.server";
import {
  isFiltered,
  logViewFrom,
  logViewParams,
  logViewUrl,
  SAVED_LOG_VIEWS,
  savedLogViewIndex,
  type LogView,
} from "~/admin/delivery-log-views";
import { DeliveryStatusBadge } from "~/components/DeliveryStatusBadge";
import { formatDateTime, NO_ILLUSTRATION, SOURCE_FILTER_GROUPS, sourceLabel } from "~/components/format";
import { NumberCell } from "~/components/NumberCell";
import { UrlIndexFiltersBar } from "~/components/UrlIndexFiltersBar";
import { useStableCallback } from "~/components/useStableCallback";
import { useUrlIndexFilters } from "~/components/useUrlIndexFilters";
import { BACKFILL_SOURCE, BACKFILL_SOURCE_LABEL } from "~/models/delivery-sources";
import { DELIVERY_STATUS_LABELS, DELIVERY_STATUSES } from "~/models/delivery-statuses";
import {
  decodeCursor,
  deliveriesBySource,
  deliveryLogPage,
  type DeliveryLogFilter,
  type DeliveryLogPosition,
  loggedEventTypes,
  retryFailedMatching,
} from "~/models/Delivery.server";

const DAY_MS = 24 * 60 * 60 * 1000;
/** Without a From date, the counts by source cover this many days, as the home page's do. */
const COUNT_DAYS = 7;

function filterFrom(params: URLSearchParams): DeliveryLogFilter {
  const view = logViewFrom(params);
  return {
    ...(view.status.length > 0 ? { status: view.status } : {}),
    ...(view.topic === BACKFILL_SOURCE ? { backfill: true } : view.topic ? { topic: view.topic } : {}),
    ...(view.eventType ? { eventType: view.eventType } : {}),
    ...(view.from ? { from: new Date(`${view.from}T00:00:00Z`) } : {}),
    // "to" is inclusive of the whole day.
    ...(view.to ? { to: new Date(new Date(`${view.to}T00:00:00Z`).getTime() + DAY_MS) } : {}),
    ...(view.stale ? { stale: true } : {}),
    ...(view.q ? { search: view.q } : {}),
  };
}

function positionFrom(params: URLSearchParams): DeliveryLogPosition {
  const after = decodeCursor(params.get("after"));
  if (after) return { after };
  const before = decodeCursor(params.get("before"));
  return before ? { before } : null;
}

export const loader = async ({ request }: LoaderFunctionArgs) => {
  const { shop, prisma } = await adminContext(request);
  const url = new URL(request.url);
  const filter = filterFrom(url.searchParams);
  // Counted over the filter's dates, or the last 7 days when it has no From date (a bounded count on a large log).
  const countFrom = filter.from ?? new Date(Date.now() - COUNT_DAYS * DAY_MS);
  const [page, eventTypes, bySource] = await Promise.all([
    deliveryLogPage(prisma, shop, filter, positionFrom(url.searchParams)),
    loggedEventTypes(prisma, shop),
    deliveriesBySource(prisma, shop, { ...filter, from: countFrom }),
  ]);
  return {
    ...page,
    eventTypes,
    filtered: Object.keys(filter).length > 0,
    bySource: { ...bySource, lastDays: filter.from || filter.to ? null : COUNT_DAYS },
  };
};

export const action = async ({ request }: ActionFunctionArgs) => {
  const { shop, prisma } = await adminContext(request);
  const form = await request.formData();
  if (form.get("intent") !== "retry-failed") return json({ ok: false as const, message: "Unknown action: reload the page." }, { status: 400 });
  const filter = filterFrom(new URLSearchParams(String(form.get("filter") ?? "")));
  const count = await retryFailedMatching(prisma, shop, filter);
  return json({ ok: true as const, message: count === 0 ? "No failed deliveries match the filter" : `${count} failed deliver${count === 1 ? "y" : "ies"} queued again` });
};

/** "Last 7 days: 12 from Shopify webhooks · 3 from Flow" (· "40 from past orders" when any), or "Matching, …" under a filter. */
function countsLine(filtered: boolean, counts: { webhooks: number; flow: number; backfill: number; lastDays: number | null }): string {
  const head = counts.lastDays === null ? "Matching" : filtered ? `Matching, last ${counts.lastDays} days` : `Last ${counts.lastDays} days`;
  const past = counts.backfill > 0 ? ` · ${counts.backfill} from past orders` : "";
  return `${head}: ${counts.webhooks} from Shopify webhooks · ${counts.flow} from Flow${past}`;
}

const SOURCE_LABELS = new Map(SOURCE_FILTER_GROUPS.flatMap((group) => group.options.map((option) => [option.value, option.label] as const)));

const withQuery = (view: LogView, q: string): LogView => ({ ...view, q: q || undefined });

function receivedLabel(view: LogView): string {
  if (view.from && view.to) return `Received ${view.from} to ${view.to}`;
  return view.from ? `Received from ${view.from}` : `Received until ${view.to}`;
}

export default function Deliveries() {
  const { deliveries, nextCursor, previousCursor, eventTypes, filtered, bySource } = useLoaderData<typeof loader>();
  const location = useLocation();
  const navigate = useNavigate();
  const navigation = useNavigation();
  const retry = useFetcher<typeof action>();
  const { smDown } = useBreakpoints();
  const shopify = useAppBridge();

  // The URL is the view: filters, search and tab all come from it, and every change is a navigation. While the log
  // loads, the controls already show where it is going (a ticked box stays ticked).
  const pending = navigation.location?.pathname === location.pathname ? navigation.location : null;
  const search = (pending ?? location).search;
  const view = useMemo(() => logViewFrom(new URLSearchParams(search)), [search]);
  const show = useCallback(
    (next: LogView, options: { replace?: boolean } = {}) => navigate(logViewUrl(next), { replace: options.replace ?? false, preventScrollReset: true }),
    [navigate],
  );
  useEffect(() => {
    if (retry.data) shopify.toast.show(retry.data.message, { isError: !retry.data.ok });
  }, [retry.data, shopify]);

  const loading = pending !== null;
  const retryFilter = logViewParams(view).toString();
  // The filter bar owns its state (memoised below); the page's Clear filters buttons reach its reset through this.
  const resetFilters = useRef<() => void>(() => undefined);
  const clearFilters = useStableCallback(() => resetFilters.current());

  return (
    <Page title="Delivery log" backAction={{ content: "Home", url: "/app" }} fullWidth>
      <BlockStack gap="400">
        <Box paddingInline={{ xs: "400", sm: "0" }}>
          <BlockStack gap="200">
            <Text as="p" tone="subdued">
              {countsLine(filtered, bySource)}
            </Text>
            <InlineStack gap="200" blockAlign="center">
              <retry.Form method="post">
                <input type="hidden" name="intent" value="retry-failed" />
                <input type="hidden" name="filter" value={retryFilter} />
                <Button submit loading={retry.state !== "idle"}>
                  {filtered ? "Retry failed deliveries matching the filter" : "Retry all failed deliveries"}
                </Button>
              </retry.Form>
              {isFiltered(view) ? (
                <Button variant="plain" onClick={clearFilters}>
                  Clear filters
                </Button>
              ) : null}
            </InlineStack>
          </BlockStack>
        </Box>
        <Card padding="0">
          <DeliveryLogFilters view={view} show={show} eventTypes={eventTypes} loading={loading} resetRef={resetFilters} />
          <DeliveryLogTable
            deliveries={deliveries}
            view={view}
            nextCursor={nextCursor}
            previousCursor={previousCursor}
            filtered={filtered}
            loading={loading}
            smDown={smDown}
            onClearFilters={clearFilters}
          />
        </Card>
      </BlockStack>
    </Page>
  );
}

interface DeliveryLogFiltersProps {
  view: LogView;
  show(view: LogView, options?: { replace?: boolean }): void;
  eventTypes: string[];
  loading: boolean;
  /** Set to the bar's reset (All, with the tabs showing), for the page's Clear filters buttons. */
  resetRef: MutableRefObject<() => void>;
}

/**
 * The search and filter bar. Memoised, with its mode and typed search in its own state: opening the bar or typing
 * re-renders the bar alone, not the page around it (INP, `npm run bench` admin).
 */
const DeliveryLogFilters = memo(function DeliveryLogFilters({ view, show, eventTypes, loading, resetRef }: DeliveryLogFiltersProps) {
  const indexFilters = useUrlIndexFilters({
    view,
    savedViews: SAVED_LOG_VIEWS,
    savedIndex: savedLogViewIndex(view),
    query: view.q ?? "",
    withQuery,
    show,
    idPrefix: "delivery-log",
  });
  const update = (change: Partial<LogView>) => indexFilters.show({ ...indexFilters.current(), ...change });
  // The view asked for while its URL loads: the ticks and pills follow a click at once.
  const shown = indexFilters.view;

  const eventTypeChoices = [...new Set([...eventTypes, ...(shown.eventType ? [shown.eventType] : [])])].map((type) => ({ label: type, value: type }));
  const filters: FilterInterface[] = [
    {
      key: "status",
      label: "Status",
      pinned: true,
      filter: (
        <ChoiceList
          title="Status"
          titleHidden
          allowMultiple
          choices={DELIVERY_STATUSES.map((status) => ({ label: DELIVERY_STATUS_LABELS[status], value: status }))}
          selected={shown.status}
          onChange={(selected) => {
            // The box just toggled (against what this list shows), applied to the statuses last asked for: a second
            // tick before the first is shown builds on it.
            const toggled = DELIVERY_STATUSES.filter((status) => selected.includes(status) !== shown.status.includes(status));
            const asked = indexFilters.current().status;
            update({ status: DELIVERY_STATUSES.filter((status) => asked.includes(status) !== toggled.includes(status)) });
          }}
        />
      ),
    },
    {
      key: "topic",
      label: "Source",
      pinned: true,
      filter: (
        <BlockStack gap="200">
          {SOURCE_FILTER_GROUPS.map((group) => (
            <ChoiceList
              key={group.title}
              name="delivery-log-source"
              title={group.title}
              choices={group.options}
              selected={group.options.some((option) => option.value === shown.topic) ? [shown.topic!] : []}
              onChange={([topic]) => update({ topic })}
            />
          ))}
        </BlockStack>
      ),
    },
    {
      key: "eventType",
      label: "Event type",
      filter:
        eventTypeChoices.length > 0 ? (
          <ChoiceList title="Event type" titleHidden choices={eventTypeChoices} selected={shown.eventType ? [shown.eventType] : []} onChange={([eventType]) => update({ eventType })} />
        ) : (
          <Text as="p" tone="subdued">
            No events recorded yet.
          </Text>
        ),
    },
    {
      key: "received",
      label: "Date received",
      filter: (
        <BlockStack gap="200">
          <TextField label="Received from" type="date" value={shown.from ?? ""} onChange={(from) => update({ from: from || undefined })} autoComplete="off" />
          <TextField label="Received to" type="date" value={shown.to ?? ""} onChange={(to) => update({ to: to || undefined })} autoComplete="off" />
        </BlockStack>
      ),
    },
    {
      key: "stale",
      label: "Stale",
      filter: (
        <Checkbox
          label="Sent more than 12 hours late"
          helpText="Attentive records a late event but starts no Journey with it. Past orders are late by design: they are left out unless Source is past orders."
          checked={shown.stale}
          onChange={(stale) => update({ stale })}
        />
      ),
    },
  ];

  const appliedFilters: AppliedFilterInterface[] = [];
  if (shown.status.length > 0) {
    appliedFilters.push({ key: "status", label: `Status: ${shown.status.map((status) => DELIVERY_STATUS_LABELS[status]).join(", ")}`, onRemove: () => update({ status: [] }) });
  }
  if (shown.topic) appliedFilters.push({ key: "topic", label: `Source: ${SOURCE_LABELS.get(shown.topic) ?? shown.topic}`, onRemove: () => update({ topic: undefined }) });
  if (shown.eventType) appliedFilters.push({ key: "eventType", label: `Event type: ${shown.eventType}`, onRemove: () => update({ eventType: undefined }) });
  if (shown.from || shown.to) appliedFilters.push({ key: "received", label: receivedLabel(shown), onRemove: () => update({ from: undefined, to: undefined }) });
  if (shown.stale) appliedFilters.push({ key: "stale", label: "Sent over 12 h late", onRemove: () => update({ stale: false }) });

  // Read only by click handlers, which run after this effect.
  useEffect(() => {
    resetRef.current = indexFilters.reset;
  });

  return (
    <UrlIndexFiltersBar
      controls={indexFilters}
      queryPlaceholder="Search by order name or email"
      filters={filters}
      appliedFilters={appliedFilters}
      filteringAccessibilityLabel="Search and filter deliveries"
      loading={loading}
    />
  );
});

type LogData = ReturnType<typeof useLoaderData<typeof loader>>;

const rowUrl = (id: string) => `/app/deliveries/${id}`;

interface DeliveryLogTableProps {
  deliveries: LogData["deliveries"];
  view: LogView;
  nextCursor: LogData["nextCursor"];
  previousCursor: LogData["previousCursor"];
  filtered: boolean;
  loading: boolean;
  smDown: boolean;
  onClearFilters(): void;
}

/**
 * The log's rows, the page's heaviest render. Memoised on its props, which change only with the data, a navigation
 * or the layout: opening the filter bar or typing a search re-renders the bar alone (INP, `npm run bench` admin).
 */
const DeliveryLogTable = memo(function DeliveryLogTable({ deliveries, view, nextCursor, previousCursor, filtered, loading, smDown, onClearFilters }: DeliveryLogTableProps) {
  // Polaris' IndexTable.Row finds its row's primary link only after it has rendered once, and makes the whole row
  // clickable on its next render: once memoised, the table gets that render here, once per page of data.
  const [, setLinkedRows] = useState<unknown>(null);
  useEffect(() => setLinkedRows(deliveries), [deliveries]);
  return (
    // The frame keeps the table's loading panel, which slides in and out from above the table, off the filter bar.
    <div className={smDown ? "delivery-log-frame" : "delivery-log-frame delivery-log-table"}>
      {/* A new layout is a new table: each row looks for its primary link again. */}
      <IndexTable
        key={smDown ? "stacked" : "columns"}
        resourceName={{ singular: "delivery", plural: "deliveries" }}
        itemCount={deliveries.length}
        selectable={false}
        condensed={smDown}
        loading={loading}
        emptyState={
          <EmptyState
            heading={filtered ? "No deliveries match" : "No deliveries yet"}
            image={NO_ILLUSTRATION}
            {...(filtered ? { action: { content: "Clear filters", onAction: onClearFilters } } : {})}
          >
            <p>
              {filtered
                ? "Change or clear the filters."
                : "Deliveries appear here when a mapping turns a Shopify event into an Attentive event, or a Flow workflow sends one."}
            </p>
          </EmptyState>
        }
        headings={[{ title: "Received" }, { title: "Order or Flow run" }, { title: "Event type" }, { title: "Status" }, { title: "Attempts", alignment: "end" }, { title: "Details" }]}
        pagination={
          previousCursor || nextCursor
            ? {
                hasPrevious: previousCursor !== null,
                previousURL: previousCursor ? logViewUrl(view, { before: previousCursor }) : undefined,
                previousTooltip: "Newer",
                hasNext: nextCursor !== null,
                nextURL: nextCursor ? logViewUrl(view, { after: nextCursor }) : undefined,
                nextTooltip: "Older",
                accessibilityLabels: { previous: "Newer deliveries", next: "Older deliveries" },
                label: previousCursor ? (
                  <Link url={logViewUrl(view)} removeUnderline>
                    Newest
                  </Link>
                ) : (
                  "Newest first"
                ),
              }
            : undefined
        }
      >
        {deliveries.map((delivery, index) =>
          smDown ? (
            // On phones (the Shopify mobile app) one stacked cell per delivery instead of a wide table.
            <IndexTable.Row id={delivery.id} key={delivery.id} position={index}>
              <div style={{ padding: "12px 16px" }}>
                <BlockStack gap="100">
                  <InlineStack align="space-between" gap="200">
                    <Link dataPrimaryLink url={rowUrl(delivery.id)} monochrome removeUnderline>
                      <Text as="span" fontWeight="semibold">
                        {delivery.eventType} {delivery.orderName ?? ""}
                      </Text>
                    </Link>
                    <InlineStack gap="100">
                      <DeliveryStatusBadge status={delivery.status} />
                      {delivery.stale ? <Badge tone="warning">Stale</Badge> : null}
                      {delivery.pastOrder ? <Badge tone="info">{BACKFILL_SOURCE_LABEL}</Badge> : null}
                    </InlineStack>
                  </InlineStack>
                  <Text as="span" tone="subdued" variant="bodySm">
                    {formatDateTime(delivery.createdAt)} · {sourceLabel(delivery.topic)}
                    {delivery.flowRunId ? ` · run ${delivery.flowRunId}` : ""}
                  </Text>
                  {delivery.lastError ? (
                    <Text as="span" tone={delivery.status === "failed" ? "critical" : "subdued"} variant="bodySm" truncate>
                      {delivery.lastError}
                    </Text>
                  ) : null}
                </BlockStack>
              </div>
            </IndexTable.Row>
          ) : (
            <IndexTable.Row id={delivery.id} key={delivery.id} position={index}>
              <IndexTable.Cell>
                <Link dataPrimaryLink url={rowUrl(delivery.id)} monochrome removeUnderline>
                  <Text as="span" fontWeight="semibold">
                    {formatDateTime(delivery.createdAt)}
                  </Text>
                </Link>
              </IndexTable.Cell>
              <IndexTable.Cell>
                {delivery.flowRunId ? (
                  <Text as="span" truncate>
                    Run {delivery.flowRunId}
                  </Text>
                ) : (
                  (delivery.orderName ?? "—")
                )}
              </IndexTable.Cell>
              <IndexTable.Cell>
                <BlockStack>
                  <Text as="span">{delivery.eventType}</Text>
                  <Text as="span" tone="subdued" variant="bodySm">
                    {sourceLabel(delivery.topic)}
                  </Text>
                </BlockStack>
              </IndexTable.Cell>
              <IndexTable.Cell>
                <InlineStack gap="100">
                  <DeliveryStatusBadge status={delivery.status} />
                  {delivery.stale ? <Badge tone="warning">Stale</Badge> : null}
                  {delivery.pastOrder ? <Badge tone="info">{BACKFILL_SOURCE_LABEL}</Badge> : null}
                </InlineStack>
              </IndexTable.Cell>
              <NumberCell value={delivery.attempts} />
              <IndexTable.Cell>
                <Text as="span" tone={delivery.status === "failed" ? "critical" : "subdued"} truncate>
                  {delivery.lastError ?? ""}
                </Text>
              </IndexTable.Cell>
            </IndexTable.Row>
          ),
        )}
      </IndexTable>
    </div>
  );
});

export const meta = () => [{ title: "Delivery log · Attentive events" }];

export const links = () => [{ rel: "stylesheet", href: logStyles }];
