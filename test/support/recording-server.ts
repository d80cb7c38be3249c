/**
 * "Another host" on loopback: where a redirect from Attentive's URL points. It records every request
 * it receives (method, path, headers including Authorization, body) and answers like a successful
 * createCustomEvent, so that a client that follows the redirect would believe the event was delivered.
 */
import { createServer, type IncomingMessage } from "node:http";

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

export interface RecordingServer {
  origin: string;
  readonly received: readonly RecordedRequest[];
  close(): Promise<void>;
}

export async function startRecordingServer(): Promise<RecordingServer> {
  const received: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      received.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      const externalEventId = /"externalEventId"\s*:\s*"([^"]+)"/.exec(body)?.[1] ?? "00000000-0000-4000-8000-000000000000";
      const answer = req.url?.startsWith("/v1/me")
        ? { companyName: "Somebody Else", applicationName: "Collector" }
        : {
            data: {
              createCustomEvent: {
                type: "Collected",
                occurredAt: "2026-01-01T00:00:00Z",
                externalEventId,
                user: { email: null, phone: null, externalIdentifiers: null },
                properties: {},
              },
            },
          };
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (typeof address !== "object" || !address) throw new Error("the recording server has no port");
  return {
    origin: `http://127.0.0.1:${address.port}`,
    received,
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
