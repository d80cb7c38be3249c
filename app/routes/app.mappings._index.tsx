import { json, type ActionFunctionArgs, type LoaderFunctionArgs } from "@remix-run/node";
import { useActionData, useFetcher, useLoaderData, useLocation, useNavigate, useSubmit, type ShouldRevalidateFunction } from "@remix-run/react";
import { useAppBridge } from "@shopify/app-bridge-react";
import {
  Badge,
  Banner,
  BlockStack,
  Box,
  Button,
  ButtonGroup,
  Card,
  ChoiceList,
  DropZone,
  EmptyState,
  IndexTable,
  InlineStack,
  Link,
  Modal,
  Page,
  Text,
  useBreakpoints,
  type AppliedFilterInterface,
  type FilterInterface,
} from "@shopify/polaris";
import { useCallback, useEffect, useMemo, useState } from "react";
import { MAX_IMPORT_REQUEST_BYTES, readFormWithLimit } from "~/admin/bounded-form.server";
import { adminContext, notFound } from "~/admin/context.server";
import { addCatalogOffer, catalogAndAccess, refreshGrantedScopes } from "~/admin/mapping-catalog.server";
import {
  mappingListViewFrom,
  mappingListViewUrl,
  mappingsInView,
  SAVED_MAPPING_VIEWS,
  savedMappingViewIndex,
  type MappingListView,
} from "~/admin/mapping-list-views";
import { mappingLimitMessage } from "~/admin/mapping-editor.server";
import { AccessBanner } from "~/components/AccessBanner";
import { CatalogOffers } from "~/components/CatalogOffers";
import { NO_ILLUSTRATION, TOPIC_LABELS, topicOptionGroups } from "~/components/format";
import tableStyles from "~/components/mappings-table.css?url";
import { NumberCell } from "~/components/NumberCell";
import { UrlIndexFiltersBar } from "~/components/UrlIndexFiltersBar";
import { useUrlIndexFilters } from "~/components/useUrlIndexFilters";
import { MAX_EVENT_TYPE_LENGTH, MAX_IMPORT_FILE_BYTES, MAX_MAPPINGS_PER_SHOP, importSizeProblem, utf8Length } from "~/mapping/limits";
import { parseMappingFile } from "~/mapping/mapping-file";
import { mappingActivity } from "~/models/Delivery.server";
import { deleteMapping, duplicateMapping, listMappings, replaceMappings, setMappingEnabled } from "~/models/Mapping.server";
import { ensureShop } from "~/models/Shop.server";

export const meta = () => [{ title: "Mappings · Attentive events" }];

export const links = () => [{ rel: "stylesheet", href: tableStyles }];

export const loader = async ({ request }: LoaderFunctionArgs) => {
  const context = await adminContext(request);
  const { shop, prisma } = context;
  await ensureShop(prisma, shop);
  const [mappings, activity] = await Promise.all([listMappings(prisma, shop), mappingActivity(prisma, shop)]);
  const access = await catalogAndAccess(context, mappings);
  return {
    catalog: access.catalog,
    scopeWaits: access.scopeWaits,
    mappings: mappings.map((mapping) => ({
      id: mapping.id,
      topic: mapping.topic,
      // A type stored before the length limit is shown cut, not sent whole to the browser on every visit.
      eventType: mapping.eventType.length > MAX_EVENT_TYPE_LENGTH ? `${mapping.eventType.slice(0, MAX_EVENT_TYPE_LENGTH)}…` : mapping.eventType,
      enabled: mapping.enabled,
      waitsForAccessTo: access.waitingTopics[mapping.topic] ?? null,
      ...(activity.get(mapping.id) ?? { deliveries7d: 0, failures7d: 0, lastError: null }),
    })),
  };
};

/** The list's search, filters and tabs only change the URL's query: the page filters what it has, without reloading. */
export const shouldRevalidate: ShouldRevalidateFunction = ({ currentUrl, nextUrl, formMethod, defaultShouldRevalidate }) =>
  !formMethod && currentUrl.pathname === nextUrl.pathname && currentUrl.search !== nextUrl.search ? false : defaultShouldRevalidate;

