/**
 * Scenario 5, run in its own process (one thread, so one core): renders/s of a 10-property mapping on the
 * 15 KB orders/fulfilled body with the app's renderMapping, and the same with the body parsed each time
 * (what the worker does per delivery). Prints one JSON line.
 */
import { renderMapping } from "~/mapping/render.server";
import type { MappingDefinition } from "~/mapping/types";
import { parseShopifyJson } from "~/shopify/json";
import { ORDER_BODY } from "../lib/load";

const seconds = Number(process.argv[2] ?? 3);

/** Ten properties of the kinds merchants write: fields, filters, a list, a condition-free mix. */
export const TEN_PROPERTY_MAPPING: MappingDefinition = {
  topic: "orders/fulfilled",
  eventType: "Order Shipped",
  enabled: true,
  properties: {
    orderName: "{{ name }}",
    orderNumber: "{{ order_number }}",
    firstName: "{{ customer.first_name | default: shipping_address.first_name }}",
    totalPrice: "{{ total_price | plus: 0 }}",
    currency: "{{ currency }}",
    itemTitles: "{{ line_items | map: 'title' | join: ', ' }}",
    itemCount: "{{ line_items | map: 'quantity' | sum }}",
    trackingNumber: "{{ fulfillments.last.tracking_number }}",
    trackingUrl: "{{ fulfillments.last.tracking_url }}",
    greeting: "Hi {{ customer.first_name | capitalize }}, order {{ name }} is on its way",
  },
};

async function measure(work: () => Promise<unknown>): Promise<number> {
  const warmUntil = performance.now() + 500;
  while (performance.now() < warmUntil) await work();
  let count = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) await work();
    count += 100;
  }
  return count / ((performance.now() - start) / 1000);
}

const body = parseShopifyJson(ORDER_BODY);
const input = { topic: "orders/fulfilled" as const, shop: "bench.myshopify.com", body };
const check = await renderMapping(TEN_PROPERTY_MAPPING, input);
if (check.kind !== "event") throw new Error(`the bench mapping does not render: ${JSON.stringify(check)}`);
const renderOnly = await measure(() => renderMapping(TEN_PROPERTY_MAPPING, input));
const parseAndRender = await measure(() => renderMapping(TEN_PROPERTY_MAPPING, { ...input, body: parseShopifyJson(ORDER_BODY) }));
const parseOnly = await measure(async () => parseShopifyJson(ORDER_BODY));
const plainParse = await measure(async () => JSON.parse(ORDER_BODY) as unknown);
console.log(JSON.stringify({ renderOnly, parseAndRender, parseOnly, plainParse }));
