import type { FetcherWithComponents } from "@remix-run/react";
import { Badge, BlockStack, Box, Button, Card, IndexTable, InlineStack, Text } from "@shopify/polaris";
import { Fragment } from "react";
import type { CatalogOfferGroup } from "~/admin/mapping-catalog.server";
import { TOPIC_LABELS } from "./format";

interface Props {
  groups: CatalogOfferGroup[];
  /** The page's row-action fetcher: its answer is shown as a toast, and the page's data is loaded again after it. */
  fetcher: FetcherWithComponents<unknown>;
  /** On phones: a list per stage, each offer with its Add button in reach, instead of a table that scrolls sideways. */
  stacked?: boolean;
}

/**
 * The catalog's mappings the shop does not have yet, by stage of the order's life, each added with one click (as
 * the catalog defines it, turned on). Nothing is added unless the merchant clicks.
 */
export function CatalogOffers({ groups, fetcher, stacked = false }: Props) {
  if (groups.length === 0) return null;
  const adding = fetcher.state !== "idle" && fetcher.formData?.get("intent") === "add-default" ? `${fetcher.formData.get("topic")} ${fetcher.formData.get("eventType")}` : null;
  let position = 0;
  const addButton = (offer: CatalogOfferGroup["offers"][number]) => (
    <fetcher.Form method="post">
      <input type="hidden" name="intent" value="add-default" />
      <input type="hidden" name="topic" value={offer.topic} />
      <input type="hidden" name="eventType" value={offer.eventType} />
      <Button submit size="slim" loading={adding === `${offer.topic} ${offer.eventType}`} accessibilityLabel={`Add ${offer.eventType}`}>
        Add
      </Button>
    </fetcher.Form>
  );
  const accessBadge = (offer: CatalogOfferGroup["offers"][number]) =>
    offer.waitsForAccessTo ? <Badge tone="attention">{`Needs access to ${offer.waitsForAccessTo}`}</Badge> : null;
  return (
    <section aria-labelledby="catalog-offers-heading">
      <Card padding="0">
        <BlockStack gap="0">
          <Box padding="400">
            <BlockStack gap="100">
              <Text as="h2" variant="headingMd" id="catalog-offers-heading">
                More events to send
              </Text>
              <Text as="p" tone="subdued">
                Events the app offers that none of your mappings sends yet, by stage of the order. Add one to send it with its suggested properties; edit it afterwards like any mapping.
              </Text>
            </BlockStack>
          </Box>
          {stacked ? (
            groups.map((group) => (
              <Box as="section" key={group.stage} borderBlockStartWidth="025" borderColor="border">
                <Box paddingInline="400" paddingBlock="200" background="bg-surface-secondary">
                  <Text as="h3" variant="headingSm">
                    {group.label}
                  </Text>
                </Box>
                <BlockStack as="ul">
                  {group.offers.map((offer) => (
                    <Box as="li" key={`${offer.topic} ${offer.eventType}`} paddingInline="400" paddingBlock="300" borderBlockStartWidth="025" borderColor="border">
                      <InlineStack align="space-between" blockAlign="center" wrap={false} gap="200">
                        <BlockStack gap="100" inlineAlign="start">
                          <Text as="span" fontWeight="semibold">
                            {offer.eventType}
                          </Text>
                          <Text as="span" tone="subdued" variant="bodySm">
                            {`${TOPIC_LABELS[offer.topic] ?? offer.topic} · ${offer.when ?? "Always"}`}
                          </Text>
                          {accessBadge(offer)}
                        </BlockStack>
                        {addButton(offer)}
                      </InlineStack>
                    </Box>
                  ))}
                </BlockStack>
              </Box>
            ))
          ) : (
            <IndexTable
              resourceName={{ singular: "event", plural: "events" }}
              itemCount={groups.reduce((sum, group) => sum + group.offers.length, 0)}
              selectable={false}
              headings={[{ title: "Event type" }, { title: "Shopify event" }, { title: "Only when" }, { title: "Add" }]}
            >
              {groups.map((group) => (
                <Fragment key={group.stage}>
                  <IndexTable.Row rowType="subheader" id={`offers-${group.stage}`} position={position++}>
                    <IndexTable.Cell as="th" id={`offers-${group.stage}-heading`} colSpan={4} scope="colgroup">
                      {group.label}
                    </IndexTable.Cell>
                  </IndexTable.Row>
                  {group.offers.map((offer) => (
                    <IndexTable.Row rowType="child" id={`offer-${position}`} key={`${offer.topic} ${offer.eventType}`} position={position++}>
                      <IndexTable.Cell headers={`offers-${group.stage}-heading`}>
                        <Text as="span" fontWeight="semibold">
                          {offer.eventType}
                        </Text>
                      </IndexTable.Cell>
                      <IndexTable.Cell>
                        <BlockStack gap="100" inlineAlign="start">
                          <Text as="span">{TOPIC_LABELS[offer.topic] ?? offer.topic}</Text>
                          {accessBadge(offer)}
                        </BlockStack>
                      </IndexTable.Cell>
                      <IndexTable.Cell>
                        <Text as="span" tone="subdued">
                          {offer.when ?? "Always"}
                        </Text>
                      </IndexTable.Cell>
                      <IndexTable.Cell>
                        {addButton(offer)}
                      </IndexTable.Cell>
                    </IndexTable.Row>
                  ))}
                </Fragment>
              ))}
            </IndexTable>
          )}
        </BlockStack>
      </Card>
    </section>
  );
}
