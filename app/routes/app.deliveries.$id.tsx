import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { useFetcher, useLoaderData } from "@remix-run/react";
import { useAppBridge } from "@shopify/app-bridge-react";
import { Badge, Banner, BlockStack, Box, Card, InlineGrid, InlineStack, Layout, Page, Text } from "@shopify/polaris";
import { useEffect, useId } from "react";
import { adminContext, notFound } from "~/admin/context.server";
import { DeliveryStatusBadge } from "~/components/DeliveryStatusBadge";
import { formatDateTime, sourceLabel, TOPIC_LABELS } from "~/components/format";
import { deliveryDetail, retryDelivery } from "~/models/Delivery.server";
import { isFlowTopic } from "~/models/delivery-sources";

/** Indented for reading, unless re-printing would round an id beyond 2^53: then exactly as received. */
function pretty(text: string | null): string | null {
  if (text === null) return null;
  let lossy = false;
  try {
    const parsed: unknown = JSON.parse(text, (_key, value: unknown) => {
      if (typeof value === "number" && !Number.isSafeInteger(value) && Number.isInteger(value)) lossy = true;
      return value;
    });
    return lossy ? text : JSON.stringify(parsed, null, 2);
  } catch {
    return text;
  }
}

export const loader = async ({ request, params }: LoaderFunctionArgs) => {
  const { shop, prisma } = await adminContext(request);
  // Scoped to the session's shop: another shop's delivery is "not found", like a missing one.
  const delivery = await deliveryDetail(prisma, shop, params.id ?? "");
  if (!delivery) throw notFound("Delivery");
  return {
    delivery: {
      id: delivery.id,
      status: delivery.status,
      topic: delivery.topic,
      eventType: delivery.eventType,
      externalEventId: delivery.externalEventId,
      attempts: delivery.attempts,
      stale: delivery.stale,
      errorKind: delivery.errorKind,
      lastError: delivery.lastError,
      orderName: delivery.orderName,
      email: delivery.email,
      occurredAt: delivery.occurredAt,
      createdAt: delivery.createdAt,
      finishedAt: delivery.finishedAt,
      nextAttemptAt: delivery.nextAttemptAt,
      request: pretty(delivery.request),
      response: pretty(delivery.response),
      // Sent by a Flow workflow: named by its action run (recorded as the run's event key), not a topic and order.
      flowRunId: isFlowTopic(delivery.topic) ? delivery.webhook.eventKey : null,
    },
    webhook: { ...delivery.webhook, body: pretty(delivery.webhook.body) },
    attempts: delivery.attemptLog.map((attempt) => ({
      number: attempt.number,
      startedAt: attempt.startedAt,
      durationMs: attempt.durationMs,
      outcome: attempt.outcome,
      httpStatus: attempt.httpStatus,
      error: attempt.error,
    })),
  };
};

export const meta: MetaFunction<typeof loader> = ({ data }) => {
  const name = data ? `${data.delivery.eventType || "Delivery"}${data.delivery.orderName ? ` ${data.delivery.orderName}` : ""}` : "Delivery";
  return [{ title: `${name} · Delivery log · Attentive events` }];
};

export const action = async ({ request, params }: ActionFunctionArgs) => {
  const { shop, prisma } = await adminContext(request);
  const id = params.id ?? "";
  if (!(await deliveryDetail(prisma, shop, id))) throw notFound("Delivery");
  const answer = await retryDelivery(prisma, shop, id);
  return answer.ok ? json({ ok: true as const, message: answer.message }) : json({ ok: false as const, message: answer.message }, { status: 409 });
};

function Code({ children, label }: { children: string | null; label: string }) {
  const headingId = useId();
  return (
    <BlockStack gap="100">
      <Text as="h3" variant="headingSm" id={headingId}>
        {label}
      </Text>
      {children ? (
        <Box background="bg-surface-secondary" padding="300" borderRadius="200">
          {/* A scrolling region is focusable, so the keyboard can scroll it too (WCAG 2.1.1), and named by its heading. */}
          <pre tabIndex={0} role="region" aria-labelledby={headingId} style={{ margin: 0, fontSize: 12, maxHeight: 420, overflow: "auto" }}>
            {children}
          </pre>
        </Box>
      ) : (
        <Text as="p" tone="subdued">
          None
        </Text>
      )}
    </BlockStack>
  );
}

function Field({ label, value }: { label: string; value: string | null | undefined }) {
  return (
    <BlockStack gap="050">
      <Text as="span" tone="subdued" variant="bodySm">
        {label}
      </Text>
      <Text as="span" breakWord>
        {value ?? "—"}
      </Text>
    </BlockStack>
  );
}

/**
 * Each attempt on a line of its own that wraps, error below: readable on a phone, where a six-column table would
 * scroll sideways inside a region the keyboard cannot reach.
 */
function AttemptList({ attempts }: { attempts: Array<{ number: number; startedAt: string; durationMs: number; outcome: string; httpStatus: number | null; error: string | null }> }) {
  return (
    <BlockStack as="ol" gap="300">
      {attempts.map((attempt) => (
        <Box as="li" key={attempt.number}>
          <BlockStack gap="050">
            <InlineStack gap="200" blockAlign="baseline">
              <Text as="span" fontWeight="semibold">
                {`Attempt ${attempt.number}`}
              </Text>
              <Text as="span">{attempt.outcome}</Text>
              <Text as="span" tone="subdued">
                {[formatDateTime(attempt.startedAt), `${attempt.durationMs} ms`, attempt.httpStatus === null ? null : `HTTP ${attempt.httpStatus}`].filter(Boolean).join(" · ")}
              </Text>
            </InlineStack>
            {attempt.error ? (
              <Text as="p" tone="subdued" breakWord>
                {attempt.error}
              </Text>
            ) : null}
          </BlockStack>
        </Box>
      ))}
    </BlockStack>
  );
}

