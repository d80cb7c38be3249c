/**
 * A shop's order history as a Shopify bulk operation writes it (JSONL, grouped: each order's line, then its line
 * items, then for each parcel its lines and carrier updates, then for each refund its lines, every child naming its
 * parent in `__parentId`), generated from a seed, and the facts it holds, worked out here from the generated data
 * rather than by the app's code, so a test can compare what the app sent with what it should have.
 *
 * Lines are produced lazily: 10,000 orders are tens of megabytes the test process never holds at once.
 */
import { seededRandom } from "./seeded-random";

export interface HistoryOptions {
  orders: number;
  seed?: number;
  /** Orders are created evenly across this range. */
  since: Date;
  until: Date;
  /** Share of orders with a parcel (default 0.9), with a refund (default 0.3), cancelled (default 0.05). */
  shipped?: number;
  refunded?: number;
  cancelled?: number;
  /** First order number (ids are derived from it, above 2^53 so they must be kept exact). */
  firstNumber?: number;
  shop?: string;
}

/** One fact a webhook would have brought: topic, subject id (a GraphQL id), when, and its order's number. */
export interface HistoryFact {
  topic: "orders/create" | "orders/cancelled" | "orders/fulfilled" | "fulfillments/create" | "fulfillment_events/create" | "refunds/create";
  subjectId: string;
  at: string;
  orderId: string;
  /** fulfillment_events/create: the update's status as webhooks spell it. */
  status?: string;
}

export interface GeneratedOrder {
  id: string;
  legacyResourceId: string;
  name: string;
  createdAt: string;
  email: string;
  /** The JSONL lines of this order, in the file's order. */
  lines: string[];
  facts: HistoryFact[];
}

const BASE_ID = 9_007_199_254_740_993n; // 2^53 + 1: a JS number would lose it.
const HOUR = 3_600_000;
const STATUSES = ["IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED"] as const;

function gid(type: string, id: bigint): string {
  return `gid://shopify/${type}/${id}`;
}