const TOPIC_GROUPS = topicOptionGroups((topic) => TOPIC_LABELS[topic] ?? topic);
const withQuery = (view: MappingListView, q: string): MappingListView => ({ ...view, q: q || undefined });

type ActionResult = { ok: true; message: string } | { ok: false; message: string; errors?: string[] };

const NOT_IMPORTED = "The file was not imported; nothing was changed.";

/**
 * The rest of an oversized body is left unread (not cancelled: on Node's server that destroys the socket before the
 * 413 is written); closing the connection after the answer stops the client from streaming it on.
 */
const CLOSE_AFTER_ANSWER = { connection: "close" };

export const action = async ({ request }: ActionFunctionArgs) => {
  const context = await adminContext(request);
  const { shop, prisma } = context;
  // Bounded before anything is buffered: the same ceiling for every intent, since only an import is large.
  const body = await readFormWithLimit(request, MAX_IMPORT_REQUEST_BYTES);
  if (!body.ok) {
    return body.reason === "too-large"
      ? json<ActionResult>({ ok: false, message: NOT_IMPORTED, errors: [importSizeProblem(null)!] }, { status: 413, headers: CLOSE_AFTER_ANSWER })
      : json<ActionResult>({ ok: false, message: "The form could not be read: reload the page and try again." }, { status: 400 });
  }
  const form = body.form;
  const intent = String(form.get("intent") ?? "");
  const id = String(form.get("id") ?? "");
  switch (intent) {
    case "enable":
    case "disable":
      if (!(await setMappingEnabled(prisma, shop, id, intent === "enable"))) throw notFound("Mapping");
      return json<ActionResult>({ ok: true, message: intent === "enable" ? "Mapping turned on" : "Mapping turned off" });
    case "duplicate": {
      const copy = await duplicateMapping(prisma, shop, id);
      if (!copy) throw notFound("Mapping");
      if (!copy.ok) return json<ActionResult>({ ok: false, message: `Not duplicated: ${mappingLimitMessage(copy.limit.count - 1)}` }, { status: 400 });
      return json<ActionResult>({ ok: true, message: "Mapping duplicated (turned off until you review it)" });
    }
    case "add-default": {
      const added = await addCatalogOffer(context, form);
      return json<ActionResult>(added.result, { status: added.status });
    }
    case "scopes-granted": {
      const refreshed = await refreshGrantedScopes(context);
      return json<ActionResult>(refreshed.result, { status: refreshed.status });
    }
    case "delete":
      if (!(await deleteMapping(prisma, shop, id))) throw notFound("Mapping");
      return json<ActionResult>({ ok: true, message: "Mapping deleted" });
    case "import": {
      const file = form.get("file") ?? "";
      // The page sends the file itself (multipart); a plain form field is accepted too.
      const tooBig = importSizeProblem(typeof file === "string" ? utf8Length(file) : file.size);
      if (tooBig !== null) return json<ActionResult>({ ok: false, message: NOT_IMPORTED, errors: [tooBig] }, { status: 413 });
      const parsed = parseMappingFile(typeof file === "string" ? file : await file.text());
      if (!parsed.ok) {
        return json<ActionResult>(
          { ok: false, message: NOT_IMPORTED, errors: parsed.errors.slice(0, 10).map((error) => error.message) },
          { status: 400 },
        );
      }
      await ensureShop(prisma, shop);
      const stored = await replaceMappings(prisma, shop, parsed.mappings);
      return json<ActionResult>({ ok: true, message: `Imported ${stored.length} mapping${stored.length === 1 ? "" : "s"}` });
    }
    default:
      return json<ActionResult>({ ok: false, message: "Unknown action: reload the page and try again." }, { status: 400 });
  }
};

