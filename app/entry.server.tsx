import { PassThrough } from "node:stream";
import { createReadableStreamFromReadable, type EntryContext } from "@remix-run/node";
import { RemixServer } from "@remix-run/react";
import { isbot } from "isbot";
import { renderToPipeableStream } from "react-dom/server";
import { database, db, warmWrites } from "./db.server";
import { sqliteWriterModeFromEnv } from "./db/sqlite-writer.server";
import { sqliteCheckpointsModeFromEnv } from "./db/sqlite-checkpoints";
import { notifyOtherProcesses } from "./delivery/pg-wake.server";
import { startEmbeddedWorker } from "./delivery/runtime.server";
import { env } from "./env.server";
import { logger } from "./logger.server";
import { addDocumentResponseHeaders } from "./shopify.server";

export const streamTimeout = 5000;

// The production server (app/serve.ts) answers POST /webhooks/commerce with this, ahead of
// Remix, from the same module graph as the routes and the embedded worker (decision 007).
export { handleCommerceWebhook } from "./webhooks/route.server";

// On PostgreSQL, what this process records also wakes standalone workers (NOTIFY; decision 020).
notifyOtherProcesses(database());

// `npm start` runs the delivery worker in the web process unless DELIVERY_WORKER=off
// (then run `npm run cli -- worker` separately, as many as needed).
if (env().DELIVERY_WORKER === "embedded") {
  startEmbeddedWorker().catch((error: unknown) => {
    logger.fatal({ err: error instanceof Error ? error.message : String(error) }, "delivery worker could not start");
    process.exit(1);
  });
}

// The SQLite writer thread (decision 021) takes a moment to start on a busy machine: start it with the
// production server rather than on the first webhook, whose answer Shopify waits for.
if (env().NODE_ENV === "production") {
  // A bad SQLITE_WRITER or SQLITE_CHECKPOINTS stops the server here rather than refusing every webhook.
  sqliteWriterModeFromEnv();
  sqliteCheckpointsModeFromEnv();
  warmWrites(db()).catch((error: unknown) => {
    logger.error({ err: error instanceof Error ? error.message : String(error) }, "the SQLite writer thread could not start; each write will try again");
  });
}

export default async function handleRequest(
  request: Request,
  responseStatusCode: number,
  responseHeaders: Headers,
  remixContext: EntryContext,
) {
  addDocumentResponseHeaders(request, responseHeaders);
  const userAgent = request.headers.get("user-agent");
  const callbackName = isbot(userAgent ?? "") ? "onAllReady" : "onShellReady";

  return new Promise((resolve, reject) => {
    const { pipe, abort } = renderToPipeableStream(<RemixServer context={remixContext} url={request.url} />, {
      [callbackName]: () => {
        const body = new PassThrough();
        const stream = createReadableStreamFromReadable(body);
        responseHeaders.set("Content-Type", "text/html");
        resolve(new Response(stream, { headers: responseHeaders, status: responseStatusCode }));
        pipe(body);
      },
      onShellError(error) {
        reject(error);
      },
      onError(error) {
        responseStatusCode = 500;
        logger.error({ err: error instanceof Error ? error.message : String(error) }, "render failed");
      },
    });
    setTimeout(abort, streamTimeout + 1000);
  });
}
