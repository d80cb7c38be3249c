import { json, type ActionFunctionArgs, type LoaderFunctionArgs } from "@remix-run/node";
import { useFetcher, useLoaderData, useSearchParams } from "@remix-run/react";
import { useAppBridge } from "@shopify/app-bridge-react";
import { Badge, BlockStack, Button, Card, EmptyState, IndexTable, InlineStack, Link, Page, Select, Text, TextField, useBreakpoints } from "@shopify/polaris";
import { useEffect, useRef, useState } from "react";
import { z } from "zod";
import { adminContext } from "~/admin/context.server";
import { DeliveryStatusBadge } from "~/components/DeliveryStatusBadge";
import { formatDateTime, NO_ILLUSTRATION, SOURCE_FILTER_GROUPS, sourceLabel } from "~/components/format";
import { NumberCell } from "~/components/NumberCell";
import { MAPPABLE_TOPICS } from "~/mapping/types";
import { BACKFILL_SOURCE, BACKFILL_SOURCE_LABEL, FLOW_TOPIC } from "~/models/delivery-sources";
import { DELIVERY_STATUSES } from "~/models/delivery-statuses";
import {
  decodeCursor,
  deliveriesBySource,
  deliveryLogPage,
  type DeliveryLogFilter,
  loggedEventTypes,
  retryFailedMatching,
} from "~/models/Delivery.server";

const filterParams = z.object({
  status: z.enum(DELIVERY_STATUSES).optional().catch(undefined),
  // A catalog topic, Flow, or the backfill's past orders: the source filter.
  topic: z.enum([...MAPPABLE_TOPICS, FLOW_TOPIC, BACKFILL_SOURCE]).optional().catch(undefined),
  eventType: z.string().max(200).optional().catch(undefined),
  from: z.iso.date().optional().catch(undefined),
  to: z.iso.date().optional().catch(undefined),
  q: z.string().max(200).optional().catch(undefined),
});

const DAY_MS = 24 * 60 * 60 * 1000;
/** Without a From date, the counts by source cover this many days, as the home page's do. */
const COUNT_DAYS = 7;

function filterFrom(params: URLSearchParams): DeliveryLogFilter {
  const raw = filterParams.parse(Object.fromEntries([...params].filter(([, value]) => value !== "")));
  return {
    ...(raw.status ? { status: raw.status } : {}),
    ...(raw.topic === BACKFILL_SOURCE ? { backfill: true } : raw.topic ? { topic: raw.topic } : {}),
    ...(raw.eventType ? { eventType: raw.eventType } : {}),
    ...(raw.from ? { from: new Date(`${raw.from}T00:00:00Z`) } : {}),
    // "to" is inclusive of the whole day.
    ...(raw.to ? { to: new Date(new Date(`${raw.to}T00:00:00Z`).getTime() + DAY_MS) } : {}),
    ...(raw.q ? { search: raw.q } : {}),
  };
}

