/**
 * The Past orders page (docs/decisions/016-history-backfill.md): the merchant picks a range of days and the mappings
 * to include, counts the range's orders with Shopify, starts a history backfill, and follows it (status, progress,
 * counts, problems) with Pause, Resume and Cancel. The work is done by app/backfill/runner.server.ts; this page only
 * reads and changes the Backfill row through app/models/Backfill.server.ts. Days are whole UTC days.
 */
import { json, type ActionFunctionArgs, type LoaderFunctionArgs } from "@remix-run/node";
import { useFetcher, useLoaderData } from "@remix-run/react";
import { useAppBridge } from "@shopify/app-bridge-react";
import {
  Banner,
  BlockStack,
  Box,
  Button,
  Card,
  Checkbox,
  Collapsible,
  DescriptionList,
  FormLayout,
  InlineError,
  InlineStack,
  Layout,
  Link,
  List,
  Modal,
  Page,
  Text,
  TextField,
} from "@shopify/polaris";
import { useEffect, useState } from "react";
import { z } from "zod";
import { adminContext, type AdminContext } from "~/admin/context.server";
import { refreshGrantedScopes } from "~/admin/mapping-catalog.server";
import { ALL_ORDERS_SCOPE, BACKFILL_SETTLE_MS, RECENT_ORDERS_DAYS } from "~/backfill/constants";
import { BackfillProgress, isActiveBackfill, useBackfillRefresh } from "~/components/BackfillProgress";
import { formatDateTime } from "~/components/format";
import { grantedScopeSet } from "~/mapping/access-scopes";
import { BACKFILL_SOURCE } from "~/models/delivery-sources";
import {
  backfillChoices,
  cancelBackfill,
  countOrders,
  latestBackfill,
  needsAllOrders,
  pauseBackfill,
  resumeBackfill,
  startBackfill,
  type ChangeAnswer,
} from "~/models/Backfill.server";
import { grantedScopes } from "~/models/GrantedScopes.server";

const DAY_MS = 24 * 60 * 60_000;
/** The range a new backfill offers: the last 30 days, inside what read_orders shows. */
const DEFAULT_DAYS = 30;
/** The delivery log filtered to the events backfills recorded. */
const LOG_URL = `/app/deliveries?topic=${BACKFILL_SOURCE}`;

function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** Whether the shop has granted read_all_orders: null when its granted scopes are not known. */
function allOrdersGranted(scope: string | null): boolean | null {
  const granted = grantedScopeSet(scope);
  return granted === null ? null : granted.has(ALL_ORDERS_SCOPE);
}

export const meta = () => [{ title: "Past orders · Attentive events" }];

export const loader = async ({ request }: LoaderFunctionArgs) => {
  const { shop, prisma } = await adminContext(request);
  const now = new Date();
  const [choices, backfill, scope] = await Promise.all([backfillChoices(prisma, shop), latestBackfill(prisma, shop), grantedScopes(prisma, shop)]);
  // Only what the page shows: no session, token, bulk operation id or result URL.
  return {
    choices,
    backfill,
    allOrdersGranted: allOrdersGranted(scope),
    today: isoDay(now),
    /** The earliest first day read_orders alone shows all the orders of. */
    recentFrom: isoDay(new Date(now.getTime() - RECENT_ORDERS_DAYS * DAY_MS + DAY_MS)),
    defaultSince: isoDay(new Date(now.getTime() - DEFAULT_DAYS * DAY_MS)),
  };
};

type Errors = Partial<Record<"since" | "until" | "mappings" | "form", string>>;
/** since and until as the form gave them (until "" for up to now), so the page shows a count only for its range. */
type OrderCount = { count: number; atLeast: boolean; needsAllOrders: boolean; since: string; until: string };
export type ActionResult = { ok: true; message: string; count?: OrderCount } | { ok: false; errors: Errors };

const SINCE_MESSAGE = "Enter the first day to send, as a date (2026-09-01).";
const UNTIL_MESSAGE = "Enter the last day to send, as a date, or leave it empty for up to now.";

const rangeForm = z.object({
  since: z.iso.date({ error: SINCE_MESSAGE }),
  until: z.union([z.literal(""), z.iso.date({ error: UNTIL_MESSAGE })]).default(""),
});

const mappingIdsForm = z.array(z.string().min(1).max(100)).max(200, "Too many mappings: reload the page and choose again.");