export default function DeliveryDetail() {
  const { delivery, webhook, attempts } = useLoaderData<typeof loader>();
  const retry = useFetcher<typeof action>();
  const shopify = useAppBridge();
  useEffect(() => {
    if (retry.data) shopify.toast.show(retry.data.message, { isError: !retry.data.ok });
  }, [retry.data, shopify]);

  return (
    <Page
      title={`${delivery.eventType || "Delivery"}${delivery.orderName ? ` · ${delivery.orderName}` : ""}`}
      subtitle={delivery.flowRunId ? `Sent from Shopify Flow · run ${delivery.flowRunId}` : undefined}
      titleMetadata={
        <InlineStack gap="100">
          <DeliveryStatusBadge status={delivery.status} />
          {delivery.stale ? <Badge tone="warning">Stale</Badge> : null}
        </InlineStack>
      }
      backAction={{ content: "Delivery log", url: "/app/deliveries" }}
      primaryAction={
        delivery.status === "failed"
          ? { content: "Retry", loading: retry.state !== "idle", onAction: () => retry.submit({}, { method: "post" }) }
          : undefined
      }
    >
      <Layout>
        <Layout.Section>
          <BlockStack gap="400">
            {delivery.status === "failed" ? (
              <Banner tone="critical" title={delivery.errorKind === "retryable" ? "Failed after every retry" : "Failed"}>
                <p>{delivery.lastError}</p>
              </Banner>
            ) : delivery.status === "skipped" ? (
              <Banner tone="info" title="Skipped">
                <p>{delivery.lastError}</p>
              </Banner>
            ) : delivery.status === "pending" && delivery.lastError ? (
              <Banner tone="warning" title={`Will try again ${formatDateTime(delivery.nextAttemptAt)}`}>
                <p>{delivery.lastError}</p>
              </Banner>
            ) : null}
            {delivery.stale ? (
              <Banner tone="warning" title="Sent more than 12 hours after it happened">
                <p>Attentive recorded this event for Segment Builder, but it does not trigger Journeys.</p>
              </Banner>
            ) : null}
            <Card>
              <BlockStack gap="300">
                <Text as="h2" variant="headingMd">
                  Attempts
                </Text>
                {attempts.length === 0 ? (
                  <Text as="p" tone="subdued">
                    Not attempted yet.
                  </Text>
                ) : (
                  <AttemptList attempts={attempts} />
                )}
              </BlockStack>
            </Card>
            <Card>
              <BlockStack gap="400">
                <Code label="Request sent to Attentive (without the API key)">{delivery.request}</Code>
                <Code label="Attentive's last response">{delivery.response}</Code>
              </BlockStack>
            </Card>
            {delivery.flowRunId ? (
              <Card>
                <BlockStack gap="300">
                  <Text as="h2" variant="headingMd">
                    Shopify Flow
                  </Text>
                  <InlineGrid columns={{ xs: 1, sm: 2 }} gap="300">
                    <Field label="Source" value={sourceLabel(delivery.topic)} />
                    <Field label="Action run" value={delivery.flowRunId} />
                    <Field label="Received at" value={formatDateTime(webhook.receivedAt)} />
                  </InlineGrid>
                  <Code label="Request from Flow">{webhook.body}</Code>
                </BlockStack>
              </Card>
            ) : (
              <Card>
                <BlockStack gap="300">
                  <Text as="h2" variant="headingMd">
                    Shopify webhook
                  </Text>
                  <InlineGrid columns={{ xs: 1, sm: 2 }} gap="300">
                    <Field label="Topic" value={`${TOPIC_LABELS[webhook.topic] ?? webhook.topic} (${webhook.topic})`} />
                    <Field label="Webhook id" value={webhook.webhookId} />
                    <Field label="Event id" value={webhook.eventId} />
                    <Field label="Resource" value={webhook.eventKey} />
                    <Field label="Triggered at" value={formatDateTime(webhook.triggeredAt)} />
                    <Field label="Received at" value={formatDateTime(webhook.receivedAt)} />
                    <Field label="API version" value={webhook.apiVersion} />
                  </InlineGrid>
                  <Code label="Body">{webhook.body}</Code>
                </BlockStack>
              </Card>
            )}
          </BlockStack>
        </Layout.Section>
        <Layout.Section variant="oneThird">
          <Card>
            <BlockStack gap="300">
              <Field label="Status" value={delivery.status} />
              <Field label="Happened at" value={formatDateTime(delivery.occurredAt)} />
              <Field label="Recorded at" value={formatDateTime(delivery.createdAt)} />
              <Field label="Finished at" value={formatDateTime(delivery.finishedAt)} />
              <Field label="Attempts" value={String(delivery.attempts)} />
              <Field label="externalEventId" value={delivery.externalEventId} />
              <Field label="Customer email" value={delivery.email} />
            </BlockStack>
          </Card>
        </Layout.Section>
      </Layout>
    </Page>
  );
}
