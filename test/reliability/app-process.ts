/**
 * The app as a real process for the crash and outage suites: an HTTP server that answers
 * Shopify webhooks with the production webhook handlers (HMAC, record, 200/503; commerce
 * webhooks by the same Node handler app/serve.ts routes them to) and runs the embedded
 * delivery worker exactly as `npm start` does (startEmbeddedWorker). Only the HTTP shell
 * differs from app/serve.ts: a production build takes a minute and other suites share
 * build/, while what a crash can break lives in the ingest and worker code used here.
 *
 * Test-only knobs (the production defaults would make each crash recovery wait a minute):
 * RELIABILITY_LEASE_MS, RELIABILITY_RETRY_BASE_MS.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { z } from "zod";
import { env } from "~/env.server";
import { logger } from "~/logger.server";

const knobs = z
  .object({
    PORT: z.coerce.number().int().positive(),
    RELIABILITY_LEASE_MS: z.coerce.number().int().positive().optional(),
    RELIABILITY_RETRY_BASE_MS: z.coerce.number().int().positive().optional(),
  })
  .parse(process.env);

async function main() {
  // Validates the environment first: production refuses to start without its secrets.
  const config = env();
  const { webhookAction, handleCommerceWebhook } = await import("~/webhooks/route.server");
  const { startEmbeddedWorker } = await import("~/delivery/runtime.server");
  // As entry.server.tsx does: on PostgreSQL what this process records also wakes standalone workers.
  const { notifyOtherProcesses } = await import("~/delivery/pg-wake.server");
  const { database } = await import("~/db.server");
  notifyOtherProcesses(database());

  const server = createServer((req, res) => {
    // As app/serve.ts does in production: the commerce path straight from Node's server.
    if (req.method === "POST" && req.url === "/webhooks/commerce") {
      handleCommerceWebhook(req, res);
      return;
    }
    handle(req, res, webhookAction).catch((error: unknown) => {
      logger.error({ err: error instanceof Error ? error.message : String(error) }, "request crashed");
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(knobs.PORT, "127.0.0.1", resolve));
  if (config.DELIVERY_WORKER === "embedded") {
    await startEmbeddedWorker({
      ...(knobs.RELIABILITY_LEASE_MS ? { leaseMs: knobs.RELIABILITY_LEASE_MS } : {}),
      ...(knobs.RELIABILITY_RETRY_BASE_MS
        ? { retry: { maxAttempts: 10, baseDelayMs: knobs.RELIABILITY_RETRY_BASE_MS, maxDelayMs: knobs.RELIABILITY_RETRY_BASE_MS * 20 } }
        : {}),
      idlePollMs: 100,
    });
  }
  process.stdout.write(`ready on ${knobs.PORT}\n`);
}

async function handle(req: IncomingMessage, res: ServerResponse, action: (request: Request) => Promise<Response>) {
  const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "127.0.0.1"}`);
  if (req.method === "GET" && url.pathname === "/healthz") {
    res.writeHead(200).end("ok");
    return;
  }
  if (req.method !== "POST" || !url.pathname.startsWith("/webhooks/")) {
    res.writeHead(404).end();
    return;
  }
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === "string") headers.set(name, value);
    else if (Array.isArray(value)) for (const item of value) headers.append(name, item);
  }
  // Streamed, not buffered here: the action's 413 must happen before the whole body is read.
  const init: RequestInit & { duplex: "half" } = {
    method: "POST",
    headers,
    body: Readable.toWeb(req) as ReadableStream<Uint8Array>,
    duplex: "half",
  };
  const response = await action(new Request(url, init));
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(Buffer.from(await response.arrayBuffer()));
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
