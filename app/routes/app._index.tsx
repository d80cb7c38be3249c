import type { LoaderFunctionArgs } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { BlockStack, Card, Layout, Page, Text } from "@shopify/polaris";
import { db } from "~/db.server";
import { getShopSummary } from "~/models/Shop.server";
import { authenticate } from "~/shopify.server";

export const loader = async ({ request }: LoaderFunctionArgs) => {
  const { session } = await authenticate.admin(request);
  const shop = await getShopSummary(db(), session.shop);
  // Only what the page shows: never the key or its cipher text.
  return {
    connected: shop?.connected ?? false,
    companyName: shop?.attentiveCompanyName ?? null,
    keyLast4: shop?.attentiveKeyLast4 ?? null,
  };
};

export default function Home() {
  const { connected, companyName, keyLast4 } = useLoaderData<typeof loader>();
  return (
    <Page title="Attentive events">
      <Layout>
        <Layout.Section>
          <Card>
            <BlockStack gap="200">
              <Text as="h2" variant="headingMd">
                Attentive connection
              </Text>
              <Text as="p">
                {connected
                  ? `Connected to ${companyName ?? "Attentive"} with the key ending in ${keyLast4}.`
                  : "Not connected yet. Create a custom app in Attentive with Custom Events: Write and paste its API key."}
              </Text>
            </BlockStack>
          </Card>
        </Layout.Section>
      </Layout>
    </Page>
  );
}