function fieldErrors(error: z.ZodError): Errors {
  const errors: Errors = {};
  for (const issue of error.issues) {
    const field = issue.path[0];
    const key = field === "since" || field === "until" ? field : "form";
    errors[key] ??= issue.message;
  }
  return errors;
}

/** The range the form asks for: from the start of the first day to the end of the last (UTC), or up to now. */
function rangeOf(form: FormData): { ok: true; since: Date; until: Date | undefined; days: { since: string; until: string } } | { ok: false; errors: Errors } {
  const parsed = rangeForm.safeParse({ since: form.get("since") ?? "", until: form.get("until") ?? "" });
  if (!parsed.success) return { ok: false, errors: fieldErrors(parsed.error) };
  const since = new Date(`${parsed.data.since}T00:00:00.000Z`);
  const until = parsed.data.until === "" ? undefined : new Date(new Date(`${parsed.data.until}T00:00:00.000Z`).getTime() + DAY_MS - 1);
  return { ok: true, since, until, days: parsed.data };
}

const answer = (result: ActionResult, status = 200) => json<ActionResult>(result, { status });

function changed(result: ChangeAnswer) {
  return result.ok ? answer({ ok: true, message: result.message }) : answer({ ok: false, errors: { form: result.message } }, 409);
}

async function countAction(context: AdminContext, form: FormData) {
  const range = rangeOf(form);
  if (!range.ok) return answer({ ok: false, errors: range.errors }, 400);
  const now = new Date();
  // As startBackfill does: never closer to now than the last minutes live webhooks still cover.
  const latest = new Date(now.getTime() - BACKFILL_SETTLE_MS);
  const until = range.until && range.until < latest ? range.until : latest;
  if (range.since >= until) return answer({ ok: false, errors: { since: "The first day must come before the last day." } }, 400);
  let counted: { count: number; atLeast: boolean };
  try {
    counted = await countOrders(context.admin, { since: range.since, until });
  } catch (error) {
    // An expired session is answered the way the embedded app acts on; anything else is worth another try.
    if (error instanceof Response && (error.status === 401 || (error.status >= 300 && error.status < 400))) throw error;
    return answer({ ok: false, errors: { form: "Shopify did not answer the count of orders. Try again in a moment." } }, 502);
  }
  const needsAccess = needsAllOrders(range.since, now) && allOrdersGranted(await grantedScopes(context.prisma, context.shop)) === false;
  const amount = `${counted.count.toLocaleString("en-US")}${counted.atLeast ? "+" : ""}`;
  return answer({
    ok: true,
    message: `${amount} order${counted.count === 1 && !counted.atLeast ? "" : "s"} in this range`,
    count: { ...counted, needsAllOrders: needsAccess, ...range.days },
  });
}

async function startAction(context: AdminContext, form: FormData) {
  const range = rangeOf(form);
  const ids = mappingIdsForm.safeParse(form.getAll("mappingId"));
  if (!range.ok || !ids.success) {
    return answer({ ok: false, errors: { ...(range.ok ? {} : range.errors), ...(ids.success ? {} : { mappings: ids.error.issues[0]?.message ?? "Choose the mappings again." }) } }, 400);
  }
  const started = await startBackfill(context.prisma, {
    shop: context.shop,
    since: range.since,
    ...(range.until ? { until: range.until } : {}),
    mappingIds: ids.data,
    grantedScope: await grantedScopes(context.prisma, context.shop),
  });
  if (started.ok) return answer({ ok: true, message: "Backfill started" });
  const field = started.field === "backfill" ? "form" : started.field;
  return answer({ ok: false, errors: { [field]: started.message } }, started.field === "backfill" ? 409 : 400);
}

export const action = async ({ request }: ActionFunctionArgs) => {
  const context = await adminContext(request);
  const { shop, prisma } = context;
  const form = await request.formData();
  switch (form.get("intent")) {
    case "count":
      return countAction(context, form);
    case "start":
      return startAction(context, form);
    case "pause":
      return changed(await pauseBackfill(prisma, shop));
    case "resume":
      return changed(await resumeBackfill(prisma, shop));
    case "cancel":
      // With the session's client, so Shopify's bulk operation stops too.
      return changed(await cancelBackfill(prisma, shop, { admin: context.admin }));
    case "scopes-granted": {
      const refreshed = await refreshGrantedScopes(context);
      return refreshed.result.ok
        ? answer({ ok: true, message: refreshed.result.message })
        : answer({ ok: false, errors: { form: refreshed.result.message } }, refreshed.status);
    }
    default:
      return answer({ ok: false, errors: { form: "Unknown action: reload the page and try again." } }, 400);
  }
};

