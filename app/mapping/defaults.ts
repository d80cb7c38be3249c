/**
 * The mappings every shop starts with. They aim at what a merchant puts in a shipping or refund text/email,
 * and they leave `user` out so the order's own email, phone and customer id are used.
 */
import type { MappingDefinition } from "./types";

/** Shopify lists fulfillments oldest first, so `last` is the one this webhook is about. */
const LATEST_FULFILLMENT = "fulfillments.last";

/** Refunds can also record failed or pending attempts; only money actually returned counts. */
const REFUNDED_TRANSACTIONS = "transactions | where: 'kind', 'refund' | where: 'status', 'success'";

export function defaultMappings(): MappingDefinition[] {
  return [
    {
      topic: "orders/fulfilled",
      eventType: "Order Fulfilled",
      enabled: true,
      properties: {
        orderName: "{{ name }}",
        orderNumber: "{{ order_number }}",
        firstName: "{{ customer.first_name | default: shipping_address.first_name }}",
        totalPrice: "{{ total_price }}",
        currency: "{{ currency }}",
        itemTitles: "{{ line_items | map: 'title' | join: ', ' }}",
        itemCount: "{{ line_items | map: 'quantity' | sum }}",
        trackingNumber: `{{ ${LATEST_FULFILLMENT}.tracking_number }}`,
        trackingUrl: `{{ ${LATEST_FULFILLMENT}.tracking_url }}`,
        trackingCompany: `{{ ${LATEST_FULFILLMENT}.tracking_company }}`,
        orderStatusUrl: "{{ order_status_url }}",
      },
    },
    {
      topic: "refunds/create",
      eventType: "Order Refunded",
      enabled: true,
      properties: {
        orderName: "{{ order.name }}",
        firstName: "{{ order.customer.first_name | default: order.shipping_address.first_name }}",
        // Rounded because summing decimal strings in floating point leaves tails like 85.00000000000001.
        refundAmount: `{{ ${REFUNDED_TRANSACTIONS} | map: 'amount' | sum | round: 2 }}`,
        currency: "{{ transactions.first.currency | default: order.presentment_currency | default: order.currency }}",
        refundedItemTitles: "{{ refund_line_items | map: 'line_item' | map: 'title' | join: ', ' }}",
        note: "{{ note }}",
        orderStatusUrl: "{{ order.order_status_url }}",
      },
    },
  ];
}