export const loader = async ({ request }: LoaderFunctionArgs) => {
  const { shop, prisma } = await adminContext(request);
  const url = new URL(request.url);
  const filter = filterFrom(url.searchParams);
  // Counted over the filter's dates, or the last 7 days when it has no From date (a bounded count on a large log).
  const countFrom = filter.from ?? new Date(Date.now() - COUNT_DAYS * DAY_MS);
  const [page, eventTypes, bySource] = await Promise.all([
    deliveryLogPage(prisma, shop, filter, decodeCursor(url.searchParams.get("after"))),
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

export default function Deliveries() {
  const { deliveries, nextCursor, eventTypes, filtered, bySource } = useLoaderData<typeof loader>();
  const [params, setParams] = useSearchParams();
  const retry = useFetcher<typeof action>();
  const { smDown } = useBreakpoints();
  const shopify = useAppBridge();
  const [search, setSearch] = useState(params.get("q") ?? "");
  // The latest typed text, read by Search even before React has re-rendered with it.
  const typed = useRef(search);
  const changeSearch = (value: string) => {
    typed.current = value;
    setSearch(value);
  };

  useEffect(() => {
    if (retry.data) shopify.toast.show(retry.data.message, { isError: !retry.data.ok });
  }, [retry.data, shopify]);

  const setFilter = (name: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    next.delete("after");
    setParams(next);
  };
  const filterQuery = (() => {
    const copy = new URLSearchParams(params);
    copy.delete("after");
    return copy.toString();
  })();

  return (
    <Page title="Delivery log" backAction={{ content: "Home", url: "/app" }} fullWidth>
      <BlockStack gap="400">
        <Card>
          <BlockStack gap="300">
            <InlineStack gap="300" wrap blockAlign="end">
              <Select
                label="Status"
                options={[{ label: "Any", value: "" }, ...DELIVERY_STATUSES.map((status) => ({ label: status[0]!.toUpperCase() + status.slice(1), value: status }))]}
                value={params.get("status") ?? ""}
                onChange={(value) => setFilter("status", value)}
              />
              <Select
                label="Source"
                options={[{ label: "Any", value: "" }, ...SOURCE_FILTER_GROUPS]}
                value={params.get("topic") ?? ""}
                onChange={(value) => setFilter("topic", value)}
              />
              <Select
                label="Event type"
                options={[{ label: "Any", value: "" }, ...eventTypes.map((type) => ({ label: type, value: type }))]}
                value={params.get("eventType") ?? ""}
                onChange={(value) => setFilter("eventType", value)}
              />
              <TextField label="From" type="date" value={params.get("from") ?? ""} onChange={(value) => setFilter("from", value)} autoComplete="off" />
              <TextField label="To" type="date" value={params.get("to") ?? ""} onChange={(value) => setFilter("to", value)} autoComplete="off" />
              <div
                onKeyDown={(event) => {
                  if (event.key === "Enter") setFilter("q", typed.current.trim());
                }}
              >
                <TextField
                  label="Order name or email"
                  value={search}
                  onChange={changeSearch}
                  autoComplete="off"
                  placeholder="#1001 or jane@example.com"
                />
              </div>
              <Button onClick={() => setFilter("q", typed.current.trim())}>Search</Button>
            </InlineStack>
            <InlineStack gap="200">
              <retry.Form method="post">
                <input type="hidden" name="intent" value="retry-failed" />
                <input type="hidden" name="filter" value={filterQuery} />
                <Button submit loading={retry.state !== "idle"}>
                  {filtered ? "Retry failed deliveries matching the filter" : "Retry all failed deliveries"}
                </Button>
              </retry.Form>
              {filtered ? (
                <Button variant="plain" onClick={() => setParams(new URLSearchParams())}>
                  Clear filters
                </Button>
              ) : null}
            </InlineStack>
            <Text as="p" tone="subdued">
              {countsLine(filtered, bySource)}
            </Text>
          </BlockStack>
        </Card>
        <Card padding="0">
          {deliveries.length === 0 ? (
            <EmptyState heading={filtered ? "No deliveries match" : "No deliveries yet"} image={NO_ILLUSTRATION}>
              <p>
                {filtered
                  ? "Change or clear the filters."
                  : "Deliveries appear here when a mapping turns a Shopify event into an Attentive event, or a Flow workflow sends one."}
              </p>
            </EmptyState>
          ) : (
            <IndexTable
              resourceName={{ singular: "delivery", plural: "deliveries" }}
              itemCount={deliveries.length}
              selectable={false}
              condensed={smDown}
              headings={[{ title: "Received" }, { title: "Order or Flow run" }, { title: "Event type" }, { title: "Status" }, { title: "Attempts", alignment: "end" }, { title: "Details" }]}
            >
              {deliveries.map((delivery, index) =>
                smDown ? (
                  // On phones (the Shopify mobile app) one stacked cell per delivery instead of a wide table.
                  <IndexTable.Row id={delivery.id} key={delivery.id} position={index}>
                    <div style={{ padding: "12px 16px" }}>
                      <BlockStack gap="100">
                        <InlineStack align="space-between" gap="200">
                          <Link dataPrimaryLink url={`/app/deliveries/${delivery.id}`} monochrome removeUnderline>
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
                    <Link dataPrimaryLink url={`/app/deliveries/${delivery.id}`} monochrome removeUnderline>
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
          )}
        </Card>
        <InlineStack align="center" gap="200">
          {params.get("after") ? (
            <Button
              onClick={() => {
                const next = new URLSearchParams(params);
                next.delete("after");
                setParams(next);
              }}
            >
              Newest
            </Button>
          ) : null}
          {nextCursor ? (
            <Button
              onClick={() => {
                const next = new URLSearchParams(params);
                next.set("after", nextCursor);
                setParams(next);
              }}
            >
              Older
            </Button>
          ) : null}
        </InlineStack>
      </BlockStack>
    </Page>
  );
}

export const meta = () => [{ title: "Delivery log · Attentive events" }];