type LoaderData = ReturnType<typeof useLoaderData<typeof loader>>;
type BackfillData = NonNullable<LoaderData["backfill"]>;

function dayOf(iso: string): string {
  return new Date(iso).toLocaleDateString(undefined, { dateStyle: "medium", timeZone: "UTC" });
}

/** The latest backfill: where it is, its numbers and problems, and what the merchant can do with it. */
function BackfillCard({ backfill }: { backfill: BackfillData }) {
  const shopify = useAppBridge();
  const change = useFetcher<ActionResult>();
  const [confirmCancel, setConfirmCancel] = useState(false);
  const active = isActiveBackfill(backfill.status);
  const busy = change.state !== "idle" ? change.formData?.get("intent") : null;

  useEffect(() => {
    if (!change.data || change.state !== "idle") return;
    shopify.toast.show(change.data.ok ? change.data.message : (change.data.errors.form ?? "Not changed: reload the page."), { isError: !change.data.ok });
    setConfirmCancel(false);
  }, [change.data, change.state, shopify]);

  const submit = (intent: string) => change.submit({ intent }, { method: "post" });
  const { counts } = backfill;
  return (
    <Card>
      <BlockStack gap="400">
        <BlockStack gap="100">
          <Text as="h2" variant="headingMd">
            {active ? "Backfill under way" : "Latest backfill"}
          </Text>
          <Text as="p" tone="subdued">
            Orders placed from {dayOf(backfill.since)} to {dayOf(backfill.until)} · started {formatDateTime(backfill.createdAt)}
            {backfill.finishedAt ? ` · finished ${formatDateTime(backfill.finishedAt)}` : ""}
          </Text>
        </BlockStack>
        <BackfillProgress status={backfill.status} percent={backfill.percent} />
        {backfill.lastError ? (
          <Banner tone="critical" title={backfill.status === "cancelled" ? "Why it was cancelled" : "The backfill ran into a problem"}>
            <p>{backfill.lastError}</p>
          </Banner>
        ) : null}
        <DescriptionList
          items={[
            { term: "Orders read", description: backfill.ordersRead.toLocaleString("en-US") },
            { term: "Events recorded", description: counts.recorded.toLocaleString("en-US") },
            { term: "Sent", description: counts.delivered.toLocaleString("en-US") },
            { term: "Failed", description: counts.failed.toLocaleString("en-US") },
            { term: "Skipped", description: counts.skipped.toLocaleString("en-US") },
            { term: "Waiting to send", description: counts.pending.toLocaleString("en-US") },
          ]}
        />
        {backfill.badLines > 0 ? (
          <Banner tone="warning" title={`${backfill.badLines} line${backfill.badLines === 1 ? "" : "s"} of Shopify's export could not be read`}>
            <BlockStack gap="200">
              <p>The orders on those lines were left out; everything else was read.</p>
              {backfill.badLineSamples.length > 0 ? (
                <List>
                  {backfill.badLineSamples.map((sample) => (
                    <List.Item key={sample.line}>
                      Line {sample.line}: {sample.reason}
                    </List.Item>
                  ))}
                </List>
              ) : null}
            </BlockStack>
          </Banner>
        ) : null}
        <InlineStack gap="200" blockAlign="center">
          {active && backfill.status !== "paused" ? (
            <Button onClick={() => submit("pause")} loading={busy === "pause"}>
              Pause
            </Button>
          ) : null}
          {backfill.status === "paused" ? (
            <Button variant="primary" onClick={() => submit("resume")} loading={busy === "resume"}>
              Resume
            </Button>
          ) : null}
          {active ? (
            <Button tone="critical" onClick={() => setConfirmCancel(true)}>
              Cancel backfill
            </Button>
          ) : null}
          <Link url={LOG_URL}>See these events in the log</Link>
        </InlineStack>
      </BlockStack>
      <Modal
        open={confirmCancel}
        onClose={() => setConfirmCancel(false)}
        title="Cancel this backfill?"
        primaryAction={{ content: "Cancel backfill", destructive: true, loading: busy === "cancel", onAction: () => submit("cancel") }}
        secondaryActions={[{ content: "Keep it going", onAction: () => setConfirmCancel(false) }]}
      >
        <Modal.Section>
          <Text as="p">Past events not sent yet will not be sent. Those already sent stay in Attentive. You can start a new backfill afterwards.</Text>
        </Modal.Section>
      </Modal>
    </Card>
  );
}

