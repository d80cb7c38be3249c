import type { LoaderFunctionArgs } from "@remix-run/node";
import { Link, useLoaderData, useRevalidator } from "@remix-run/react";
import {
  Badge,
  Banner,
  BlockStack,
  Box,
  Button,
  Card,
  InlineGrid,
  InlineStack,
  Layout,
  List,
  Page,
  Text,
} from "@shopify/polaris";
import vizStyles from "@shopify/polaris-viz/build/esm/styles.css?url";
import { adminContext } from "~/admin/context.server";
import { setupStatus, type CheckState, type SetupStatus } from "~/admin/setup-status";
import { AccessNotice } from "~/components/AccessBanner";
import { BackfillProgress, isActiveBackfill } from "~/components/BackfillProgress";
import { formatRelative } from "~/components/format";
import { useEffect } from "react";
import { DeliveriesChart } from "~/components/DeliveriesChart";
import { scopeWaits } from "~/mapping/access-scopes";
import { deliveryStats, hourlyDeliveries, mappingActivity, sentBySource } from "~/models/Delivery.server";
import { FLOW_MAPPING_ID, FLOW_TOPIC } from "~/models/delivery-sources";
import { grantedScopes } from "~/models/GrantedScopes.server";
import { latestBackfill } from "~/models/Backfill.server";
import { listMappings } from "~/models/Mapping.server";
import { getShopSummary } from "~/models/Shop.server";

export const links = () => [{ rel: "stylesheet", href: vizStyles }];

// Accessibility (WCAG 2.4.2): the document title.
export const meta = () => [{ title: "Home · Attentive events" }];

export const loader = async ({ request }: LoaderFunctionArgs) => {
  const { shop, prisma } = await adminContext(request);
  const summary = await getShopSummary(prisma, shop);
  const connected = summary?.connected ?? false;
  if (!connected) return { connected: false as const };
  const now = new Date();
  const [stats, hours, mappings, activity, keyRejected, scope, backfill, lastDelivered, lastRecorded, oldestLivePending] = await Promise.all([
    deliveryStats(prisma, shop, now),
    hourlyDeliveries(prisma, shop, now),
    listMappings(prisma, shop),
    mappingActivity(prisma, shop, now),
    // Attentive refused the key (401/403) since it was connected: the merchant must act.
    prisma.deliveryAttempt.findFirst({
      where: { delivery: { shop }, httpStatus: { in: [401, 403] }, startedAt: { gte: summary?.attentiveConnectedAt ?? new Date(0) } },
      orderBy: { startedAt: "desc" },
      select: { startedAt: true },
    }),
    grantedScopes(prisma, shop),
    latestBackfill(prisma, shop),
    prisma.delivery.findFirst({ where: { shop, status: "delivered" }, orderBy: { createdAt: "desc" }, select: { finishedAt: true, createdAt: true } }),
    prisma.delivery.findFirst({ where: { shop }, orderBy: { createdAt: "desc" }, select: { createdAt: true } }),
    // Live events only: a backfill's thousands wait by design while it paces itself behind live traffic.
    prisma.delivery.findFirst({
      where: { shop, status: { in: ["pending", "sending"] }, backfillId: null },
      orderBy: { createdAt: "asc" },
      select: { createdAt: true },
    }),
  ]);
  const waits = scopeWaits(mappings, scope);
  const waitingTopics = new Set(waits.flatMap((wait) => wait.topics));
  const status = setupStatus(
    {
      connected: true,
      keyRejectedAt: keyRejected?.startedAt ?? null,
      enabledMappings: mappings.filter((mapping) => mapping.enabled).length,
      mappingsWaitingForAccess: mappings.filter((mapping) => mapping.enabled && waitingTopics.has(mapping.topic)).length,
      paused: summary?.sendingPaused ?? false,
      lastDeliveredAt: lastDelivered ? (lastDelivered.finishedAt ?? lastDelivered.createdAt) : null,
      lastRecordedAt: lastRecorded?.createdAt ?? null,
      pending: stats.pending,
      oldestPendingAt: oldestLivePending?.createdAt ?? null,
      failed24h: stats.failed24h,
    },
    now.getTime(),
  );
  const failing = mappings
    .map((mapping) => ({ id: mapping.id, eventType: mapping.eventType, ...(activity.get(mapping.id) ?? { failures7d: 0, deliveries7d: 0, lastError: null }) }))
    .filter((mapping) => mapping.failures7d > 0);
  // Flow events have no mapping to open: their failures get a banner of their own that leads to the log.
  const flow = activity.get(FLOW_MAPPING_ID);
  // Only what the page shows: never the key or its cipher text.
  return {
    connected: true as const,
    companyName: summary?.attentiveCompanyName ?? null,
    keyLast4: summary?.attentiveKeyLast4 ?? null,
    stats,
    hours: hours.map((point) => ({ ...point, hour: point.hour.toISOString() })),
    failing,
    flowFailing: flow && flow.failures7d > 0 ? { failures7d: flow.failures7d, lastError: flow.lastError } : null,
    sent7d: sentBySource(activity),
    status,
    scopeWaits: waits,
    // A backfill under way gets a card: its status and progress only.
    backfill: backfill && isActiveBackfill(backfill.status) ? { status: backfill.status, percent: backfill.percent, ordersRead: backfill.ordersRead } : null,
  };
};

