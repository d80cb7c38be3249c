/**
 * The HTTP server of `npm start` (app/serve.ts builds it; tests build it too, around the app's
 * real handlers): which requests skip Remix, and the timeouts a webhook server needs (decision 011).
 * Like app/serve.ts, it imports nothing of the app.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;

const COMMERCE_WEBHOOK_PATH = "/webhooks/commerce";

/**
 * Shopify waits 5 s for a webhook's answer, and its requests are small (headers, a body of a few
 * kB): a connection that has not sent its headers in 10 s, or its whole request in 30 s, is not
 * Shopify, and is cut (Node answers 408 and closes) instead of being held for Node's default 5 minutes.
 */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export interface ServerTimeouts {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
}

export function timeoutsFromEnv(source: Record<string, string | undefined> = process.env): ServerTimeouts {
  const read = (name: string, fallback: number) => {
    const text = source[name];
    if (text === undefined || text === "") return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive whole number of milliseconds, not "${text}"`);
    return value;
  };
  const requestTimeoutMs = read("HTTP_REQUEST_TIMEOUT_MS", DEFAULT_REQUEST_TIMEOUT_MS);
  // Node requires headersTimeout <= requestTimeout.
  const headersTimeoutMs = Math.min(read("HTTP_HEADERS_TIMEOUT_MS", DEFAULT_HEADERS_TIMEOUT_MS), requestTimeoutMs);
  return { headersTimeoutMs, requestTimeoutMs };
}

/**
 * The HTTP server of `npm start`: /webhooks/commerce (any method: the handler answers 405 to all
 * but POST) to the direct webhook handler, everything else to `app` (Express with Remix).
 */
export function createProductionServer(handlers: { commerceWebhook: NodeHandler; app: NodeHandler }, timeouts: ServerTimeouts): Server {
  const server = createServer(
    {
      headersTimeout: timeouts.headersTimeoutMs,
      requestTimeout: timeouts.requestTimeoutMs,
      // Node enforces both timeouts by a sweep at this interval (default 30 s, which would let a
      // 10 s limit run to 40 s).
      connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(timeouts.headersTimeoutMs / 4))),
    },
    (req, res) => {
      if (isCommerceWebhook(req.url)) handlers.commerceWebhook(req, res);
      else handlers.app(req, res);
    },
  );
  // Keep connections open for Shopify's next delivery.
  server.keepAliveTimeout = 65_000;
  // Every route's `connection: close` answer (the 413s of the direct and the Remix webhook routes alike).
  server.on("connection", lingerBeforeClosing);
  return server;
}

/** How long a connection refused mid-body stays half-open for its client to read the answer. */
const LINGER_MS = 2_000;

/**
 * Node's server ends a `connection: close` answer with `socket.destroySoon()`. Closing a socket whose client is
 * still sending, with its bytes unread in the kernel, resets the connection (RST), and the client's kernel then
 * drops the answer it had received but not yet read: a 413 was lost that way, on a busy machine. So the answer is
 * followed by a FIN only (the client reads the answer, then sees the end), what the client still sends stays unread
 * (the request is paused: its sending stalls on TCP's window), and the socket is destroyed when the client closes,
 * or LINGER_MS later.
 */
export function lingerBeforeClosing(socket: Socket): void {
  socket.destroySoon = () => {
    socket.end();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once("close", () => clearTimeout(timer));
    socket.once("end", () => socket.destroy());
  };
}

function isCommerceWebhook(url: string | undefined): boolean {
  if (!url?.startsWith(COMMERCE_WEBHOOK_PATH)) return false;
  const rest = url.slice(COMMERCE_WEBHOOK_PATH.length);
  return rest === "" || rest.startsWith("?");
}