/** The fetcher that records a grant, shared by key: once granted the banner goes, and the form still tells it. */
const GRANT_FETCHER = "backfill-grant";

/** read_all_orders: why it is needed for this range, and the button that asks Shopify for it. */
function AllOrdersBanner() {
  const shopify = useAppBridge();
  const confirm = useFetcher<ActionResult>({ key: GRANT_FETCHER });
  const [asking, setAsking] = useState(false);

  const grant = async () => {
    setAsking(true);
    try {
      const result = await shopify.scopes.request([ALL_ORDERS_SCOPE]);
      if (result.result === "granted-all") confirm.submit({ intent: "scopes-granted" }, { method: "post" });
      else shopify.toast.show("Access not granted: start at most 60 days back", { isError: true });
    } catch {
      shopify.toast.show("Shopify could not ask for access: reload the page and try again.", { isError: true });
    } finally {
      setAsking(false);
    }
  };

  return (
    <Banner
      tone="warning"
      title="Orders older than 60 days need access to all orders"
      action={{ content: "Grant access to all orders", onAction: () => void grant(), loading: asking || confirm.state !== "idle" }}
    >
      <p>
        Shopify shows apps the last {RECENT_ORDERS_DAYS} days of orders. To send older ones, grant the app access to all orders
        (read_all_orders), or start at most {RECENT_ORDERS_DAYS} days back.
      </p>
    </Banner>
  );
}

/** The start form's fetcher, shared by key with the page: a start hides the form, and the page still tells it. */
const START_FETCHER = "backfill-start";

