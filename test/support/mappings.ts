import type { MappingDefinition } from "~/mapping/types";

/** The example mapping from the product spec and docs/mapping-format.md. */
export const SPEC_EXAMPLE_MAPPING = {
  topic: "orders/fulfilled",
  eventType: "Order Shipped",
  enabled: true,
  when: "total_price > 0",
  properties: { orderName: "{{ name }}", total: "{{ total_price | plus: 0 }}", items: "{{ line_items | map: 'title' }}" },
  user: { email: "{{ email }}", phone: "{{ phone }}", clientUserId: "{{ customer.id }}" },
} as const satisfies MappingDefinition;

/** A fresh, mutable copy (tests change fields). */
export function specExampleMapping(): MappingDefinition {
  return structuredClone(SPEC_EXAMPLE_MAPPING) as MappingDefinition;
}
