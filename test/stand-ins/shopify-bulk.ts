/**
 * Shopify's bulk operations for the backfill, as strict as Shopify documents them: handlers for the fake Admin API
 * (in-process, shopify-admin.ts, or the loopback server, shopify-admin-server.ts: both take the same handlers) and a
 * loopback HTTP server for the JSONL result.
 *
 * - bulkOperationRunQuery checks the query parses, holds at most five connections nested at most two deep, searches
 *   orders by a created_at range, and asks for grouped objects; one bulk query per shop runs at a time.
 * - bulkOperation(id:) moves CREATED → RUNNING → COMPLETED over `pollsToComplete` polls (or to the outcome a test
 *   sets), with objectCount growing, and the result URL once completed.
 * - the result server answers Range requests (206) unless told to ignore them, and can break a download off after
 *   some bytes, answer 403 as an expired URL does, or hang.
 */
import { createServer, type IncomingMessage, type ServerResponse, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Kind, parse, type FieldNode, type SelectionSetNode } from "graphql";
import type { AdminCall, OperationHandler } from "./shopify-admin";

export interface BulkFaults {
  /** The next download sends this many bytes, then its connection is destroyed (once). */
  breakAfterBytes?: number;
  /** Downloads answer 200 with the whole file, ignoring Range. */
  ignoreRange?: boolean;
  /** Downloads answer 403, as an expired signed URL does. */
  gone?: boolean;
  /** The next download sends its headers and then nothing (once). */
  hangOnce?: boolean;
  /** The bulk operation ends with this status instead of COMPLETED (FAILED, EXPIRED, CANCELED). */
  outcome?: "FAILED" | "EXPIRED" | "CANCELED";
  errorCode?: string;
}

export interface BulkOperationRecord {
  id: string;
  shop: string;
  query: string;
  since: Date;
  until: Date;
  status: string;
  polls: number;
}

export interface BulkStandIn {
  /** For `fakeAdminApi.answer({...})` or `standIn.answer({...})`, merged with any other handlers the test needs. */
  handlers: Record<string, OperationHandler>;
  operations: BulkOperationRecord[];
  /** Each result download: its Range header (or null) and the status answered. */
  downloads: Array<{ range: string | null; status: number }>;
  faults: BulkFaults;
  /** Problems with what the app sent (a test asserts this stays empty). */
  violations: string[];
  origin: string;
  /** Forgets the operations, downloads and violations, and clears the faults (for a test's beforeEach). */
  reset(): void;
  close(): Promise<void>;
}

export interface BulkStandInOptions {
  /** The JSONL lines of the orders created in a range (each without its newline). */
  lines(range: { since: Date; until: Date }): Iterable<string>;
  /** How many orders a range holds (ordersCount). */
  count(range: { since: Date; until: Date }): number;
  pollsToComplete?: number;
  faults?: BulkFaults;
}

