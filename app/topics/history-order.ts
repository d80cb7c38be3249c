/**
 * An order's history as one Shopify bulk operation reads it (docs/decisions/016-history-backfill.md): the bulk query
 * document, and the order assembled from its JSONL lines in the shape the reconciliation's paginated queries answer
 * (`lineItems { nodes }`, `fulfillments [...]`, `refunds [...]`), so each topic's history reuses the events function
 * of its reconciliation where it has one. Pure: no I/O.
 *
 * A bulk query may hold five connections, two levels deep. This one uses all five: the orders, their line items, and
 * each parcel's lines and carrier updates and each refund's lines. A refund's transactions would be a sixth, so its
 * amount is read from `totalRefundedSet` and stands in as one successful refund transaction; returns would be a
 * sixth too (their topics say so in their `history`).
 */
import { z } from "zod";
import { ORDER_IDENTITY_FIELDS } from "~/shopify/admin-order";
import { RECONCILED_ORDER_SCALARS, reconciledOrder } from "./reconcile-order";

/** Shopify's search syntax for the orders created in a range (both ends included). */
export function historySearch(range: { since: Date; until: Date }): string {
  return `created_at:>='${range.since.toISOString()}' AND created_at:<='${range.until.toISOString()}'`;
}

/**
 * The bulk query: every field any topic's history reads. Connections take no `first` in a bulk query (Shopify reads
 * them whole); lists (`fulfillments`, `refunds`, `trackingInfo`) are read whole too.
 */
export function historyBulkQuery(range: { since: Date; until: Date }): string {
  return `{
  orders(query: ${JSON.stringify(historySearch(range))}, sortKey: CREATED_AT) {
    edges {
      node {
        ${ORDER_IDENTITY_FIELDS}
        ${RECONCILED_ORDER_SCALARS}
        displayFulfillmentStatus
        lineItems { edges { node { id title name quantity } } }
        fulfillments {
          id
          legacyResourceId
          name
          status
          createdAt
          updatedAt
          trackingInfo { number url company }
          fulfillmentLineItems { edges { node { id quantity lineItem { title name } } } }
          events { edges { node { id status message happenedAt createdAt estimatedDeliveryAt city province country zip } } }
        }
        refunds {
          id
          legacyResourceId
          createdAt
          note
          totalRefundedSet { presentmentMoney { amount currencyCode } }
          refundLineItems { edges { node { id quantity lineItem { title } } } }
        }
      }
    }
  }
}`;
}

const money = z.object({ amount: z.string(), currencyCode: z.string() });

export const historyFulfillmentEvent = z.object({
  id: z.string(),
  status: z.string(),
  message: z.string().nullish(),
  happenedAt: z.string(),
  createdAt: z.string().nullish(),
  estimatedDeliveryAt: z.string().nullish(),
  city: z.string().nullish(),
  province: z.string().nullish(),
  country: z.string().nullish(),
  zip: z.string().nullish(),
});

const historyFulfillment = z.object({
  id: z.string(),
  legacyResourceId: z.string(),
  name: z.string().nullish(),
  status: z.string().nullish(),
  createdAt: z.string(),
  updatedAt: z.string().nullish(),
  trackingInfo: z.array(z.object({ number: z.string().nullish(), url: z.string().nullish(), company: z.string().nullish() })).nullish(),
  fulfillmentLineItems: z.object({
    nodes: z.array(z.object({ quantity: z.number(), lineItem: z.object({ title: z.string(), name: z.string().nullish() }).nullish() })),
  }),
  events: z.object({ nodes: z.array(historyFulfillmentEvent) }),
});

const historyRefund = z.object({
  id: z.string(),
  legacyResourceId: z.string(),
  createdAt: z.string(),
  note: z.string().nullish(),
  totalRefundedSet: z.object({ presentmentMoney: money }).nullish(),
  refundLineItems: z.object({ nodes: z.array(z.object({ quantity: z.number(), lineItem: z.object({ title: z.string() }).nullish() })) }),
});

/** One order with everything the bulk query read of it. */
export const historyOrder = reconciledOrder.extend({
  displayFulfillmentStatus: z.string().nullish(),
  fulfillments: z.array(historyFulfillment),
  refunds: z.array(historyRefund),
});
export type HistoryOrder = z.infer<typeof historyOrder>;

/** A JSON object as a JSONL line holds it. */
export type Line = { [key: string]: unknown };

/** The resource type of a GraphQL id ("LineItem"), or null. */
function gidType(id: unknown): string | null {
  if (typeof id !== "string") return null;
  return /^gid:\/\/shopify\/([A-Za-z]+)\//.exec(id)?.[1] ?? null;
}

