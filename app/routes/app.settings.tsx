import { json, type ActionFunctionArgs, type LoaderFunctionArgs } from "@remix-run/node";
import { Form, useActionData, useLoaderData, useNavigation, useSubmit } from "@remix-run/react";
import { SaveBar, useAppBridge } from "@shopify/app-bridge-react";
import { Banner, BlockStack, Button, Card, Checkbox, FormLayout, InlineStack, Layout, Link, Modal, Page, Select, Text, TextField } from "@shopify/polaris";
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { z } from "zod";
import { adminContext, attentiveOptions } from "~/admin/context.server";
import { verifyApiKey } from "~/attentive/client.server";
import { RETENTION_CHOICES } from "~/models/retention-choices";
import { connectAttentive, disconnectAttentive, getShopSummary, updateShopSettings } from "~/models/Shop.server";
import { secretBoxFromEnv } from "~/secrets/secret-box.server";

/** Shopify Flow in the shop's own admin: App Bridge opens shopify://admin links in the admin around the app. */
const FLOW_ADMIN_URL = "shopify://admin/apps/flow";

export const meta = () => [{ title: "Settings · Attentive events" }];

export const loader = async ({ request }: LoaderFunctionArgs) => {
  const { shop, prisma } = await adminContext(request);
  const summary = await getShopSummary(prisma, shop);
  // The key itself never leaves the server: only its last 4 characters.
  return {
    connected: summary?.connected ?? false,
    companyName: summary?.attentiveCompanyName ?? null,
    keyLast4: summary?.attentiveKeyLast4 ?? null,
    sendingPaused: summary?.sendingPaused ?? false,
    logRetentionDays: summary?.logRetentionDays ?? 30,
  };
};

type ActionResult = { ok: true; message: string } | { ok: false; errors: Record<string, string> };

const settingsForm = z.object({
  sendingPaused: z.enum(["on"]).optional(),
  logRetentionDays: z.coerce
    .number()
    .refine((days) => (RETENTION_CHOICES as readonly number[]).includes(days), `Choose ${RETENTION_CHOICES.join(", ")} days.`),
});

async function connectKey(prisma: Parameters<typeof connectAttentive>[0], shop: string, apiKey: string) {
  const check = await verifyApiKey(apiKey, attentiveOptions());
  if (!check.ok) return { ok: false as const, errors: { apiKey: `The key was not saved. ${check.reason}` } };
  const summary = await connectAttentive(prisma, secretBoxFromEnv(), shop, apiKey, check.companyName);
  return { ok: true as const, message: `Connected to ${summary.attentiveCompanyName ?? "Attentive"}` };
}

function parseSettings(form: FormData) {
  const parsed = settingsForm.safeParse(Object.fromEntries(form));
  if (parsed.success) return { ok: true as const, settings: { sendingPaused: parsed.data.sendingPaused === "on", logRetentionDays: parsed.data.logRetentionDays } };
  return { ok: false as const, errors: Object.fromEntries(parsed.error.issues.map((issue) => [String(issue.path[0] ?? "form"), issue.message])) };
}

export const action = async ({ request }: ActionFunctionArgs) => {
  const { shop, prisma } = await adminContext(request);
  const form = await request.formData();
  const intent = form.get("intent");
  const apiKey = String(form.get("apiKey") ?? "").trim();
  // The page's save bar: the settings and, when one was typed, a new key, all or nothing. A key Attentive refuses
  // saves nothing, so the merchant fixes the key and saves again without losing the other changes on the page.
  if (intent === "save") {
    const settings = parseSettings(form);
    if (!settings.ok) return json<ActionResult>(settings, { status: 400 });
    let message = "Settings saved";
    if (apiKey !== "") {
      const connected = await connectKey(prisma, shop, apiKey);
      if (!connected.ok) return json<ActionResult>(connected, { status: 400 });
      message = connected.message;
    }
    await updateShopSettings(prisma, shop, settings.settings);
    return json<ActionResult>({ ok: true, message });
  }
  if (intent === "connect") {
    if (apiKey === "") {
      return json<ActionResult>({ ok: false, errors: { apiKey: "Paste the API key of your Attentive custom app." } }, { status: 400 });
    }
    const connected = await connectKey(prisma, shop, apiKey);
    return json<ActionResult>(connected, { status: connected.ok ? 200 : 400 });
  }
  if (intent === "disconnect") {
    await disconnectAttentive(prisma, shop);
    return json<ActionResult>({ ok: true, message: "API key removed" });
  }
  if (intent === "settings") {
    const settings = parseSettings(form);
    if (!settings.ok) return json<ActionResult>(settings, { status: 400 });
    await updateShopSettings(prisma, shop, settings.settings);
    return json<ActionResult>({ ok: true, message: "Settings saved" });
  }
  return json<ActionResult>({ ok: false, errors: { form: "Unknown action: reload the page and try again." } }, { status: 400 });
};

