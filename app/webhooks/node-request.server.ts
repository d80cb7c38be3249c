import type { IncomingMessage } from "node:http";
import { BodyTooLargeError } from "./read-body.server";
import type { WebhookRequest } from "./receive.server";

/** Adapts Node's IncomingMessage to the webhook path, without building a fetch Request. */
export function nodeWebhookRequest(req: IncomingMessage): WebhookRequest {
  return {
    method: req.method ?? "GET",
    header(name) {
      const value = req.headers[name];
      return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
    },
    readBody(maxBytes) {
      return new Promise<Buffer>((resolve, reject) => {
        const declared = Number(req.headers["content-length"] ?? "NaN");
        // Refused unread: the answer closes the connection (BODY_TOO_LARGE), so the body is never pulled in.
        if (Number.isFinite(declared) && declared > maxBytes) {
          leaveUnread(req);
          reject(new BodyTooLargeError(`body of ${declared} bytes`));
          return;
        }
        const chunks: Buffer[] = [];
        let total = 0;
        let settled = false;
        const fail = (error: Error) => {
          if (settled) return;
          settled = true;
          chunks.length = 0;
          // Stop pulling the body: the 413 closes the connection once written.
          req.off("data", onData);
          leaveUnread(req);
          reject(error);
        };
        const onData = (chunk: Buffer) => {
          if (settled) return;
          total += chunk.byteLength;
          if (total > maxBytes) fail(new BodyTooLargeError(`body over ${maxBytes} bytes`));
          else chunks.push(chunk);
        };
        req.on("data", onData);
        req.on("end", () => {
          if (settled) return;
          settled = true;
          resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
        });
        req.on("error", fail);
        // Shopify hung up mid-body: nothing is recorded, and it will deliver again. Every request closes once
        // answered: the Error (and its stack) is made only when the body had not been read.
        req.on("close", () => {
          if (!settled) fail(new Error("The connection closed before the webhook body was read"));
        });
      });
    },
  };
}

/**
 * Leaves the rest of a refused body in the client's and the kernel's buffers. Pausing alone is not enough: once the
 * answer is sent, Node's server reads and discards a body no one has consumed (IncomingMessage's dump), for as long
 * as the connection lingers, which let a client push hundreds of megabytes through a 413. A listener marks the body
 * as consumed (it sees at most the chunk already read, and drops it); the pause stops the socket's reads.
 */
function leaveUnread(req: IncomingMessage): void {
  req.on("data", discard);
  req.pause();
}

function discard(): void {}
