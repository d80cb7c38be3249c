/**
 * The demo's history backfill parts (npm run demo, app/cli/demo.ts): five past orders of the demo customer as a
 * Shopify bulk operation writes them (JSONL, grouped: the order's line, then its line items, each parcel's lines and
 * carrier updates, each refund's lines, every child naming its parent in `__parentId`), a loopback server for that
 * file, and the answers of Shopify's Admin API to the backfill's bulk operation (bulkOperationRunQuery, then
 * bulkOperation(id:) RUNNING once and COMPLETED with the file's URL). Product code, kept apart from test/.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

const DAY = 86_400_000;
const HOUR = 3_600_000;
/** Above 2^53, as Shopify's are: the app must keep every digit. */
const BASE_ID = 9_007_199_254_741_100n;

export interface DemoHistoryOrder {
  name: string;
  createdAt: Date;
  lines: string[];
}

/** What the Admin API stand-in's handlers take and answer (the same as the Flow trigger's). */
export type AdminAnswer = (variables: Record<string, unknown>, call: { shop: string; query: string }) => { status?: number; body: unknown };

function gid(type: string, id: bigint): string {
  return `gid://shopify/${type}/${id}`;
}

/**
 * Orders #9001..#9005, placed 20, 16, 12, 8 and 5 days before `now`: each shipped an hour later with carrier updates
 * up to delivered two days on, except the last (still in transit); #9002 was refunded.
 */
export function demoHistory(now: Date, shop: string): DemoHistoryOrder[] {
  return [20, 16, 12, 8, 5].map((daysAgo, n) => {
    const number = 9001 + n;
    const id = BASE_ID + BigInt(n) * 100n;
    const created = new Date(now.getTime() - daysAgo * DAY);
    const at = (hours: number) => new Date(created.getTime() + hours * HOUR).toISOString();
    const orderGid = gid("Order", id);
    const fulfillmentGid = gid("Fulfillment", id + 10n);
    const refundGid = gid("Refund", id + 50n);
    const refunded = number === 9002;
    const updates = number === 9005 ? ["IN_TRANSIT"] : ["IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED"];
    const order = {
      id: orderGid,
      legacyResourceId: String(id),
      name: `#${number}`,
      email: "jon@example.com",
      phone: null,
      currencyCode: "USD",
      statusPageUrl: `https://${shop}/orders/${number}/status`,
      totalPriceSet: { shopMoney: { amount: "64.00", currencyCode: "USD" } },
      customer: { id: gid("Customer", 115310627314723954n), legacyResourceId: "115310627314723954", firstName: "Jon", defaultEmailAddress: { emailAddress: "jon@example.com" }, defaultPhoneNumber: null },
      shippingAddress: { firstName: "Jon", phone: null, countryCodeV2: "CA" },
      billingAddress: null,
      number: number - 1000,
      createdAt: at(0),
      updatedAt: at(0),
      processedAt: at(0),
      closedAt: null,
      cancelledAt: null,
      cancelReason: null,
      presentmentCurrencyCode: "USD",
      displayFulfillmentStatus: "FULFILLED",
      fulfillments: [
        {
          id: fulfillmentGid,
          legacyResourceId: String(id + 10n),
          name: `#${number}.1`,
          status: "SUCCESS",
          createdAt: at(1),
          updatedAt: at(1),
          trackingInfo: [{ number: `1Z${number}`, url: `https://track.example/1Z${number}`, company: "UPS" }],
        },
      ],
      refunds: refunded
        ? [{ id: refundGid, legacyResourceId: String(id + 50n), createdAt: at(72), note: "Damaged", totalRefundedSet: { presentmentMoney: { amount: "32.00", currencyCode: "USD" } } }]
        : [],
    };
    const children = [
      { id: gid("LineItem", id + 1n), title: "Trail Shoe", name: "Trail Shoe - Blue / 42", quantity: 2, __parentId: orderGid },
      { id: gid("FulfillmentLineItem", id + 11n), quantity: 2, lineItem: { title: "Trail Shoe", name: "Trail Shoe - Blue / 42" }, __parentId: fulfillmentGid },
      ...updates.map((status, u) => ({
        id: gid("FulfillmentEvent", id + 15n + BigInt(u)),
        status,
        message: null,
        happenedAt: at(2 + 22 * u),
        createdAt: at(2 + 22 * u),
        estimatedDeliveryAt: null,
        city: "Ottawa",
        province: "Ontario",
        country: "CA",
        zip: "K2P 1L4",
        __parentId: fulfillmentGid,
      })),
      ...(refunded ? [{ id: gid("RefundLineItem", id + 51n), quantity: 1, lineItem: { title: "Trail Shoe" }, __parentId: refundGid }] : []),
    ];
    return { name: `#${number}`, createdAt: created, lines: [JSON.stringify(order), ...children.map((child) => JSON.stringify(child))] };
  });
}

