/**
 * What the production server (app/serve.ts, as test/webhooks/production-server.ts runs it) does
 * with clients that are not Shopify, over raw TCP: a body over the limit is answered 413 and the
 * connection closed, so a client cannot keep streaming into it; a body that trickles in is cut by
 * requestTimeout, and headers that never finish by headersTimeout, instead of holding a connection
 * for Node's default 5 minutes.
 */
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_MAX_WEBHOOK_BYTES } from "~/webhooks/receive.server";
import { fixtureText, webhookHeaders } from "../support/webhooks";
import { startProductionServer, type RunningServer } from "./production-server";

let app: RunningServer | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** Bytes the server read from each connection, known once that connection closed. */
function serverReads(server: RunningServer["server"]): Promise<number>[] {
  const reads: Promise<number>[] = [];
  server.on("connection", (socket: Socket) => {
    reads.push(new Promise((resolve) => socket.once("close", () => resolve(socket.bytesRead))));
  });
  return reads;
}

interface ClientResult {
  /** What the server answered before the connection closed (the server lingers so that the close cannot win). */
  answer: string;
  /** Bytes of body the client managed to hand to the kernel. */
  sent: number;
}

/**
 * Sends `head`, then body chunks as fast as the socket takes them (up to `bodyBytes`), and resolves
 * when the server closes the connection. The safety timeout only bounds a broken run.
 */
function streamUntilClosed(port: number, head: string, bodyBytes: number, chunked: boolean, safetyMs = 15_000): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    let sent = 0;
    let closed = false;
    const safety = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open (${sent} bytes sent): ${answer.slice(0, 200)}`));
    }, safetyMs);
    socket.on("data", (data: Buffer) => (answer += data.toString("latin1")));
    socket.on("error", () => undefined); // a reset while writing is the server closing: awaited below
    socket.on("close", () => {
      closed = true;
      clearTimeout(safety);
      resolve({ answer, sent });
    });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const framed = chunked ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]) : chunk;
    const pump = () => {
      while (!closed && sent < bodyBytes) {
        sent += chunk.length;
        if (!socket.write(framed)) {
          socket.once("drain", pump);
          return;
        }
      }
    };
    socket.write(head, pump);
  });
}

function requestHead(path: string, headers: Record<string, string>): string {
  return `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n${Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("")}\r\n`;
}

const BODY = fixtureText("orders_fulfilled.json");
const STREAMED = 64 * 1024 * 1024;
/** The limit, plus what sockets and kernel buffers hold in flight when the server stops reading. */
const READ_BOUND = DEFAULT_MAX_WEBHOOK_BYTES + 8 * 1024 * 1024;

describe("a body over the limit", () => {
  for (const [path, topic] of [
    ["/webhooks/commerce", "orders/fulfilled"],
    ["/webhooks/compliance", "customers/redact"],
  ] as const) {
    it(`on ${path}: a streamed body is answered 413 and the connection closed, having read a bounded amount`, async () => {
      app = await startProductionServer();
      const reads = serverReads(app.server);
      const headers = { ...webhookHeaders({ topic, body: BODY }), "transfer-encoding": "chunked" };
      const result = await streamUntilClosed(app.port, requestHead(path, headers), STREAMED, true);
      expect(result.answer).toMatch(/^HTTP\/1\.1 413[^]*connection: close/i);
      expect(result.sent).toBeLessThan(STREAMED);
      const read = await reads[0]!;
      expect(read).toBeGreaterThan(DEFAULT_MAX_WEBHOOK_BYTES);
      expect(read).toBeLessThan(READ_BOUND);
    });

    it(`on ${path}: a declared length over the limit is answered 413 with Connection: close, unread`, async () => {
      app = await startProductionServer();
      const reads = serverReads(app.server);
      const headers = { ...webhookHeaders({ topic, body: BODY }), "content-length": String(200 * 1024 * 1024) };
      const result = await streamUntilClosed(app.port, requestHead(path, headers), STREAMED, false);
      expect(result.answer).toMatch(/^HTTP\/1\.1 413[^]*connection: close/i);
      expect(result.sent).toBeLessThan(STREAMED);
      // Unread: what one socket read brings in before the request is paused, never the body the client pushes
      // while the connection lingers for the answer to be read (Node discards an unconsumed body as it arrives).
      expect(await reads[0]!).toBeLessThan(DEFAULT_MAX_WEBHOOK_BYTES);
    });
  }
});

describe("a client that never finishes its request", () => {
  it("is cut by requestTimeout when its body trickles", async () => {
    app = await startProductionServer({ headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const headers = { ...webhookHeaders({ topic: "orders/fulfilled", body: BODY }), "content-length": String(Buffer.byteLength(BODY)) };
    // Headers and 10 bytes of a body, then nothing more.
    const result = await new Promise<string>((resolve, reject) => {
      const socket = connect(app!.port, "127.0.0.1");
      let answer = "";
      const safety = setTimeout(() => {
        socket.destroy();
        reject(new Error("the connection was still open after 15 s"));
      }, 15_000);
      socket.on("data", (data: Buffer) => (answer += data.toString()));
      socket.on("error", () => undefined);
      socket.on("close", () => {
        clearTimeout(safety);
        resolve(answer);
      });
      socket.write(requestHead("/webhooks/commerce", headers) + BODY.slice(0, 10));
    });
    expect(result).toMatch(/^HTTP\/1\.1 408/);
  });

  it("is cut by headersTimeout when its headers never end", async () => {
    app = await startProductionServer({ headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const result = await new Promise<string>((resolve, reject) => {
      const socket = connect(app!.port, "127.0.0.1");
      let answer = "";
      const safety = setTimeout(() => {
        socket.destroy();
        reject(new Error("the connection was still open after 15 s"));
      }, 15_000);
      socket.on("data", (data: Buffer) => (answer += data.toString()));
      socket.on("error", () => undefined);
      socket.on("close", () => {
        clearTimeout(safety);
        resolve(answer);
      });
      socket.write("POST /webhooks/commerce HTTP/1.1\r\nhost: 127.0.0.1\r\nx-shopify-topic: orders/fulfilled\r\n");
    });
    expect(result).toMatch(/^HTTP\/1\.1 408/);
  });
});
