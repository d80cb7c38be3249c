import { Link as RemixLink, useFetcher } from "@remix-run/react";
import { useAppBridge } from "@shopify/app-bridge-react";
import { Banner, BlockStack, List, Text } from "@shopify/polaris";
import { useEffect, useState } from "react";
import type { ScopeWait } from "~/mapping/access-scopes";

const WHY = "Shopify sends these events only to an app granted that access, so none of them is sent until you grant it.";

/**
 * The Mappings page's banner: which enabled mappings wait for a scope, and "Grant access", which opens Shopify's
 * permission dialog (App Bridge's Scopes API). When the merchant grants, the page's action asks Shopify for the
 * granted scopes and records them, and the page's data is loaded again.
 */
export function AccessBanner({ waits }: { waits: ScopeWait[] }) {
  const shopify = useAppBridge();
  const confirm = useFetcher<{ ok: boolean; message: string }>();
  const [asking, setAsking] = useState(false);
  const requestable = waits.filter((wait) => wait.requestable).map((wait) => wait.scope);

  useEffect(() => {
    if (confirm.data) shopify.toast.show(confirm.data.message, { isError: !confirm.data.ok });
  }, [confirm.data, shopify]);

  const grant = async () => {
    setAsking(true);
    try {
      const answer = await shopify.scopes.request(requestable);
      if (answer.result === "granted-all") confirm.submit({ intent: "scopes-granted" }, { method: "post" });
      else shopify.toast.show("Access not granted: those mappings keep waiting", { isError: true });
    } catch {
      shopify.toast.show("Shopify could not ask for access: reload the page and try again.", { isError: true });
    } finally {
      setAsking(false);
    }
  };

  if (waits.length === 0) return null;
  return (
    <Banner
      tone="warning"
      title="Some mappings wait for access"
      {...(requestable.length > 0 ? { action: { content: "Grant access", onAction: () => void grant(), loading: asking || confirm.state !== "idle" } } : {})}
    >
      <BlockStack gap="200">
        <List>
          {waits.map((wait) => (
            <List.Item key={wait.scope}>
              {wait.message}
              {wait.requestable ? "" : ". Shopify grants it when the app is installed: open the app again from your Shopify admin."}
            </List.Item>
          ))}
        </List>
        <Text as="p">{WHY}</Text>
      </BlockStack>
    </Banner>
  );
}

/** The home page's short version: what waits, and where to grant it. */
export function AccessNotice({ waits }: { waits: ScopeWait[] }) {
  if (waits.length === 0) return null;
  return (
    <Banner tone="warning" title="Some mappings wait for access">
      <p>
        {waits.map((wait) => wait.message).join(". ")}. <RemixLink to="/app/mappings">Grant access on the Mappings page</RemixLink>.
      </p>
    </Banner>
  );
}
