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
        if (Number.isFinite(declared) && declared > maxBytes) {
          req.resume();
          reject(new BodyTooLargeError(`body of ${declared} bytes`));
          return;
        }
        const chunks: Buffer[] = [];
        let total = 0;
        let refused = false;
        req.on("data", (chunk: Buffer) => {
          if (refused) return;
          total += chunk.byteLength;
          if (total > maxBytes) {
            refused = true;
            chunks.length = 0;
            reject(new BodyTooLargeError(`body over ${maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        req.on("end", () => {
          if (!refused) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
        });
        req.on("error", (error) => {
          if (!refused) reject(error);
        });
      });
    },
  };
}