const RANGE_SEARCH = /orders\(query:\s*"created_at:>='([^']+)' AND created_at:<='([^']+)'"/;

export interface DemoBulkStandIn {
  /** Merged into the Admin API stand-in's answers. */
  handlers: Record<string, AdminAnswer>;
  /** Problems with what the app asked (the demo fails on any). */
  unexpected: string[];
  /** Bulk operations started. */
  operations: number;
  close(): Promise<void>;
}

/** The bulk operation's answers, and a loopback server for each operation's JSONL file. */
export async function startDemoBulkStandIn(orders: readonly DemoHistoryOrder[]): Promise<DemoBulkStandIn> {
  const files = new Map<string, { text: string; polls: number; shop: string }>();
  const unexpected: string[] = [];
  const server: Server = createServer((req, res) => {
    const file = files.get(/^\/results\/(\d+)\.jsonl$/.exec(req.url ?? "")?.[1] ?? "");
    if (!file) {
      unexpected.push(`a download of ${req.url ?? "?"}, which is no result file`);
      res.writeHead(404).end();
      return;
    }
    // Range requests, as Shopify's storage answers them: the app resumes a broken-off download from an offset.
    const from = Number(/^bytes=(\d+)-$/.exec(String(req.headers.range ?? ""))?.[1] ?? 0);
    const body = Buffer.from(file.text, "utf8").subarray(from);
    res.writeHead(from > 0 ? 206 : 200, { "content-type": "application/jsonl" }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const stand: DemoBulkStandIn = {
    unexpected,
    operations: 0,
    handlers: {
      BackfillBulkQuery(variables, call) {
        const range = RANGE_SEARCH.exec(typeof variables.query === "string" ? variables.query : "");
        if (!range || !/groupObjects:\s*true/.test(call.query)) {
          unexpected.push("a bulk query without a created_at range or without groupObjects: true");
          return { body: { data: { bulkOperationRunQuery: { bulkOperation: null, userErrors: [{ field: ["query"], message: "unexpected query" }] } } } };
        }
        const [since, until] = [new Date(range[1]!), new Date(range[2]!)];
        const inRange = orders.filter((order) => order.createdAt >= since && order.createdAt <= until);
        const id = String(++stand.operations);
        files.set(id, { text: inRange.flatMap((order) => order.lines).map((line) => `${line}\n`).join(""), polls: 0, shop: call.shop });
        return { body: { data: { bulkOperationRunQuery: { bulkOperation: { id: `gid://shopify/BulkOperation/${id}`, status: "CREATED" }, userErrors: [] } } } };
      },
      BackfillBulkOperation(variables, call) {
        const id = /^gid:\/\/shopify\/BulkOperation\/(\d+)$/.exec(String(variables.id))?.[1] ?? "";
        const file = files.get(id);
        if (!file || file.shop !== call.shop) return { body: { data: { bulkOperation: null } } };
        file.polls += 1;
        const done = file.polls >= 2;
        const objects = file.text === "" ? 0 : file.text.split("\n").length - 1;
        return {
          body: {
            data: {
              bulkOperation: {
                id: variables.id,
                status: done ? "COMPLETED" : "RUNNING",
                errorCode: null,
                objectCount: String(done ? objects : 0),
                url: done && objects > 0 ? `${origin}/results/${id}.jsonl` : null,
              },
            },
          },
        };
      },
    },
    close: () =>
      new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
  return stand;
}