const RANGE_SEARCH = /^created_at:>='([^']+)' AND created_at:<='([^']+)'$/;

/** Connections (fields selecting edges or nodes) and how deep they nest. */
function connections(selection: SelectionSetNode | undefined, depth: number, found: Array<{ name: string; depth: number; args: string[] }>) {
  if (!selection) return found;
  for (const node of selection.selections) {
    if (node.kind !== Kind.FIELD) continue;
    const field = node as FieldNode;
    const inner = field.selectionSet?.selections.filter((s): s is FieldNode => s.kind === Kind.FIELD).map((s) => s.name.value) ?? [];
    const isConnection = inner.includes("edges") || inner.includes("nodes");
    if (isConnection) {
      found.push({ name: field.name.value, depth: depth + 1, args: (field.arguments ?? []).map((a) => a.name.value) });
      for (const child of field.selectionSet!.selections) {
        if (child.kind !== Kind.FIELD) continue;
        if (child.name.value === "nodes") connections(child.selectionSet, depth + 1, found);
        if (child.name.value === "edges") {
          const nodeField = child.selectionSet?.selections.find((s): s is FieldNode => s.kind === Kind.FIELD && s.name.value === "node");
          connections(nodeField?.selectionSet, depth + 1, found);
        }
      }
    } else {
      connections(field.selectionSet, depth, found);
    }
  }
  return found;
}

function searchOf(query: string): { since: Date; until: Date } | string {
  let document;
  try {
    document = parse(query);
  } catch (error) {
    return `the bulk query does not parse: ${(error as Error).message}`;
  }
  const operation = document.definitions[0];
  if (!operation || operation.kind !== Kind.OPERATION_DEFINITION) return "the bulk query has no operation";
  const found = connections(operation.selectionSet, 0, []);
  if (found.length > 5) return `the bulk query has ${found.length} connections (Shopify allows 5)`;
  const deep = found.find((c) => c.depth > 2);
  if (deep) return `connection ${deep.name} is nested ${deep.depth} levels deep (Shopify allows 2)`;
  const orders = operation.selectionSet.selections.find((s): s is FieldNode => s.kind === Kind.FIELD && s.name.value === "orders");
  if (!orders) return "the bulk query does not read orders";
  const search = orders.arguments?.find((a) => a.name.value === "query");
  if (!search || search.value.kind !== Kind.STRING) return "the orders are not searched by a range";
  const match = RANGE_SEARCH.exec(search.value.value);
  if (!match) return `unexpected orders search ${JSON.stringify(search.value.value)}`;
  const since = new Date(match[1]!);
  const until = new Date(match[2]!);
  if (Number.isNaN(since.getTime()) || Number.isNaN(until.getTime())) return "the range's dates do not parse";
  return { since, until };
}

export async function startBulkStandIn(options: BulkStandInOptions): Promise<BulkStandIn> {
  const operations: BulkOperationRecord[] = [];
  const downloads: BulkStandIn["downloads"] = [];
  const violations: string[] = [];
  const faults: BulkFaults = { ...options.faults };
  const pollsToComplete = options.pollsToComplete ?? 2;
  const hanging = new Set<ServerResponse>();

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const match = /^\/results\/(\d+)\.jsonl$/.exec(req.url ?? "");
    const operation = match ? operations.find((op) => op.id.endsWith(`/${match[1]}`)) : undefined;
    const range = typeof req.headers.range === "string" ? req.headers.range : null;
    if (!operation || operation.status !== "COMPLETED") {
      downloads.push({ range, status: 404 });
      res.writeHead(404).end();
      return;
    }
    if (faults.gone) {
      downloads.push({ range, status: 403 });
      res.writeHead(403, { "content-type": "application/xml" }).end("<Error><Code>ExpiredToken</Code></Error>");
      return;
    }
    const from = range && !faults.ignoreRange ? Number(/^bytes=(\d+)-$/.exec(range)?.[1] ?? Number.NaN) : 0;
    if (Number.isNaN(from)) {
      violations.push(`unexpected Range header ${range}`);
      res.writeHead(400).end();
      return;
    }
    const status = from > 0 ? 206 : 200;
    downloads.push({ range, status });
    res.writeHead(status, { "content-type": "application/jsonl", ...(from > 0 ? { "content-range": `bytes ${from}-*/*` } : {}) });
    if (faults.hangOnce) {
      faults.hangOnce = false;
      hanging.add(res);
      return;
    }
    let breakAfter = faults.breakAfterBytes;
    faults.breakAfterBytes = undefined;
    const lines = options.lines({ since: operation.since, until: operation.until })[Symbol.iterator]();
    let skipped = 0;
    let sent = 0;
    const pump = () => {
      for (;;) {
        const next = lines.next();
        if (next.done) {
          res.end();
          return;
        }
        let bytes = Buffer.from(`${next.value}\n`, "utf8");
        if (skipped < from) {
          const drop = Math.min(from - skipped, bytes.length);
          skipped += drop;
          bytes = bytes.subarray(drop);
          if (bytes.length === 0) continue;
        }
        if (breakAfter !== undefined && sent + bytes.length > breakAfter) {
          res.write(bytes.subarray(0, Math.max(0, breakAfter - sent)));
          breakAfter = undefined;
          res.flushHeaders();
          setImmediate(() => res.destroy());
          return;
        }
        sent += bytes.length;
        if (!res.write(bytes)) {
          res.once("drain", pump);
          return;
        }
      }
    };
    pump();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let nextId = 1;

  const operationById = (id: unknown) => operations.find((op) => op.id === id);
  const answerOf = (op: BulkOperationRecord) => ({
    id: op.id,
    status: op.status,
    errorCode: op.status === "FAILED" ? (faults.errorCode ?? "INTERNAL_SERVER_ERROR") : null,
    // UnsignedInt64 is a string in JSON.
    objectCount: String(op.status === "COMPLETED" ? options.count(op) * 4 : op.polls * 10),
    url: op.status === "COMPLETED" && options.count(op) > 0 ? `${origin}/results/${op.id.replace(/^.*\//, "")}.jsonl` : null,
  });

  const handlers: Record<string, OperationHandler> = {
    BackfillOrdersCount(variables) {
      const match = typeof variables.query === "string" ? RANGE_SEARCH.exec(variables.query) : null;
      if (!match) {
        violations.push(`ordersCount with an unexpected search ${JSON.stringify(variables.query)}`);
        return { body: { errors: [{ message: "bad search" }] } };
      }
      return { body: { data: { ordersCount: { count: options.count({ since: new Date(match[1]!), until: new Date(match[2]!) }), precision: "EXACT" } } } };
    },
    BackfillBulkQuery(variables, call: AdminCall) {
      if (!/groupObjects:\s*true/.test(call.query)) violations.push("bulkOperationRunQuery without groupObjects: true");
      const query = variables.query;
      if (typeof query !== "string") {
        violations.push("bulkOperationRunQuery without a query");
        return { body: { data: { bulkOperationRunQuery: { bulkOperation: null, userErrors: [{ field: ["query"], message: "query is required" }] } } } };
      }
      const range = searchOf(query);
      if (typeof range === "string") {
        violations.push(range);
        return { body: { data: { bulkOperationRunQuery: { bulkOperation: null, userErrors: [{ field: ["query"], message: range }] } } } };
      }
      const running = operations.find((op) => op.shop === call.shop && (op.status === "CREATED" || op.status === "RUNNING"));
      if (running) {
        return { body: { data: { bulkOperationRunQuery: { bulkOperation: null, userErrors: [{ field: null, message: `A bulk query operation for this app and shop is already in progress: ${running.id}.` }] } } } };
      }
      const op: BulkOperationRecord = { id: `gid://shopify/BulkOperation/${nextId++}`, shop: call.shop, query, ...range, status: "CREATED", polls: 0 };
      operations.push(op);
      return { body: { data: { bulkOperationRunQuery: { bulkOperation: { id: op.id, status: op.status }, userErrors: [] } } } };
    },
    BackfillBulkOperation(variables, call) {
      const op = operationById(variables.id);
      if (!op || op.shop !== call.shop) return { body: { data: { bulkOperation: null } } };
      if (op.status === "CREATED" || op.status === "RUNNING") {
        op.polls += 1;
        op.status = op.polls >= pollsToComplete ? (faults.outcome ?? "COMPLETED") : "RUNNING";
      } else if (op.status === "CANCELING") {
        op.status = "CANCELED";
      }
      return { body: { data: { bulkOperation: answerOf(op) } } };
    },
    BackfillBulkOperationCancel(variables, call) {
      const op = operationById(variables.id);
      if (!op || op.shop !== call.shop) return { body: { data: { bulkOperationCancel: { bulkOperation: null, userErrors: [{ field: ["id"], message: "Bulk operation does not exist" }] } } } };
      if (op.status === "CREATED" || op.status === "RUNNING") op.status = "CANCELING";
      return { body: { data: { bulkOperationCancel: { bulkOperation: { id: op.id, status: op.status }, userErrors: [] } } } };
    },
  };

  return {
    handlers,
    operations,
    downloads,
    faults,
    violations,
    origin,
    reset() {
      operations.length = 0;
      downloads.length = 0;
      violations.length = 0;
      for (const key of Object.keys(faults) as Array<keyof BulkFaults>) delete faults[key];
    },
    close: () =>
      new Promise((resolve, reject) => {
        for (const res of hanging) res.destroy();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** Whether an order created at `createdAt` is in a bulk query's range (both ends included, as its search says). */
export function inRange(createdAt: string, range: { since: Date; until: Date }): boolean {
  return createdAt >= range.since.toISOString() && createdAt <= range.until.toISOString();
}

/** The stand-in's answers for a generated history: the range's orders, lazily, and their count. */
export function historyAnswers(orders: () => Iterable<{ createdAt: string; lines: string[] }>): Pick<BulkStandInOptions, "lines" | "count"> {
  return {
    lines: (range) =>
      (function* () {
        for (const order of orders()) if (inRange(order.createdAt, range)) yield* order.lines;
      })(),
    count: (range) => {
      let count = 0;
      for (const order of orders()) if (inRange(order.createdAt, range)) count++;
      return count;
    },
  };
}
