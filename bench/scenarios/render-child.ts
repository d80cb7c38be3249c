/**
 * Scenario 5, run in its own process: a 10-property mapping on the 15 KB orders/fulfilled body.
 * - renderOnly: renders/s of the renderer itself on one core (what each render thread does per render).
 * - parseAndRender: the same with the body parsed each time, as it was on the main thread before decision 009.
 * - pooled: renders/s through renderMapping (the thread pool) with 32 renders in flight, the body sent as text.
 * - mainUs*: main-thread CPU time per render, before (parse + render on the main thread)
 *   and after (parse, as the worker still does, + hand the render to the pool, with the text or a parsed copy).
 * Prints one JSON line.
 */
import { performance } from "node:perf_hooks";
import { closeRenderPool, renderMapping, warmRenderPool } from "~/mapping/render.server";
import { renderNow, type RenderContextInput } from "~/mapping/renderer";
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

/** Renders/s and main-thread CPU µs per render (process.threadCpuUsage, Node 22.19+) with `inFlight` renders kept going. */
async function measureConcurrent(work: () => Promise<unknown>, inFlight: number): Promise<{ perSecond: number; mainUs: number }> {
  const runFor = async (ms: number) => {
    let count = 0;
    const end = performance.now() + ms;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (performance.now() < end) {
          await work();
          count++;
        }
      }),
    );
    return count;
  };
  await runFor(500);
  const cpu = process.threadCpuUsage();
  const start = performance.now();
  const count = await runFor(seconds * 1000);
  const used = process.threadCpuUsage(cpu);
  return { perSecond: count / ((performance.now() - start) / 1000), mainUs: (used.user + used.system) / count };
}

const body = parseShopifyJson(ORDER_BODY);
const input: RenderContextInput = { topic: "orders/fulfilled", shop: "bench.myshopify.com", body };
const check = renderNow(TEN_PROPERTY_MAPPING, input);
if (check.kind !== "event") throw new Error(`the bench mapping does not render: ${JSON.stringify(check)}`);

const renderOnly = await measure(async () => renderNow(TEN_PROPERTY_MAPPING, input));
const parseAndRender = await measure(async () => renderNow(TEN_PROPERTY_MAPPING, { ...input, body: parseShopifyJson(ORDER_BODY) }));
const parseOnly = await measure(async () => parseShopifyJson(ORDER_BODY));
const plainParse = await measure(async () => JSON.parse(ORDER_BODY) as unknown);
// Shopify's sample ids have 18 digits, beyond 2^53, so its body always takes the exact path; real order and line
// item ids have 13 or 14, and take the plain one. The same body with its ids cut to 13 digits:
const REAL_SIZE_IDS = ORDER_BODY.replace(/(?<=[:,[]\s*)(-?)(\d{13})\d{3,}/g, "$1$2");
if (REAL_SIZE_IDS === ORDER_BODY) throw new Error("the bench body has no long ids to shorten");
const parseRealSizeIds = await measure(async () => parseShopifyJson(REAL_SIZE_IDS));

// Before: everything on the main thread, as the worker did per delivery.
const before = await measureConcurrent(async () => renderNow(TEN_PROPERTY_MAPPING, { ...input, body: parseShopifyJson(ORDER_BODY) }), 1);

await warmRenderPool();
const pooledCheck = await renderMapping(TEN_PROPERTY_MAPPING, { ...input, bodyText: ORDER_BODY });
if (pooledCheck.kind !== "event") throw new Error(`the bench mapping does not render in the pool: ${JSON.stringify(pooledCheck)}`);
// After: the worker still parses the body (for the order id and name), then hands the render to a thread.
const withText = await measureConcurrent(() => renderMapping(TEN_PROPERTY_MAPPING, { ...input, body: parseShopifyJson(ORDER_BODY), bodyText: ORDER_BODY }), 32);
const withCopy = await measureConcurrent(() => renderMapping(TEN_PROPERTY_MAPPING, { ...input, body: parseShopifyJson(ORDER_BODY) }), 32);
await closeRenderPool();

console.log(
  JSON.stringify({
    renderOnly,
    parseAndRender,
    parseOnly,
    plainParse,
    parseRealSizeIds,
    pooled: withText.perSecond,
    mainUsBefore: before.mainUs,
    mainUsWithText: withText.mainUs,
    mainUsWithCopy: withCopy.mainUs,
  }),
);