export default function Mappings() {
  const { mappings, catalog, scopeWaits } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const fetcher = useFetcher<typeof action>();
  const submit = useSubmit();
  const shopify = useAppBridge();
  const { smDown } = useBreakpoints();
  const [deleting, setDeleting] = useState<{ id: string; eventType: string } | null>(null);
  const [importing, setImporting] = useState(false);
  const [importError, setImportError] = useState<string | null>(null);
  // Row actions go through the fetcher; an import is the page's own action.
  const rowOutcome = fetcher.data;
  const importOutcome = result;

  useEffect(() => {
    if (!rowOutcome) return;
    shopify.toast.show(rowOutcome.message, { isError: !rowOutcome.ok });
    if (rowOutcome.ok) setDeleting(null);
  }, [rowOutcome, shopify]);

  useEffect(() => {
    if (importOutcome?.ok) {
      shopify.toast.show(importOutcome.message);
      setImporting(false);
    }
  }, [importOutcome, shopify]);

  const exportFile = useCallback(async () => {
    const response = await fetch("/app/mappings/export");
    if (!response.ok) {
      shopify.toast.show("Export failed: reload the page and try again.", { isError: true });
      return;
    }
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = "mappings.json";
    link.click();
    URL.revokeObjectURL(url);
  }, [shopify]);

  const onDrop = useCallback(
    async (_all: File[], accepted: File[]) => {
      const file = accepted[0];
      if (!file) {
        setImportError("Choose a .json mapping file.");
        return;
      }
      // Refused here without uploading; the server checks again before reading more than the limit.
      if (file.size > MAX_IMPORT_FILE_BYTES) {
        setImportError(importSizeProblem(file.size));
        return;
      }
      setImportError(null);
      const data = new FormData();
      data.set("intent", "import");
      data.set("file", file);
      submit(data, { method: "post", encType: "multipart/form-data" });
    },
    [submit],
  );

  const location = useLocation();
  const navigate = useNavigate();
  const view = useMemo(() => mappingListViewFrom(new URLSearchParams(location.search)), [location.search]);
  const show = useCallback(
    (next: MappingListView, options: { replace?: boolean } = {}) =>
      navigate(mappingListViewUrl(next), { replace: options.replace ?? false, preventScrollReset: true }),
    [navigate],
  );
  const indexFilters = useUrlIndexFilters({
    view,
    savedViews: SAVED_MAPPING_VIEWS,
    savedIndex: savedMappingViewIndex(view),
    query: view.q ?? "",
    withQuery,
    show,
    idPrefix: "mappings",
    searchDelayMs: 300,
  });
  const update = (change: Partial<MappingListView>) => indexFilters.show({ ...indexFilters.current(), ...change });
  const shown = mappingsInView(mappings, view, indexFilters.query);

  const filters: FilterInterface[] = [
    {
      key: "topic",
      label: "Shopify event",
      pinned: true,
      filter: (
        <BlockStack gap="200">
          {TOPIC_GROUPS.map((group) => (
            <ChoiceList
              key={group.title}
              name="mappings-topic"
              title={group.title}
              choices={group.options}
              selected={group.options.some((option) => option.value === view.topic) ? [view.topic!] : []}
              onChange={([topic]) => update({ topic })}
            />
          ))}
        </BlockStack>
      ),
    },
    {
      key: "sending",
      label: "Sending",
      filter: (
        <ChoiceList
          title="Sending"
          titleHidden
          choices={[
            { label: "On", value: "on" },
            { label: "Turned off", value: "off" },
          ]}
          selected={view.sending ? [view.sending] : []}
          onChange={([sending]) => update({ sending: sending === "on" || sending === "off" ? sending : undefined })}
        />
      ),
    },
  ];
  const appliedFilters: AppliedFilterInterface[] = [];
  if (view.topic) appliedFilters.push({ key: "topic", label: `Shopify event: ${TOPIC_LABELS[view.topic] ?? view.topic}`, onRemove: () => update({ topic: undefined }) });
  if (view.sending) appliedFilters.push({ key: "sending", label: view.sending === "on" ? "Sending: on" : "Sending: turned off", onRemove: () => update({ sending: undefined }) });

  type Row = (typeof mappings)[number];
  const primaryLink = (mapping: Row) => (
    <Link dataPrimaryLink url={`/app/mappings/${mapping.id}`} monochrome removeUnderline>
      <Text as="span" fontWeight="semibold">
        {mapping.eventType}
      </Text>
    </Link>
  );
  const waitsBadge = (mapping: Row) => (mapping.waitsForAccessTo ? <Badge tone="attention">{`Waits for access to ${mapping.waitsForAccessTo}`}</Badge> : null);
  // The row is a link to the mapping: its buttons keep their clicks to themselves.
  const sending = (mapping: Row) => (
    <div onClick={(event) => event.stopPropagation()}>
      <fetcher.Form method="post">
        <input type="hidden" name="id" value={mapping.id} />
        <input type="hidden" name="intent" value={mapping.enabled ? "disable" : "enable"} />
        {/* The state as text and the action as a button: a button's name holds its visible label (WCAG 2.5.3). */}
        <InlineStack gap="200" blockAlign="center" wrap={false}>
          {mapping.enabled ? <Badge tone="success">On</Badge> : <Badge>Off</Badge>}
          <Button submit size="slim" accessibilityLabel={`${mapping.enabled ? "Turn off" : "Turn on"} ${mapping.eventType}`}>
            {mapping.enabled ? "Turn off" : "Turn on"}
          </Button>
        </InlineStack>
      </fetcher.Form>
    </div>
  );
  const rowActions = (mapping: Row) => (
    <div onClick={(event) => event.stopPropagation()}>
      <ButtonGroup>
        <fetcher.Form method="post">
          <input type="hidden" name="id" value={mapping.id} />
          <input type="hidden" name="intent" value="duplicate" />
          <Button submit size="slim" variant="tertiary" accessibilityLabel={`Duplicate ${mapping.eventType}`}>
            Duplicate
          </Button>
        </fetcher.Form>
        <Button
          size="slim"
          variant="tertiary"
          tone="critical"
          onClick={() => setDeleting({ id: mapping.id, eventType: mapping.eventType })}
          accessibilityLabel={`Delete ${mapping.eventType}`}
        >
          Delete
        </Button>
      </ButtonGroup>
    </div>
  );

  const rows = shown.map((mapping, index) =>
    smDown ? (
      // On phones one stacked cell per mapping, its actions in reach, instead of a table that scrolls sideways.
      <IndexTable.Row id={mapping.id} key={mapping.id} position={index}>
        <div style={{ padding: "12px 16px" }}>
          <BlockStack gap="200" inlineAlign="start">
            {primaryLink(mapping)}
            <Text as="span" tone="subdued" variant="bodySm">
              {`${TOPIC_LABELS[mapping.topic] ?? mapping.topic} · 7 days: ${mapping.deliveries7d} delivered, ${mapping.failures7d} failed`}
            </Text>
            {waitsBadge(mapping)}
            {mapping.lastError ? (
              <Box width="100%">
                <Text as="p" tone="critical" variant="bodySm" truncate>
                  {mapping.lastError}
                </Text>
              </Box>
            ) : null}
            <InlineStack gap="300" blockAlign="center">
              {sending(mapping)}
              {rowActions(mapping)}
            </InlineStack>
          </BlockStack>
        </div>
      </IndexTable.Row>
    ) : (
      <IndexTable.Row id={mapping.id} key={mapping.id} position={index}>
        <IndexTable.Cell>{primaryLink(mapping)}</IndexTable.Cell>
        <IndexTable.Cell>
          <BlockStack gap="100" inlineAlign="start">
            <Text as="span">{TOPIC_LABELS[mapping.topic] ?? mapping.topic}</Text>
            {waitsBadge(mapping)}
          </BlockStack>
        </IndexTable.Cell>
        <IndexTable.Cell>{sending(mapping)}</IndexTable.Cell>
        <NumberCell value={mapping.deliveries7d} />
        <NumberCell value={mapping.failures7d} {...(mapping.failures7d > 0 ? { tone: "critical" as const } : {})} />
        <IndexTable.Cell>
          <Text as="span" tone="subdued" truncate>
            {mapping.lastError ?? "—"}
          </Text>
        </IndexTable.Cell>
        <IndexTable.Cell>{rowActions(mapping)}</IndexTable.Cell>
      </IndexTable.Row>
    ),
  );

  return (
    <Page
      title="Mappings"
      subtitle="Which Shopify events become which Attentive custom events"
      backAction={{ content: "Home", url: "/app" }}
      primaryAction={{ content: "Create mapping", url: "/app/mappings/new" }}
      secondaryActions={[
        { content: "Import", onAction: () => setImporting(true) },
        { content: "Export", onAction: () => void exportFile() },
      ]}
    >
      <BlockStack gap="400">
        <AccessBanner waits={scopeWaits} />
        {mappings.length > MAX_MAPPINGS_PER_SHOP ? (
          <Banner tone="warning" title={`${mappings.length} mappings: a shop can have at most ${MAX_MAPPINGS_PER_SHOP}`}>
            <p>
              These were saved before the limit. Each mapping that is on sends an event for every matching order, so delete the{" "}
              {mappings.length - MAX_MAPPINGS_PER_SHOP} you need least; until then no mapping can be added or duplicated.
            </p>
          </Banner>
        ) : null}
        <Card padding="0">
          {mappings.length === 0 ? (
            <EmptyState
              heading="No mappings"
              action={{ content: "Create mapping", url: "/app/mappings/new" }}
              image={NO_ILLUSTRATION}
            >
              <p>Without a mapping, webhooks are recorded but nothing is sent to Attentive.</p>
            </EmptyState>
          ) : (
            <>
              <UrlIndexFiltersBar
                controls={indexFilters}
                queryPlaceholder="Search by event type"
                filters={filters}
                appliedFilters={appliedFilters}
                filteringAccessibilityLabel="Search and filter mappings"
              />
              <div className={smDown ? undefined : "mappings-table"}>
                <IndexTable
                  resourceName={{ singular: "mapping", plural: "mappings" }}
                  itemCount={shown.length}
                  selectable={false}
                  condensed={smDown}
                  emptyState={
                    <EmptyState heading="No mappings match" image={NO_ILLUSTRATION} action={{ content: "Clear filters", onAction: indexFilters.reset }}>
                      <p>Change or clear the search and filters.</p>
                    </EmptyState>
                  }
                  headings={[
                    { title: "Event type" },
                    { title: "Shopify event" },
                    { title: "Sending" },
                    { title: "Deliveries (7 days)", alignment: "end" },
                    { title: "Failures (7 days)", alignment: "end" },
                    { title: "Last error" },
                    { title: "Actions" },
                  ]}
                >
                  {rows}
                </IndexTable>
              </div>
            </>
          )}
        </Card>
        <CatalogOffers groups={catalog} fetcher={fetcher} stacked={smDown} />
      </BlockStack>
      <Modal
        open={deleting !== null}
        onClose={() => setDeleting(null)}
        title={`Delete “${deleting?.eventType ?? ""}”?`}
        primaryAction={{
          content: "Delete mapping",
          destructive: true,
          loading: fetcher.state !== "idle",
          onAction: () => deleting && fetcher.submit({ intent: "delete", id: deleting.id }, { method: "post" }),
        }}
        secondaryActions={[{ content: "Cancel", onAction: () => setDeleting(null) }]}
      >
        <Modal.Section>
          <Text as="p">Events of this kind stop being sent. Deliveries already in the log stay there.</Text>
        </Modal.Section>
      </Modal>
      <Modal open={importing} onClose={() => setImporting(false)} title="Import mappings">
        <Modal.Section>
          <BlockStack gap="300">
            <Text as="p">The file replaces all current mappings. It is checked first: an invalid file changes nothing.</Text>
            {importError ? <Banner tone="critical">{importError}</Banner> : null}
            {importOutcome && !importOutcome.ok ? (
              <Banner tone="critical" title={importOutcome.message}>
                {importOutcome.errors?.length ? (
                  <ul>
                    {importOutcome.errors.map((error) => (
                      <li key={error}>{error}</li>
                    ))}
                  </ul>
                ) : null}
              </Banner>
            ) : null}
            <DropZone accept="application/json,.json" allowMultiple={false} onDrop={(all, accepted) => void onDrop(all, accepted)} label="Mapping file">
              <DropZone.FileUpload actionTitle="Choose file" actionHint="A .json file exported from this app, or written by hand (see the mapping format)" />
            </DropZone>
            <InlineStack>
              <Button variant="plain" onClick={() => setImporting(false)}>
                Cancel
              </Button>
            </InlineStack>
          </BlockStack>
        </Modal.Section>
      </Modal>
    </Page>
  );
}
