/** Reads a request body's bytes, refusing (413) before buffering more than `maxBytes`. */
export class BodyTooLargeError extends Error {
  override name = "BodyTooLargeError";
}

export async function readBodyWithLimit(request: Request, maxBytes: number): Promise<Buffer> {
  const declared = Number(request.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > maxBytes) throw new BodyTooLargeError(`body of ${declared} bytes`);
  if (!request.body) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      // Not cancel(): on Node's server that destroys the request and its socket before the 413 is
      // written. Left unread, the body stops flowing (backpressure), and the 413's
      // `connection: close` ends the connection once it is sent.
      reader.releaseLock();
      throw new BodyTooLargeError(`body over ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}