function SetupGuide() {
  return (
    <Page title="Attentive events">
      <Layout>
        <Layout.Section>
          <Card>
            <BlockStack gap="400">
              <Text as="h2" variant="headingMd">
                Connect Attentive to start sending events
              </Text>
              <Text as="p">Not connected yet. Shopify's order events are already recorded; once a key is connected you can retry any that arrived before.</Text>
              <List type="number">
                <List.Item>In Attentive, open Marketplace → Create app, name it (for example "Shopify events").</List.Item>
                <List.Item>Give it the Custom Events permission with Write access, then install it.</List.Item>
                <List.Item>Copy its API key and paste it in Settings. The key is checked with Attentive before it is saved.</List.Item>
              </List>
              <Box>
                {/* Accessibility: one link that looks like a button, not a button inside a link (two tab stops). */}
                <Button variant="primary" url="/app/settings">
                  Go to Settings
                </Button>
              </Box>
            </BlockStack>
          </Card>
        </Layout.Section>
      </Layout>
    </Page>
  );
}

function Figure({ label, value, detail, note }: { label: string; value: string; detail?: string; note?: string }) {
  return (
    <Card>
      <BlockStack gap="100">
        <Text as="h3" variant="headingSm" tone="subdued">
          {label}
        </Text>
        <Text as="p" variant="heading2xl">
          {value}
        </Text>
        {detail ? (
          <Text as="p" tone="subdued">
            {detail}
          </Text>
        ) : null}
        {note ? (
          <Text as="p" tone="subdued" variant="bodySm">
            {note}
          </Text>
        ) : null}
      </BlockStack>
    </Card>
  );
}

const BADGE: Record<CheckState, { tone: "success" | "warning" | "critical"; label: string; progress: "complete" | "partiallyComplete" | "incomplete" }> = {
  ok: { tone: "success", label: "OK", progress: "complete" },
  warning: { tone: "warning", label: "Check", progress: "partiallyComplete" },
  critical: { tone: "critical", label: "Action needed", progress: "incomplete" },
};

/** Whether the app is set up and working, and for each check that is not, what to do. */
function StatusCard({ status }: { status: SetupStatus }) {
  const overall = BADGE[status.state];
  return (
    <Card>
      <BlockStack gap="300">
        <InlineStack gap="200" blockAlign="center">
          <Text as="h2" variant="headingMd">
            {status.headline}
          </Text>
          <Badge tone={overall.tone} progress={overall.progress}>
            {status.state === "ok" ? "Working" : overall.label}
          </Badge>
        </InlineStack>
        <BlockStack as="ul" gap="200">
          {status.checks.map((check) => (
            <li key={check.id} id={`status-${check.id}`} data-state={check.state} style={{ listStyle: "none" }}>
              <InlineStack gap="200" wrap={false} blockAlign="start">
                <Box minWidth="7.5rem">
                  <Badge tone={BADGE[check.state].tone} progress={BADGE[check.state].progress}>
                    {BADGE[check.state].label}
                  </Badge>
                </Box>
                <BlockStack gap="050">
                  <Text as="p" fontWeight="semibold">
                    {check.title}
                  </Text>
                  <Text as="p" tone="subdued">
                    {check.detail} {check.action ? <Link to={check.action.url}>{check.action.label}</Link> : null}
                  </Text>
                </BlockStack>
              </InlineStack>
            </li>
          ))}
        </BlockStack>
      </BlockStack>
    </Card>
  );
}

