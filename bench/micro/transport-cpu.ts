/**
 * The CPU one createCustomEvent exchange costs the sending process: this app's transport to Attentive
 * (app/attentive/http.server.ts) beside a bare node:http request with a keep-alive agent, as the bench's bare sender
 * makes, against the same local server (its own process, answering each request after 20 ms), `inFlight`
 * requests open at all times. Each is run twice and the second run counted (the first warms V8 up).
 *
 * node --import tsx bench/micro/transport-cpu.ts [requests=30000] [inFlight=64]
 */
import { fork } from "node:child_process";
import { Agent, request as httpRequest } from "node:http";
import { undiciTransport } from "~/attentive/http.server";
import { CREATE_CUSTOM_EVENT_MUTATION } from "~/attentive/create-custom-event.graphql";

const total = Number(process.argv[2] ?? 30_000);
const inFlight = Number(process.argv[3] ?? 64);

if (process.argv[2] === "--serve") {
  const { createServer } = await import("node:http");
  const answer = JSON.stringify({ data: { createCustomEvent: { __typename: "CreateCustomEventPayload" } } });
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () =>
      setTimeout(() => res.writeHead(200, { "content-type": "application/json", "x-ratelimit-limit": "150", "x-ratelimit-remaining": "120" }).end(answer), 20),
    );
  });
  server.listen(0, "127.0.0.1", () => process.send?.((server.address() as { port: number }).port));
} else {
  const child = fork(new URL(import.meta.url).pathname, ["--serve"], { execArgv: ["--import", "tsx"] });
  const port = await new Promise<number>((resolve) => child.once("message", (value) => resolve(value as number)));
  const url = new URL(`http://127.0.0.1:${port}/v1/graphql`);
  const body = JSON.stringify({
    query: CREATE_CUSTOM_EVENT_MUTATION,
    variables: { input: { type: "Order Fulfilled", properties: { orderName: "#1001", itemTitles: "x".repeat(300) }, externalEventId: "e-1", user: { email: "jon@example.com" } } },
  });
  const headers = { "content-type": "application/json", authorization: "Bearer bench-key" };
  const agent = new Agent({ keepAlive: true, maxSockets: inFlight });
  const senders: Record<string, () => Promise<unknown>> = {
    transport: async () => {
      const result = await undiciTransport({ url, method: "POST", headers, body, timeoutMs: 10_000 });
      if (result.kind !== "answer") throw new Error(`the transport's exchange ended as ${result.kind}`);
    },
    "bare node:http": () =>
      new Promise<void>((resolve, reject) => {
        const payload = Buffer.from(body);
        const outgoing = httpRequest(url, { method: "POST", agent, headers: { ...headers, "content-length": String(payload.length) } }, (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () => (response.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${response.statusCode}`))));
        });
        outgoing.on("error", reject);
        outgoing.end(payload);
      }),
  };
  const run = async (send: () => Promise<unknown>) => {
    let started = 0;
    const cpu = process.cpuUsage();
    const lane = async () => {
      while (started < total) {
        started++;
        await send();
      }
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
    const { user, system } = process.cpuUsage(cpu);
    return (user + system) / 1000 / total;
  };
  const figures: Record<string, number> = {};
  for (const [name, send] of Object.entries(senders)) {
    await run(send);
    figures[name] = +(await run(send)).toFixed(4);
  }
  console.log(JSON.stringify({ requests: total, inFlight, cpuMsPerRequest: figures }));
  child.kill();
  process.exit(0);
}
