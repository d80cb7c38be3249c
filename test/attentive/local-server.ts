/**
 * A bare HTTP server on 127.0.0.1 that plays a misbehaving Attentive (or the host a redirect points to). Each test
 * says how to answer; the server records what arrived and lets the test wait for events (a request arrived, a
 * connection closed) instead of sleeping.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

export interface Arrival {
  request: ReceivedRequest;
  req: IncomingMessage;
  res: ServerResponse;
}

export type Answer = (arrival: Arrival) => void;

export interface LocalServer {
  origin: string;
  graphqlUrl: string;
  received: ReceivedRequest[];
  /** Resolves with the next request, once its whole body has arrived (call before the client sends). */
  nextArrival(): Promise<Arrival>;
  /** Resolves once the connection that carried this request is closed, at either end. */
  connectionClosed(arrival: Arrival): Promise<void>;
  close(): Promise<void>;
}

export async function startLocalServer(answer: Answer): Promise<LocalServer> {
  const received: ReceivedRequest[] = [];
  const waiting: ((arrival: Arrival) => void)[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    // The client hanging up mid-answer is what many tests are about: a write after it is not the server's failure.
    req.on("error", () => undefined);
    res.on("error", () => undefined);
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const request = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      received.push(request);
      const arrival = { request, req, res };
      answer(arrival);
      waiting.shift()?.(arrival);
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    graphqlUrl: `${origin}/v1/graphql`,
    received,
    nextArrival: () => new Promise((resolve) => waiting.push(resolve)),
    // Not events.once: it rejects on the "error" (ECONNRESET) that a client hanging up mid-answer causes.
    connectionClosed: ({ req }) => new Promise((resolve) => (req.socket.destroyed ? resolve() : req.socket.once("close", () => resolve()))),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

/** A createCustomEvent answer as Attentive gives it. */
export function eventAnswer(externalEventId: string): string {
  return JSON.stringify({ data: { createCustomEvent: { externalEventId, occurredAt: "2021-03-30T14:38:29Z", type: "Order Shipped" } } });
}

/** Records errors nobody handled, so a test can say none happened (vitest also fails the run on them). */
export function watchUnhandledErrors(): { errors: unknown[]; stop(): void } {
  const errors: unknown[] = [];
  const record = (error: unknown) => errors.push(error);
  process.on("uncaughtException", record);
  process.on("unhandledRejection", record);
  return {
    errors,
    stop() {
      process.off("uncaughtException", record);
      process.off("unhandledRejection", record);
    },
  };
}