function connectionNodes(value: unknown): unknown[] {
  if (typeof value !== "object" || value === null) return [];
  const connection = value as { nodes?: unknown; edges?: unknown };
  if (Array.isArray(connection.nodes)) return [...(connection.nodes as unknown[])];
  if (Array.isArray(connection.edges)) return (connection.edges as Array<{ node?: unknown }>).map((edge) => edge?.node).filter((node) => node !== undefined);
  return [];
}

function listOf(value: unknown): Line[] {
  return Array.isArray(value) ? value.filter((item): item is Line => typeof item === "object" && item !== null && !Array.isArray(item)) : [];
}

/**
 * Builds orders from JSONL lines: an order's line first, then its children's lines (each names its parent in
 * `__parentId`), as Shopify writes a grouped bulk result. `add` answers what became of each line; `finish` gives
 * the order being built (whole once the next order's line, or the end of the file, has come).
 */
export class OrderAssembler {
  private order: Line | null = null;
  /** The current order's parcels and refunds by id, where their children go. */
  private parents = new Map<string, { line: Line; kind: "Fulfillment" | "Refund" }>();

  /** The order being built, or null; call before `add` of a new order line to take the finished one. */
  get current(): Line | null {
    return this.order;
  }

  /** Whether this line starts a new order. */
  static isOrderLine(line: Line): boolean {
    return line.__parentId === undefined;
  }

  /** Starts a new order with its line; the previous one, if any, is dropped (take it with `current` first). */
  start(line: Line): string | null {
    this.order = null;
    this.parents = new Map();
    if (gidType(line.id) !== "Order") return `a top-level line that is not an order (id ${JSON.stringify(line.id ?? null)})`;
    const order: Line = {
      ...line,
      lineItems: { nodes: connectionNodes(line.lineItems) },
      fulfillments: listOf(line.fulfillments).map((f) => ({ ...f, fulfillmentLineItems: { nodes: connectionNodes(f.fulfillmentLineItems) }, events: { nodes: connectionNodes(f.events) } })),
      refunds: listOf(line.refunds).map((r) => ({ ...r, refundLineItems: { nodes: connectionNodes(r.refundLineItems) } })),
    };
    this.order = order;
    this.parents = new Map();
    for (const fulfillment of order.fulfillments as Line[]) if (typeof fulfillment.id === "string") this.parents.set(fulfillment.id, { line: fulfillment, kind: "Fulfillment" });
    for (const refund of order.refunds as Line[]) if (typeof refund.id === "string") this.parents.set(refund.id, { line: refund, kind: "Refund" });
    return null;
  }

  /** Adds a child line to the current order: null when it found its place, else why not. */
  addChild(line: Line): string | null {
    const order = this.order;
    const parentId = line.__parentId;
    if (order === null) return "a line whose order did not come before it";
    const { __parentId: _parent, ...node } = line;
    const type = gidType(line.id);
    if (parentId === order.id) {
      if (type !== "LineItem") return `an order's child that is not a line item (${type ?? "no id"})`;
      (order.lineItems as { nodes: unknown[] }).nodes.push(node);
      return null;
    }
    const parent = typeof parentId === "string" ? this.parents.get(parentId) : undefined;
    if (!parent) return `a line whose parent (${JSON.stringify(parentId)}) is not the order being read or one of its parcels or refunds`;
    if (parent.kind === "Fulfillment" && type === "FulfillmentLineItem") (parent.line.fulfillmentLineItems as { nodes: unknown[] }).nodes.push(node);
    else if (parent.kind === "Fulfillment" && type === "FulfillmentEvent") (parent.line.events as { nodes: unknown[] }).nodes.push(node);
    else if (parent.kind === "Refund" && type === "RefundLineItem") (parent.line.refundLineItems as { nodes: unknown[] }).nodes.push(node);
    else return `a ${type ?? "line without an id"} under a ${parent.kind}, which the query does not read`;
    return null;
  }
}

/** The order checked against what the topics read, or why it cannot be used. */
export function parseHistoryOrder(line: Line): { ok: true; order: HistoryOrder } | { ok: false; reason: string } {
  const parsed = historyOrder.safeParse(line);
  if (parsed.success) return { ok: true, order: parsed.data };
  const issue = parsed.error.issues[0];
  return { ok: false, reason: `the order's ${issue?.path.join(".") || "line"} is not as the query asks (${issue?.message ?? "invalid"})` };
}

/** Refund transactions as the refunds reconciliation reads them, from the refund's total (see the module comment). */
export function refundTransactionsOf(refund: HistoryOrder["refunds"][number]) {
  const total = refund.totalRefundedSet?.presentmentMoney;
  return { nodes: total ? [{ kind: "REFUND", status: "SUCCESS", amountSet: { presentmentMoney: total } }] : [] };
}
