import { IndexTable, InlineStack, Text } from "@shopify/polaris";

/** A count in an index table, right-aligned under its `alignment: "end"` heading. */
export function NumberCell({ value, tone }: { value: number; tone?: "critical" }) {
  return (
    <IndexTable.Cell>
      <InlineStack align="end">
        <Text as="span" numeric {...(tone ? { tone } : {})}>
          {value}
        </Text>
      </InlineStack>
    </IndexTable.Cell>
  );
}