function StartForm({ data }: { data: LoaderData }) {
  const shopify = useAppBridge();
  const counter = useFetcher<ActionResult>();
  const starter = useFetcher<ActionResult>({ key: START_FETCHER });
  const granted = useFetcher<ActionResult>({ key: GRANT_FETCHER });
  const [since, setSince] = useState(data.defaultSince);
  const [until, setUntil] = useState("");
  const [chosen, setChosen] = useState<string[]>(() => data.choices.mappings.filter((mapping) => mapping.enabled).map((mapping) => mapping.id));
  const [showUnavailable, setShowUnavailable] = useState(false);
  const [lastIntent, setLastIntent] = useState<"count" | "start" | null>(null);

  useEffect(() => {
    if (granted.data && granted.state === "idle") {
      shopify.toast.show(granted.data.ok ? granted.data.message : (granted.data.errors.form ?? "Access not confirmed yet"), { isError: !granted.data.ok });
    }
  }, [granted.data, granted.state, shopify]);

  const latest = lastIntent === "start" ? starter.data : lastIntent === "count" ? counter.data : undefined;
  const errors: Errors = latest && !latest.ok ? latest.errors : {};
  const counted = counter.data?.ok ? counter.data : null;
  // A count of another range than the one in the fields is not shown.
  const countShown = counted?.count && counted.count.since === since && counted.count.until === until ? counted : null;
  const needsAccess = data.allOrdersGranted === false && since !== "" && since < data.recentFrom;

  const fields = (intent: "count" | "start") => {
    const form = new FormData();
    form.set("intent", intent);
    form.set("since", since);
    form.set("until", until);
    if (intent === "start") for (const id of chosen) form.append("mappingId", id);
    return form;
  };
  const submit = (intent: "count" | "start") => {
    setLastIntent(intent);
    (intent === "count" ? counter : starter).submit(fields(intent), { method: "post" });
  };
  const toggle = (id: string, on: boolean) => setChosen((ids) => (on ? [...new Set([...ids, id])] : ids.filter((other) => other !== id)));

  return (
    <Card>
      <BlockStack gap="400">
        <Text as="h2" variant="headingMd">
          Send events of past orders
        </Text>
        {errors.form ? (
          <Banner tone="critical">
            <p>{errors.form}</p>
          </Banner>
        ) : null}
        {needsAccess ? <AllOrdersBanner /> : null}
        <FormLayout>
          <FormLayout.Group>
            <TextField
              label="First day"
              type="date"
              value={since}
              onChange={setSince}
              max={data.today}
              error={errors.since}
              autoComplete="off"
              helpText="Orders placed from the start of this day (UTC)."
            />
            <TextField
              label="Last day"
              type="date"
              value={until}
              onChange={setUntil}
              max={data.today}
              error={errors.until}
              autoComplete="off"
              helpText="Optional: leave empty to send up to now."
            />
          </FormLayout.Group>
          <BlockStack gap="200">
            <Text as="h3" variant="headingSm">
              Mappings to send
            </Text>
            {data.choices.mappings.length === 0 ? (
              <Text as="p" tone="subdued">
                None of your mappings can be sent from past orders. <Link url="/app/mappings">Open Mappings</Link> to add one.
              </Text>
            ) : (
              data.choices.mappings.map((mapping) => (
                <Checkbox
                  key={mapping.id}
                  label={`${mapping.eventType} (${mapping.topicLabel})`}
                  checked={mapping.enabled && chosen.includes(mapping.id)}
                  disabled={!mapping.enabled}
                  onChange={(on) => toggle(mapping.id, on)}
                  helpText={mapping.enabled ? undefined : "Turned off: turn it on in Mappings to include it."}
                />
              ))
            )}
            {errors.mappings ? <InlineError message={errors.mappings} fieldID="backfill-mappings" /> : null}
          </BlockStack>
          {data.choices.unavailable.length > 0 ? (
            <BlockStack gap="200">
              <Box>
                <Button variant="plain" disclosure={showUnavailable ? "up" : "down"} onClick={() => setShowUnavailable((shown) => !shown)} ariaExpanded={showUnavailable} ariaControls="backfill-unavailable">
                  {`Events that cannot be sent from past orders (${data.choices.unavailable.length})`}
                </Button>
              </Box>
              <Collapsible id="backfill-unavailable" open={showUnavailable}>
                <List>
                  {data.choices.unavailable.map((topic) => (
                    <List.Item key={topic.topic}>
                      <strong>{topic.label}</strong>: {topic.why}
                    </List.Item>
                  ))}
                </List>
              </Collapsible>
            </BlockStack>
          ) : null}
          {countShown ? (
            <Text as="p" variant="headingSm">
              {countShown.message}
            </Text>
          ) : null}
          <InlineStack gap="200">
            <Button onClick={() => submit("count")} loading={counter.state !== "idle"}>
              Count orders
            </Button>
            <Button variant="primary" onClick={() => submit("start")} loading={starter.state !== "idle"} disabled={chosen.length === 0}>
              Start sending
            </Button>
          </InlineStack>
        </FormLayout>
      </BlockStack>
    </Card>
  );
}

export default function PastOrders() {
  const data = useLoaderData<typeof loader>();
  const shopify = useAppBridge();
  const started = useFetcher<ActionResult>({ key: START_FETCHER });
  const active = data.backfill !== null && isActiveBackfill(data.backfill.status);

  useEffect(() => {
    if (started.data?.ok && started.state === "idle") shopify.toast.show(started.data.message);
  }, [started.data, started.state, shopify]);
  // While a backfill is under way the page reloads its data every ~2 s, so the bar moves; it stops once finished.
  useBackfillRefresh(active);
  return (
    <Page title="Send past orders" backAction={{ content: "Home", url: "/app" }}>
      <Layout>
        <Layout.Section>
          <BlockStack gap="400">
            {data.backfill ? <BackfillCard backfill={data.backfill} /> : null}
            {active ? null : <StartForm data={data} />}
          </BlockStack>
        </Layout.Section>
        <Layout.Section variant="oneThird">
          <Card>
            <BlockStack gap="200">
              <Text as="h2" variant="headingMd">
                How past events reach Attentive
              </Text>
              <Text as="p">
                The app reads the chosen days' orders from Shopify and sends the events your mappings make of them, once each: an
                event Attentive already has from a live webhook is not sent again.
              </Text>
              <Text as="p">
                Attentive marks events older than 12 hours as stale. You can use them in Segment Builder, but they trigger no Journey.
              </Text>
              <Text as="p">Past events are sent behind live traffic: new orders' events always go first.</Text>
            </BlockStack>
          </Card>
        </Layout.Section>
      </Layout>
    </Page>
  );
}