export default function Settings() {
  const data = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const shopify = useAppBridge();
  const busyIntent = navigation.state !== "idle" ? navigation.formData?.get("intent") : null;
  const errors = result && !result.ok ? result.errors : {};
  const [apiKey, setApiKey] = useState("");
  const [paused, setPaused] = useState(data.sendingPaused);
  const [retention, setRetention] = useState(String(data.logRetentionDays));
  const [confirmRemove, setConfirmRemove] = useState(false);
  const submit = useSubmit();
  const saving = busyIntent === "save";
  const savedPaused = data.sendingPaused;
  const savedRetention = String(data.logRetentionDays);
  const dirty = apiKey.trim() !== "" || paused !== savedPaused || retention !== savedRetention;

  useEffect(() => {
    if (result?.ok) {
      shopify.toast.show(result.message);
      setApiKey("");
      setConfirmRemove(false);
    }
  }, [result, shopify]);

  // One save for the page, from the admin's save bar or a form's Enter: the settings and a typed key together.
  const save = useCallback(() => {
    const fields: Record<string, string> = { intent: "save", apiKey: apiKey.trim(), logRetentionDays: retention };
    if (paused) fields.sendingPaused = "on";
    submit(fields, { method: "post" });
  }, [apiKey, paused, retention, submit]);
  const discard = useCallback(() => {
    setApiKey("");
    setPaused(savedPaused);
    setRetention(savedRetention);
  }, [savedPaused, savedRetention]);
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    if (dirty && !saving) save();
  };

  return (
    <Page title="Settings" backAction={{ content: "Home", url: "/app" }}>
      <SaveBar id="settings-save-bar" open={dirty}>
        <button variant="primary" onClick={save} disabled={saving}>
          Save
        </button>
        <button onClick={discard}>Discard</button>
      </SaveBar>
      <Layout>
        {errors.form ? (
          <Layout.Section>
            <Banner tone="critical">
              <p>{errors.form}</p>
            </Banner>
          </Layout.Section>
        ) : null}
        <Layout.AnnotatedSection
          title="Attentive API key"
          description="The key of an Attentive custom app with Custom Events: Write. It is checked with Attentive before it is saved, stored encrypted, and shown only by its last 4 characters."
        >
          <Card>
            <form onSubmit={onSubmit}>
              <FormLayout>
                {data.connected ? (
                  <Text as="p">
                    Connected to <strong>{data.companyName ?? "Attentive"}</strong> with the key ending in <strong>{data.keyLast4}</strong>.
                  </Text>
                ) : (
                  <Text as="p">No key connected. Events are still recorded; until a key is connected they fail with a note saying so, and you can retry them from the delivery log afterwards.</Text>
                )}
                {data.connected ? (
                  <Banner tone="warning">
                    <p>
                      Attentive only triggers custom events from the app that first created them. A key of a different Attentive app
                      may stop existing Journeys from triggering on these events.
                    </p>
                  </Banner>
                ) : null}
                <TextField
                  label={data.connected ? "Replace with a new API key" : "API key"}
                  name="apiKey"
                  type="password"
                  autoComplete="off"
                  value={apiKey}
                  onChange={setApiKey}
                  error={errors.apiKey}
                  helpText="Attentive → Marketplace → your custom app → API key"
                />
                <InlineStack gap="200">
                  <Button submit variant="primary" loading={saving && apiKey.trim() !== ""} disabled={apiKey.trim() === ""}>
                    {data.connected ? "Verify and replace" : "Verify and connect"}
                  </Button>
                  {data.connected ? (
                    <Button tone="critical" variant="plain" onClick={() => setConfirmRemove(true)}>
                      Remove key
                    </Button>
                  ) : null}
                </InlineStack>
              </FormLayout>
            </form>
          </Card>
        </Layout.AnnotatedSection>
        <Layout.AnnotatedSection title="Sending" description="Pause to hold events while you change your Journeys; they are sent when you resume. Changes are saved from the save bar.">
          <Card>
            <form onSubmit={onSubmit}>
              <FormLayout>
                <Checkbox label="Pause sending to Attentive" checked={paused} onChange={setPaused} error={errors.sendingPaused} />
                <Select
                  label="Keep delivery logs for"
                  name="logRetentionDays"
                  options={RETENTION_CHOICES.map((days) => ({ label: `${days} days`, value: String(days) }))}
                  value={retention}
                  onChange={setRetention}
                  error={errors.logRetentionDays}
                />
              </FormLayout>
            </form>
          </Card>
        </Layout.AnnotatedSection>
        <Layout.AnnotatedSection title="Shopify Flow" description="Send Attentive events from your Flow workflows, and act when one fails.">
          <Card>
            <BlockStack gap="400">
              <BlockStack gap="100">
                <Text as="h3" variant="headingSm">
                  Action: Send Attentive event
                </Text>
                <Text as="p">
                  Add it to a workflow to send a custom event to Attentive, with the event type, properties and customer you choose. It
                  uses the API key above and shows in the delivery log as a Flow action, with retries like any other event.
                </Text>
              </BlockStack>
              <BlockStack gap="100">
                <Text as="h3" variant="headingSm">
                  Trigger: Attentive event failed
                </Text>
                <Text as="p">
                  It starts a workflow when an event could not be sent to Attentive, with its event type, source and reason. Use it to
                  alert your team, then retry the event from the delivery log once the cause is fixed.
                </Text>
              </BlockStack>
              <InlineStack>
                <Link url={FLOW_ADMIN_URL} target="_top">
                  Open Shopify Flow
                </Link>
              </InlineStack>
            </BlockStack>
          </Card>
        </Layout.AnnotatedSection>
      </Layout>
      <Modal
        open={confirmRemove}
        onClose={() => setConfirmRemove(false)}
        title="Remove the Attentive API key?"
        primaryAction={{ content: "Remove key", destructive: true, loading: busyIntent === "disconnect", onAction: () => (document.getElementById("disconnect-form") as HTMLFormElement | null)?.requestSubmit() }}
        secondaryActions={[{ content: "Cancel", onAction: () => setConfirmRemove(false) }]}
      >
        <Modal.Section>
          <Form method="post" id="disconnect-form">
            <input type="hidden" name="intent" value="disconnect" />
            <Text as="p">No events are sent until a key is connected again. Events keep being recorded and can be retried from the delivery log once a key is connected.</Text>
          </Form>
        </Modal.Section>
      </Modal>
    </Page>
  );
}
