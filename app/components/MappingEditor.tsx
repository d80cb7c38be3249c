import { useFetcher, useNavigation, useSubmit } from "@remix-run/react";
import { SaveBar, useAppBridge } from "@shopify/app-bridge-react";
import {
  Banner,
  BlockStack,
  Box,
  Button,
  Card,
  Checkbox,
  Collapsible,
  Divider,
  FormLayout,
  InlineError,
  InlineStack,
  Layout,
  Page,
  Scrollable,
  Select,
  Text,
  TextField,
  useBreakpoints,
} from "@shopify/polaris";
import { memo, useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { SerializeFrom } from "@remix-run/node";
import type { EditorActionResult, EditorForm, FieldErrors, PreviewResult } from "~/admin/mapping-editor.server";
import { topicDefaults } from "~/mapping/defaults";
import { MAX_EVENT_TYPE_LENGTH, MAX_PROPERTY_KEYS } from "~/mapping/limits";
import { isMappableTopic, TOPIC_META } from "~/topics/meta";
import { useStableCallback } from "./useStableCallback";

interface Props {
  title: string;
  initial: EditorForm;
  /** Grouped by stage of the order's life (TOPIC_OPTION_GROUPS). */
  topicOptions: Array<{ title: string; options: Array<{ value: string; label: string }> }>;
  paths: Array<{ path: string; example: string }>;
  hasLatest: boolean;
  /** The preview of `initial`, rendered by the loader (so in the server's HTML); null when the page asks for it. */
  initialPreview?: SerializeFrom<PreviewResult> | null;
  /** Errors from a save that was refused (the page's action). */
  saveErrors: FieldErrors | null;
  savedNotice: boolean;
  /** A new mapping offers the chosen topic's default properties (from the catalog) in place of its own. */
  offerTopicDefaults?: boolean;
}

const DEFAULT_HINTS = {
  email: "Default: the order's email, else the customer's email",
  phone: "Default: first of order, customer, shipping and billing phone, in E.164 using the address country",
  clientUserId: "Default: the Shopify customer id",
};

type Row = { id: number; key: string; template: string };

export function MappingEditor({ title, initial, topicOptions, paths, hasLatest, initialPreview = null, saveErrors, savedNotice, offerTopicDefaults = false }: Props) {
  const shopify = useAppBridge();
  const submit = useSubmit();
  const navigation = useNavigation();
  const { smDown } = useBreakpoints();
  const preview = useFetcher<EditorActionResult>();
  const tester = useFetcher<EditorActionResult>();
  const nextRowId = useRef(initial.properties.length + 1);
  const [topic, setTopic] = useState(initial.topic);
  const [eventType, setEventType] = useState(initial.eventType);
  const [enabled, setEnabled] = useState(initial.enabled);
  const [when, setWhen] = useState(initial.when);
  const [rows, setRows] = useState<Row[]>(() => initial.properties.map((row, index) => ({ id: index + 1, ...row })));
  const [user, setUser] = useState(initial.user);
  const [source, setSource] = useState<"latest" | "sample">(hasLatest ? "latest" : "sample");

  const form: EditorForm = useMemo(
    () => ({ topic, eventType, enabled, when, properties: rows.map(({ key, template }) => ({ key, template })), user }),
    [topic, eventType, enabled, when, rows, user],
  );
  const formJson = JSON.stringify(form);
  const initialJson = useRef(JSON.stringify(initial));
  const dirty = formJson !== initialJson.current;
  const saving = navigation.state === "submitting" && navigation.formData?.get("intent") === "save";

  // The preview follows the form, a moment after the merchant stops typing; the first one at once (it is the page's
  // largest element, so waiting for it is the page's LCP), unless the loader rendered it already.
  const previewedOnce = useRef(false);
  useEffect(() => {
    const first = !previewedOnce.current;
    previewedOnce.current = true;
    if (first && initialPreview !== null) return;
    const delay = first ? 0 : 350;
    const timer = setTimeout(() => preview.submit({ intent: "preview", form: formJson, source }, { method: "post" }), delay);
    return () => clearTimeout(timer);
  }, [formJson, source]);

  useEffect(() => {
    if (savedNotice) shopify.toast.show("Mapping saved");
  }, [savedNotice, shopify]);

  useEffect(() => {
    const result = tester.data;
    if (result?.intent === "test" && result.ok) shopify.toast.show(result.sent ? "Test event sent to Attentive" : "Test event not sent", { isError: !result.sent });
  }, [tester.data, shopify]);

  const save = useCallback(() => submit({ intent: "save", form: formJson, source }, { method: "post" }), [submit, formJson, source]);
  const discard = useCallback(() => {
    setTopic(initial.topic);
    setEventType(initial.eventType);
    setEnabled(initial.enabled);
    setWhen(initial.when);
    setRows(initial.properties.map((row, index) => ({ id: index + 1, ...row })));
    setUser(initial.user);
  }, [initial]);

  const previewErrors = preview.data && !preview.data.ok ? preview.data.errors : null;
  const errors: FieldErrors = useMemo(() => ({ ...(previewErrors ?? {}), ...(saveErrors ?? {}) }), [previewErrors, saveErrors]);

  // Stable handlers (state setters in functional form) let the cards below skip the re-render of every keystroke
  // made outside them: each TextField of Polaris is a dozen components, and the page has up to forty of them.
  const updateRow = useCallback((id: number, change: Partial<Row>) => setRows((current) => current.map((row) => (row.id === id ? { ...row, ...change } : row))), []);
  const moveRow = useCallback(
    (index: number, by: number) =>
      setRows((current) => {
        const next = [...current];
        const [row] = next.splice(index, 1);
        next.splice(index + by, 0, row!);
        return next;
      }),
    [],
  );
  const removeRow = useCallback((id: number) => setRows((current) => current.filter((other) => other.id !== id)), []);
  const addRow = useCallback((key = "", template = "") => setRows((current) => [...current, { id: nextRowId.current++, key, template }]), []);
  const changeSource = useCallback((value: string) => setSource(value === "latest" ? "latest" : "sample"), []);
  const sendTest = useStableCallback(() => tester.submit({ intent: "test", form: formJson, source }, { method: "post" }));

  const chosenTopic = isMappableTopic(topic) ? TOPIC_META[topic] : null;
  // The first of the topic's defaults: a topic's defaults differ in their condition, not their properties.
  const topicDefault = offerTopicDefaults && isMappableTopic(topic) ? (topicDefaults(topic)[0] ?? null) : null;
  const defaultRows = topicDefault ? Object.entries(topicDefault.properties) : [];
  const usesDefaultRows = rows.length === defaultRows.length && rows.every((row, index) => row.key === defaultRows[index]![0] && row.template === defaultRows[index]![1]);
  const useDefaultRows = () => setRows(defaultRows.map(([key, template]) => ({ id: nextRowId.current++, key, template })));

  // The loader's preview stands until the page asks for one of its own.
  const previewData = preview.data === undefined ? initialPreview : preview.data.intent === "preview" && preview.data.ok ? preview.data : null;
  const testResult = tester.data?.intent === "test" ? tester.data : null;

  return (
    <Page
      title={title}
      backAction={{ content: "Mappings", url: "/app/mappings" }}
      primaryAction={{ content: "Save", onAction: save, loading: saving, disabled: !dirty && !saveErrors }}
    >
      <SaveBar id="mapping-save-bar" open={dirty}>
        <button variant="primary" onClick={save} disabled={saving}>
          Save
        </button>
        <button onClick={discard}>Discard</button>
      </SaveBar>
      <Layout>
        <Layout.Section>
          <BlockStack gap="400">
            {errors.form ? <Banner tone="critical">{errors.form}</Banner> : null}
            {saveErrors && Object.keys(saveErrors).length > 0 ? (
              <Banner tone="critical" title="The mapping was not saved">
                <p>Fix the fields marked below, then save again.</p>
              </Banner>
            ) : null}
            <Card>
              <FormLayout>
                <BlockStack gap="200">
                  <Select
                    label="Shopify event"
                    options={topicOptions}
                    value={topic}
                    onChange={setTopic}
                    error={errors.topic}
                    helpText={chosenTopic?.description}
                  />
                  {topicDefault && chosenTopic && !usesDefaultRows ? (
                    <InlineStack>
                      <Button variant="plain" onClick={useDefaultRows}>
                        {`Use the default properties of ${chosenTopic.label} (${defaultRows.length})`}
                      </Button>
                    </InlineStack>
                  ) : null}
                </BlockStack>
                <TextField
                  label="Attentive event type"
                  value={eventType}
                  onChange={setEventType}
                  autoComplete="off"
                  error={errors.eventType}
                  helpText={`Case sensitive, as used in Segment Builder and Journeys. Up to ${MAX_EVENT_TYPE_LENGTH} characters; not allowed: " ' ( ) { } [ ] \\ | , and invisible or control characters`}
                />
                <TextField
                  label="Only when (optional Liquid condition)"
                  value={when}
                  onChange={setWhen}
                  autoComplete="off"
                  placeholder="total_price > 0"
                  error={errors.when}
                  helpText="Leave empty to send every event. When false, the delivery is recorded as skipped."
                />
                <Checkbox label="Sending on" checked={enabled} onChange={setEnabled} helpText="When off, these events are not sent or logged." />
              </FormLayout>
            </Card>
            <Card>
              <BlockStack gap="300">
                <InlineStack align="space-between">
                  <Text as="h2" variant="headingMd">
                    Properties (up to {MAX_PROPERTY_KEYS})
                  </Text>
                  <Button onClick={() => addRow()}>Add property</Button>
                </InlineStack>
                {errors.properties ? <InlineError message={errors.properties} fieldID="properties" /> : null}
                {rows.length === 0 ? <Text as="p" tone="subdued">No properties: the event is sent with an empty properties object.</Text> : null}
                {rows.map((row, index) => (
                  <PropertyRow
                    key={row.id}
                    row={row}
                    index={index}
                    last={index === rows.length - 1}
                    stacked={smDown}
                    keyError={errors[`properties.${index}.key`]}
                    templateError={errors[`properties.${index}.template`]}
                    onChange={updateRow}
                    onMove={moveRow}
                    onRemove={removeRow}
                  />
                ))}
              </BlockStack>
            </Card>
            <UserCard user={user} emailError={errors["user.email"]} phoneError={errors["user.phone"]} clientUserIdError={errors["user.clientUserId"]} onChange={setUser} />
          </BlockStack>
        </Layout.Section>
        <Layout.Section variant="oneThird">
          <BlockStack gap="400">
            <PreviewCard
              hasLatest={hasLatest}
              source={source}
              onSourceChange={changeSource}
              previewData={previewData}
              invalid={previewErrors !== null}
              testResult={testResult}
              testing={tester.state !== "idle"}
              onTest={sendTest}
            />
            <FieldHelpCard paths={paths} onAdd={addRow} />
          </BlockStack>
        </Layout.Section>
      </Layout>
    </Page>
  );
}

interface PropertyRowProps {
  row: Row;
  index: number;
  last: boolean;
  /** Phones: the row's fields stacked, each labelled. */
  stacked: boolean;
  keyError: string | undefined;
  templateError: string | undefined;
  onChange: (id: number, change: Partial<Row>) => void;
  onMove: (index: number, by: number) => void;
  onRemove: (id: number) => void;
}

/** One property: re-rendered only when its own row, place or errors change. */
const PropertyRow = memo(function PropertyRow({ row, index, last, stacked, keyError, templateError, onChange, onMove, onRemove }: PropertyRowProps) {
  // Labels show above the first row only, except on phones, where each row is stacked and labelled.
  const name = (
    <TextField
      label="Property name"
      labelHidden={!stacked && index > 0}
      value={row.key}
      onChange={(value) => onChange(row.id, { key: value })}
      autoComplete="off"
      error={keyError}
    />
  );
  const template = (
    <TextField
      label="Liquid template"
      labelHidden={!stacked && index > 0}
      value={row.template}
      onChange={(value) => onChange(row.id, { template: value })}
      autoComplete="off"
      monospaced
      error={templateError}
    />
  );
  const buttons = (
    <InlineStack gap="100" wrap={false}>
      <Button size="slim" disabled={index === 0} onClick={() => onMove(index, -1)} accessibilityLabel={`Move ${row.key || "property"} up`}>
        ↑
      </Button>
      <Button size="slim" disabled={last} onClick={() => onMove(index, 1)} accessibilityLabel={`Move ${row.key || "property"} down`}>
        ↓
      </Button>
      <Button size="slim" tone="critical" onClick={() => onRemove(row.id)} accessibilityLabel={`Remove ${row.key || "property"}`}>
        Remove
      </Button>
    </InlineStack>
  );
  return stacked ? (
    <BlockStack gap="200">
      {index > 0 ? <Divider /> : null}
      {name}
      {template}
      {buttons}
    </BlockStack>
  ) : (
    <InlineStack gap="200" blockAlign="start" wrap={false}>
      <Box minWidth="30%">{name}</Box>
      <div style={{ flex: 1 }}>{template}</div>
      <div style={{ paddingTop: index === 0 ? "1.5rem" : 0 }}>{buttons}</div>
    </InlineStack>
  );
});

interface UserCardProps {
  user: EditorForm["user"];
  emailError: string | undefined;
  phoneError: string | undefined;
  clientUserIdError: string | undefined;
  onChange: (user: EditorForm["user"]) => void;
}

const UserCard = memo(function UserCard({ user, emailError, phoneError, clientUserIdError, onChange }: UserCardProps) {
  return (
    <Card>
      <BlockStack gap="300">
        <Text as="h2" variant="headingMd">
          Who the event is about
        </Text>
        <Text as="p" tone="subdued">
          Leave a field empty to use its default. Attentive needs at least one of email, phone or customer id.
        </Text>
        <FormLayout>
          <TextField label="Email" value={user.email} onChange={(email) => onChange({ ...user, email })} autoComplete="off" monospaced placeholder="{{ email }}" helpText={DEFAULT_HINTS.email} error={emailError} />
          <TextField label="Phone" value={user.phone} onChange={(phone) => onChange({ ...user, phone })} autoComplete="off" monospaced placeholder="{{ phone }}" helpText={DEFAULT_HINTS.phone} error={phoneError} />
          <TextField label="Client user id" value={user.clientUserId} onChange={(clientUserId) => onChange({ ...user, clientUserId })} autoComplete="off" monospaced placeholder="{{ customer.id }}" helpText={DEFAULT_HINTS.clientUserId} error={clientUserIdError} />
        </FormLayout>
      </BlockStack>
    </Card>
  );
});

interface PreviewCardProps {
  hasLatest: boolean;
  source: "latest" | "sample";
  onSourceChange: (value: string) => void;
  /** The last preview rendered, or null while one is asked for (or when the form has errors). */
  previewData: SerializeFrom<PreviewResult> | null;
  /** The form has errors the preview's request reported. */
  invalid: boolean;
  /** The answer to the last "Send test event": sent or not, or the form's errors. */
  testResult: Extract<SerializeFrom<EditorActionResult>, { ok: false } | { intent: "test" }> | null;
  testing: boolean;
  onTest: () => void;
}

const PreviewCard = memo(function PreviewCard({ hasLatest, source, onSourceChange, previewData, invalid, testResult, testing, onTest }: PreviewCardProps) {
  return (
    <Card>
      <BlockStack gap="300">
        <Text as="h2" variant="headingMd">
          Preview
        </Text>
        <Select
          label="Render against"
          options={[
            { label: "The shop's latest webhook of this event", value: "latest", disabled: !hasLatest },
            { label: "Shopify's sample", value: "sample" },
          ]}
          value={source}
          onChange={onSourceChange}
        />
        {previewData ? (
          <Text as="p" tone="subdued">
            {previewData.source === "webhook" ? "Rendered against the latest webhook received." : "Rendered against Shopify's sample body."}
          </Text>
        ) : null}
        {invalid ? (
          <Banner tone="critical" title="Fix the marked fields to see the request" />
        ) : previewData?.outcome.kind === "request" ? (
          <BlockStack gap="200">
            {previewData.outcome.warnings.map((warning) => (
              <Banner key={warning} tone="warning">
                {warning}
              </Banner>
            ))}
            <Text as="p" variant="bodySm">
              The request Attentive would receive:
            </Text>
            <Scrollable style={{ maxHeight: 360 }} focusable>
              <pre data-testid="preview-request" style={{ fontSize: 12, whiteSpace: "pre-wrap", wordBreak: "break-word", margin: 0 }}>
                {JSON.stringify(previewData.outcome.request.variables.input, null, 2)}
              </pre>
            </Scrollable>
          </BlockStack>
        ) : previewData ? (
          <Banner tone={previewData.outcome.kind === "skipped" ? "info" : "critical"} title={previewData.outcome.kind === "skipped" ? "Would be skipped" : "Would fail"}>
            <p data-testid="preview-problem">{previewData.outcome.reason}</p>
          </Banner>
        ) : (
          <Text as="p" tone="subdued">
            Rendering…
          </Text>
        )}
        <Button onClick={onTest} loading={testing} disabled={invalid}>
          Send test event
        </Button>
        {testResult ? (
          <Banner tone={testResult.ok && testResult.sent ? "success" : "critical"}>
            <p data-testid="test-result">{testResult.ok ? testResult.message : "Fix the marked fields first."}</p>
          </Banner>
        ) : null}
      </BlockStack>
    </Card>
  );
});

/** The fields a template can read, with their search: its state is its own, so typing in it re-renders only it. */
const FieldHelpCard = memo(function FieldHelpCard({ paths, onAdd }: { paths: Props["paths"]; onAdd: (key: string, template: string) => void }) {
  const [open, setOpen] = useState(false);
  const [filter, setFilter] = useState("");
  const visiblePaths = useMemo(() => paths.filter((entry) => entry.path.toLowerCase().includes(filter.toLowerCase())).slice(0, 80), [paths, filter]);
  return (
    <Card>
      <BlockStack gap="200">
        <InlineStack align="space-between">
          <Text as="h2" variant="headingMd">
            Fields and Liquid help
          </Text>
          <Button variant="plain" onClick={() => setOpen(!open)} ariaExpanded={open} ariaControls="field-picker">
            {open ? "Hide" : "Show"}
          </Button>
        </InlineStack>
        <Text as="p" tone="subdued" variant="bodySm">
          {"Templates are Liquid: {{ name }} gives the order name. One {{ … }} alone keeps the value's type: {{ total_price | plus: 0 }} is a number, {{ line_items | map: 'title' }} a list. Lists and objects work in emails, not in SMS."}
        </Text>
        <Collapsible id="field-picker" open={open}>
          <BlockStack gap="200">
            <TextField label="Find a field" value={filter} onChange={setFilter} autoComplete="off" clearButton onClearButtonClick={() => setFilter("")} />
            <Scrollable style={{ maxHeight: 320 }}>
              <BlockStack gap="100">
                {visiblePaths.map((entry) => (
                  <InlineStack key={entry.path} align="space-between" blockAlign="center" wrap={false} gap="200">
                    <BlockStack>
                      <Text as="span" variant="bodySm" fontWeight="medium" breakWord>
                        {entry.path}
                      </Text>
                      <Text as="span" variant="bodySm" tone="subdued" breakWord>
                        {entry.example}
                      </Text>
                    </BlockStack>
                    <Button size="slim" onClick={() => onAdd(entry.path.split(".").filter((part) => part !== "first").pop() ?? "", `{{ ${entry.path} }}`)} accessibilityLabel={`Add ${entry.path} as a property`}>
                      Add
                    </Button>
                  </InlineStack>
                ))}
              </BlockStack>
            </Scrollable>
          </BlockStack>
        </Collapsible>
      </BlockStack>
    </Card>
  );
});
