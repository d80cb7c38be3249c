import { json, type ActionFunctionArgs, type LoaderFunctionArgs } from "@remix-run/node";
import { Form, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { useAppBridge } from "@shopify/app-bridge-react";
import { Banner, BlockStack, Button, Card, Checkbox, FormLayout, InlineStack, Layout, Link, Modal, Page, Select, Text, TextField } from "@shopify/polaris";
import { useEffect, useState } from "react";
import { z } from "zod";
import { adminContext, attentiveOptions } from "~/admin/context.server";
import { verifyApiKey } from "~/attentive/client.server";
import { RETENTION_CHOICES } from "~/models/retention-choices";
import { connectAttentive, disconnectAttentive, getShopSummary, updateShopSettings } from "~/models/Shop.server";
import { secretBoxFromEnv } from "~/secrets/secret-box.server";

/** Shopify Flow in the shop's own admin: App Bridge opens shopify://admin links in the admin around the app. */
const FLOW_ADMIN_URL = "shopify://admin/apps/flow";

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

export const action = async ({ request }: ActionFunctionArgs) => {
  const { shop, prisma } = await adminContext(request);
  const form = await request.formData();
  const intent = form.get("intent");
  if (intent === "connect") {
    const apiKey = String(form.get("apiKey") ?? "").trim();
    if (apiKey === "") {
      return json<ActionResult>({ ok: false, errors: { apiKey: "Paste the API key of your Attentive custom app." } }, { status: 400 });
    }
    const check = await verifyApiKey(apiKey, attentiveOptions());
    if (!check.ok) return json<ActionResult>({ ok: false, errors: { apiKey: `The key was not saved. ${check.reason}` } }, { status: 400 });
    const summary = await connectAttentive(prisma, secretBoxFromEnv(), shop, apiKey, check.companyName);
    return json<ActionResult>({ ok: true, message: `Connected to ${summary.attentiveCompanyName ?? "Attentive"}` });
  }
  if (intent === "disconnect") {
    await disconnectAttentive(prisma, shop);
    return json<ActionResult>({ ok: true, message: "API key removed" });
  }
  if (intent === "settings") {
    const parsed = settingsForm.safeParse(Object.fromEntries(form));
    if (!parsed.success) {
      const errors = Object.fromEntries(parsed.error.issues.map((issue) => [String(issue.path[0] ?? "form"), issue.message]));
      return json<ActionResult>({ ok: false, errors }, { status: 400 });
    }
    await updateShopSettings(prisma, shop, {
      sendingPaused: parsed.data.sendingPaused === "on",
      logRetentionDays: parsed.data.logRetentionDays,
    });
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

  useEffect(() => {
    if (result?.ok) {
      shopify.toast.show(result.message);
      setApiKey("");
      setConfirmRemove(false);
    }
  }, [result, shopify]);

  return (
    <Page title="Settings" backAction={{ content: "Home", url: "/app" }}>
      <Layout>
        <Layout.AnnotatedSection
          title="Attentive API key"
          description="The key of an Attentive custom app with Custom Events: Write. It is checked with Attentive before it is saved, stored encrypted, and shown only by its last 4 characters."
        >
          <Card>
            <Form method="post">
              <input type="hidden" name="intent" value="connect" />
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
                  <Button submit variant="primary" loading={busyIntent === "connect"} disabled={apiKey.trim() === ""}>
                    {data.connected ? "Verify and replace" : "Verify and connect"}
                  </Button>
                  {data.connected ? (
                    <Button tone="critical" variant="plain" onClick={() => setConfirmRemove(true)}>
                      Remove key
                    </Button>
                  ) : null}
                </InlineStack>
              </FormLayout>
            </Form>
          </Card>
        </Layout.AnnotatedSection>
        <Layout.AnnotatedSection title="Sending" description="Pause to hold events while you change your Journeys; they are sent when you resume.">
          <Card>
            <Form method="post">
              <input type="hidden" name="intent" value="settings" />
              <FormLayout>
                <Checkbox label="Pause sending to Attentive" checked={paused} onChange={setPaused} />
                {paused ? <input type="hidden" name="sendingPaused" value="on" /> : null}
                <Select
                  label="Keep delivery logs for"
                  name="logRetentionDays"
                  options={RETENTION_CHOICES.map((days) => ({ label: `${days} days`, value: String(days) }))}
                  value={retention}
                  onChange={setRetention}
                  error={errors.logRetentionDays}
                />
                <Button submit loading={busyIntent === "settings"}>
                  Save settings
                </Button>
              </FormLayout>
            </Form>
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