/** The orders one at a time, each with its lines and facts. */
export function* historyOrders(options: HistoryOptions): Generator<GeneratedOrder> {
  const random = seededRandom(options.seed ?? 1);
  const span = options.until.getTime() - options.since.getTime();
  const first = options.firstNumber ?? 1001;
  for (let i = 0; i < options.orders; i++) {
    const number = first + i;
    const orderId = BASE_ID + BigInt(i) * 100n;
    const createdMs = options.since.getTime() + Math.floor(((i + 0.5) / options.orders) * span);
    const at = (ms: number) => new Date(Math.min(ms, options.until.getTime())).toISOString();
    const created = at(createdMs);
    const email = `customer${number}@example.com`;
    const orderGid = gid("Order", orderId);
    const facts: HistoryFact[] = [{ topic: "orders/create", subjectId: orderGid, at: created, orderId: String(orderId) }];
    const shipped = random() < (options.shipped ?? 0.9);
    const refunded = random() < (options.refunded ?? 0.3);
    const cancelled = !shipped && random() < (options.cancelled ?? 0.05) / (1 - (options.shipped ?? 0.9));
    const lineCount = 1 + Math.floor(random() * 2);
    const lineItems = Array.from({ length: lineCount }, (_, n) => ({ id: gid("LineItem", orderId + BigInt(n + 1)), title: `Product ${n + 1}`, name: `Product ${n + 1} - Blue`, quantity: 1 + n }));

    const fulfillments: Array<Record<string, unknown>> = [];
    const children: string[] = lineItems.map((item) => JSON.stringify({ ...item, __parentId: orderGid }));
    if (shipped) {
      const fulfillmentId = orderId + 10n;
      const fulfillmentGid = gid("Fulfillment", fulfillmentId);
      const shippedAt = at(createdMs + HOUR);
      fulfillments.push({
        id: fulfillmentGid,
        legacyResourceId: String(fulfillmentId),
        name: `#${number}.1`,
        status: "SUCCESS",
        createdAt: shippedAt,
        updatedAt: shippedAt,
        trackingInfo: [{ number: `1Z${number}`, url: `https://track.example/1Z${number}`, company: "UPS" }],
      });
      facts.push({ topic: "fulfillments/create", subjectId: fulfillmentGid, at: shippedAt, orderId: String(orderId) });
      facts.push({ topic: "orders/fulfilled", subjectId: orderGid, at: shippedAt, orderId: String(orderId) });
      lineItems.forEach((item, n) =>
        children.push(JSON.stringify({ id: gid("FulfillmentLineItem", fulfillmentId + BigInt(n + 1)), quantity: item.quantity, lineItem: { title: item.title, name: item.name }, __parentId: fulfillmentGid })),
      );
      const updates = 1 + Math.floor(random() * STATUSES.length);
      for (let n = 0; n < updates; n++) {
        const eventGid = gid("FulfillmentEvent", fulfillmentId + BigInt(n + 5));
        const happenedAt = at(createdMs + HOUR * (2 + n));
        children.push(
          JSON.stringify({
            id: eventGid,
            status: STATUSES[n],
            message: null,
            happenedAt,
            createdAt: happenedAt,
            estimatedDeliveryAt: null,
            city: "Ottawa",
            province: "Ontario",
            country: "CA",
            zip: "K2P 1L4",
            __parentId: fulfillmentGid,
          }),
        );
        facts.push({ topic: "fulfillment_events/create", subjectId: eventGid, at: happenedAt, orderId: String(orderId), status: STATUSES[n]!.toLowerCase() });
      }
    }
    const refunds: Array<Record<string, unknown>> = [];
    if (refunded) {
      const refundId = orderId + 50n;
      const refundGid = gid("Refund", refundId);
      const refundedAt = at(createdMs + HOUR * 6);
      refunds.push({ id: refundGid, legacyResourceId: String(refundId), createdAt: refundedAt, note: null, totalRefundedSet: { presentmentMoney: { amount: "10.00", currencyCode: "USD" } } });
      children.push(JSON.stringify({ id: gid("RefundLineItem", refundId + 1n), quantity: 1, lineItem: { title: lineItems[0]!.title }, __parentId: refundGid }));
      facts.push({ topic: "refunds/create", subjectId: refundGid, at: refundedAt, orderId: String(orderId) });
    }
    const cancelledAt = cancelled ? at(createdMs + HOUR / 2) : null;
    if (cancelledAt) facts.push({ topic: "orders/cancelled", subjectId: orderGid, at: cancelledAt, orderId: String(orderId) });
    // Children after their parent; a parcel's children after the order's line items (as Shopify writes them).
    const orderLine = JSON.stringify({
      id: orderGid,
      legacyResourceId: String(orderId),
      name: `#${number}`,
      email,
      phone: null,
      currencyCode: "USD",
      statusPageUrl: `https://${options.shop ?? "shop.example"}/orders/${number}/status`,
      totalPriceSet: { shopMoney: { amount: "42.00", currencyCode: "USD" } },
      customer: { id: gid("Customer", orderId + 99n), legacyResourceId: String(orderId + 99n), firstName: `Ada${number}`, defaultEmailAddress: { emailAddress: email }, defaultPhoneNumber: null },
      shippingAddress: { firstName: `Ada${number}`, phone: null, countryCodeV2: "CA" },
      billingAddress: null,
      number: number - 1000,
      createdAt: created,
      updatedAt: created,
      processedAt: created,
      closedAt: null,
      cancelledAt,
      cancelReason: cancelled ? "CUSTOMER" : null,
      presentmentCurrencyCode: "USD",
      displayFulfillmentStatus: shipped ? "FULFILLED" : "UNFULFILLED",
      fulfillments,
      refunds,
    });
    yield { id: orderGid, legacyResourceId: String(orderId), name: `#${number}`, createdAt: created, email, lines: [orderLine, ...children], facts };
  }
}

/** The facts of the history, all at once (small: a few per order). */
export function historyFacts(options: HistoryOptions): HistoryFact[] {
  const facts: HistoryFact[] = [];
  for (const order of historyOrders(options)) facts.push(...order.facts);
  return facts;
}

/** The JSONL file's lines, lazily, each without its newline. */
export function* historyLines(options: HistoryOptions): Generator<string> {
  for (const order of historyOrders(options)) yield* order.lines;
}
