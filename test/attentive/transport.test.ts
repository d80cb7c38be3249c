/**
 * The transport alone, with its deadline on virtual time: whatever way an exchange ends, no timer is left behind,
 * and keep-alive sockets do not collect listeners from one send to the next.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { nodeTransport, type AttentiveHttpRequest } from "~/attentive/http.server";
import { eventAnswer, startLocalServer, type Answer, type LocalServer } from "./local-server";

let answer: Answer = () => undefined;
let server: LocalServer;

beforeAll(async () => {
  server = await startLocalServer((arrival) => answer(arrival));
});
afterAll(() => server.close());
afterEach(() => vi.useRealTimers());

function request(overrides: Partial<AttentiveHttpRequest> = {}): AttentiveHttpRequest {
  return { url: new URL(server.graphqlUrl), method: "POST", headers: { "content-type": "application/json" }, body: "{}", timeoutMs: 10_000, ...overrides };
}

describe("nodeTransport", () => {
  it.each<[string, Answer, string]>([
    ["an answer", ({ res }) => res.writeHead(200, { "content-type": "application/json" }).end(eventAnswer("id-1")), "answer"],
    ["a redirect", ({ res }) => res.writeHead(307, { location: "http://elsewhere.example/" }).end(), "redirect"],
    ["a reset", ({ req }) => req.socket.destroy(), "network"],
    ["an answer over the size cap", ({ res }) => res.writeHead(200).end("x".repeat(2048)), "too-large"],
  ])("leaves no timer behind after %s", async (_name, how, kind) => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    answer = how;
    const result = await nodeTransport(request({ maxAnswerBytes: 1024 }));
    expect(result.kind).toBe(kind);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("ends at the deadline on virtual time, destroys the connection, and leaves no timer", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    answer = () => undefined;
    const arrived = server.nextArrival();
    const pending = nodeTransport(request({ timeoutMs: 10_000 }));
    const arrival = await arrived;
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(10_000);
    expect(await pending).toEqual({ kind: "timeout", timeoutMs: 10_000 });
    expect(vi.getTimerCount()).toBe(0);
    await server.connectionClosed(arrival);
  });

  it("sends many times over one keep-alive socket without adding listeners to it", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    try {
      answer = ({ res }) => res.writeHead(200, { "content-type": "application/json" }).end(eventAnswer("id-2"));
      const connections = new Set<unknown>();
      for (let send = 0; send < 30; send++) {
        const arrived = server.nextArrival();
        const result = await nodeTransport(request());
        expect(result.kind).toBe("answer");
        connections.add((await arrived).req.socket);
      }
      // One socket carried all 30: a listener added to it per send would have passed Node's limit of 10.
      expect(connections.size).toBe(1);
      expect(warnings.filter((warning) => warning.name === "MaxListenersExceededWarning")).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("refuses a protocol other than http and https without sending", async () => {
    expect(await nodeTransport(request({ url: new URL("ftp://127.0.0.1/v1/graphql") }))).toMatchObject({ kind: "network", detail: "unsupported protocol ftp:" });
  });
});