/** Home keeps itself current while it is on screen: a revalidation every 30 s, none while the tab is hidden. */
const REFRESH_MS = 30_000;

function useRefreshWhileVisible() {
  const { revalidate, state } = useRevalidator();
  useEffect(() => {
    const timer = setInterval(() => {
      if (document.visibilityState === "visible" && state === "idle") revalidate();
    }, REFRESH_MS);
    return () => clearInterval(timer);
  }, [revalidate, state]);
}

export default function Home() {
  const data = useLoaderData<typeof loader>();
  useRefreshWhileVisible();
  if (!data.connected) return <SetupGuide />;
  const { stats } = data;
  const rate = stats.successRate7d === null ? "—" : `${(stats.successRate7d * 100).toFixed(1)}%`;
  return (
    <Page title="Attentive events" subtitle={`Connected to ${data.companyName ?? "Attentive"} · key ending in ${data.keyLast4}`}>
      <BlockStack gap="400">
        <StatusCard status={data.status} />
        <AccessNotice waits={data.scopeWaits} />
        {data.failing.map((mapping) => (
          <Banner key={mapping.id} tone="critical" title={`“${mapping.eventType}” failed ${mapping.failures7d} time${mapping.failures7d === 1 ? "" : "s"} in 7 days`}>
            <p>
              {mapping.lastError ?? "See the delivery log."} <Link to={`/app/mappings/${mapping.id}`}>Open the mapping</Link> or{" "}
              <Link to="/app/deliveries?status=failed">see the failures</Link>.
            </p>
          </Banner>
        ))}
        {data.flowFailing ? (
          <Banner tone="critical" title={`Events from Flow failed ${data.flowFailing.failures7d} time${data.flowFailing.failures7d === 1 ? "" : "s"} in 7 days`}>
            <p>
              {data.flowFailing.lastError ?? "See the delivery log."}{" "}
              <Link to={`/app/deliveries?status=failed&topic=${encodeURIComponent(FLOW_TOPIC)}`}>See the failures</Link>.
            </p>
          </Banner>
        ) : null}
        {stats.stale24h > 0 ? (
          <Banner tone="warning" title={`${stats.stale24h} event${stats.stale24h === 1 ? "" : "s"} sent more than 12 hours late today`}>
            <p>
              Attentive records late events but they trigger no Journey. This happens when Shopify delivers a webhook late or sending was paused.{" "}
              <Link to="/app/deliveries?stale=1">See the late events</Link>.
            </p>
          </Banner>
        ) : null}
        {data.backfill ? (
          <Card>
            <BlockStack gap="300">
              <Text as="h2" variant="headingMd">
                Sending past orders
              </Text>
              <BackfillProgress status={data.backfill.status} percent={data.backfill.percent} />
              <Text as="p" tone="subdued">
                {data.backfill.ordersRead.toLocaleString("en-US")} orders read so far. <Link to="/app/backfill">See the backfill</Link>
              </Text>
            </BlockStack>
          </Card>
        ) : null}
        <InlineGrid columns={{ xs: 1, sm: 2, md: 4 }} gap="400">
          <Figure
            label="Delivered"
            value={String(stats.delivered24h)}
            detail={`${stats.delivered7d} in 7 days`}
            note={`From Shopify webhooks: ${data.sent7d.webhooks} · from Flow: ${data.sent7d.flow}`}
          />
          <Figure label="Failed" value={String(stats.failed24h)} detail={`${stats.failed7d} in 7 days`} />
          <Figure label="Success rate (7 days)" value={rate} />
          <Figure
            label="Waiting to send"
            value={String(stats.pending)}
            detail={stats.oldestPendingAt ? `oldest ${formatRelative(stats.oldestPendingAt)}` : "none waiting"}
          />
        </InlineGrid>
        <Card>
          <BlockStack gap="200">
            <Text as="h2" variant="headingMd">
              Deliveries per hour, last 24 hours
            </Text>
            <DeliveriesChart hours={data.hours} />
          </BlockStack>
        </Card>
      </BlockStack>
    </Page>
  );
}
