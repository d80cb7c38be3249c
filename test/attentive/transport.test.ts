/**
 * The transport alone, with its deadline on virtual time: whatever way an exchange ends, no timer is left behind,
 * and keep-alive connections are reused without collecting listeners from one send to the next.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { closeAttentiveConnections, createUndiciTransport, undiciTransport, type AttentiveHttpRequest, type DeadlineTimers } from "~/attentive/http.server";
import { eventAnswer, startLocalServer, type Answer, type LocalServer } from "./local-server";

let answer: Answer = () => undefined;
let server: LocalServer;

beforeAll(async () => {
  server = await startLocalServer((arrival) => answer(arrival));
});
afterAll(() => server.close());
afterEach(() => closeAttentiveConnections());

function request(overrides: Partial<AttentiveHttpRequest> = {}): AttentiveHttpRequest {
  return { url: new URL(server.graphqlUrl), method: "POST", headers: { "content-type": "application/json" }, body: "{}", timeoutMs: 10_000, ...overrides };
}

/**
 * The deadline's timers on virtual time, given to the transport (undici keeps its own timers for its connections:
 * faking the process's would count those too).
 */
class VirtualTimers implements DeadlineTimers {
  private readonly pending = new Map<number, { fire: () => void; at: number }>();
  private next = 1;
  private now = 0;
  setTimeout(fire: () => void, ms: number) {
    const id = this.next++;
    this.pending.set(id, { fire, at: this.now + ms });
    return id;
  }
  clearTimeout(timer: unknown) {
    this.pending.delete(timer as number);
  }
  get count() {
    return this.pending.size;
  }
  advance(ms: number) {
    this.now += ms;
    for (const [id, timer] of [...this.pending]) {
      if (timer.at > this.now) continue;
      this.pending.delete(id);
      timer.fire();
    }
  }
}

describe("undiciTransport", () => {
  it.each<[string, Answer, string]>([
    ["an answer", ({ res }) => res.writeHead(200, { "content-type": "application/json" }).end(eventAnswer("id-1")), "answer"],
    ["a redirect", ({ res }) => res.writeHead(307, { location: "http://elsewhere.example/" }).end(), "redirect"],
    ["a reset", ({ req }) => req.socket.destroy(), "network"],
    ["an answer over the size cap", ({ res }) => res.writeHead(200).end("x".repeat(2048)), "too-large"],
  ])("leaves no timer behind after %s", async (_name, how, kind) => {
    const timers = new VirtualTimers();
    answer = how;
    const result = await createUndiciTransport(timers)(request({ maxAnswerBytes: 1024 }));
    expect(result.kind).toBe(kind);
    expect(timers.count).toBe(0);
  });

  it("ends at the deadline on virtual time, destroys the connection, and leaves no timer", async () => {
    const timers = new VirtualTimers();
    answer = () => undefined;
    const arrived = server.nextArrival();
    const pending = createUndiciTransport(timers)(request({ timeoutMs: 10_000 }));
    const arrival = await arrived;
    expect(timers.count).toBe(1);
    timers.advance(9_999);
    expect(timers.count).toBe(1);
    timers.advance(1);
    expect(await pending).toEqual({ kind: "timeout", timeoutMs: 10_000 });
    expect(timers.count).toBe(0);
    await server.connectionClosed(arrival);
  });

  it("sends nothing when the deadline passes before the request has a connection", async () => {
    const timers = new VirtualTimers();
    answer = ({ request: { body }, res }) => {
      if (body === '{"n":"after"}') res.writeHead(200, { "content-type": "application/json" }).end(eventAnswer("after"));
    };
    // A fresh pool: the request waits for its connection, and the deadline passes first.
    const pending = createUndiciTransport(timers)(request({ body: '{"n":"expired"}', timeoutMs: 5 }));
    timers.advance(5);
    expect(await pending).toEqual({ kind: "timeout", timeoutMs: 5 });
    // Queued behind it, a later send goes out once a connection is up; the expired one, first in the queue, did not.
    expect((await undiciTransport(request({ body: '{"n":"after"}' }))).kind).toBe("answer");
    expect(server.received.map((received) => received.body)).not.toContain('{"n":"expired"}');
    expect(server.received.map((received) => received.body)).toContain('{"n":"after"}');
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
        const result = await undiciTransport(request());
        expect(result.kind).toBe("answer");
        connections.add((await arrived).req.socket);
        // Undici takes a connection back one turn of the event loop after its answer (below).
        await new Promise((resolve) => setImmediate(resolve));
      }
      // One socket carried all 30: a listener added to it per send would have passed Node's limit of 10.
      expect(connections.size).toBe(1);
      expect(warnings.filter((warning) => warning.name === "MaxListenersExceededWarning")).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("sends back to back over the pool's connections, not one per send", async () => {
    answer = ({ res }) => res.writeHead(200, { "content-type": "application/json" }).end(eventAnswer("id-3"));
    const connections = new Set<unknown>();
    for (let send = 0; send < 30; send++) {
      const arrived = server.nextArrival();
      expect((await undiciTransport(request())).kind).toBe("answer");
      connections.add((await arrived).req.socket);
    }
    // The next send goes out in the same turn as the last answer, before undici takes that connection back (it waits
    // a turn in case the server closes it after all): it takes the other, and the two alternate.
    expect(connections.size).toBe(2);
  });

  it("refuses a protocol other than http and https without sending", async () => {
    expect(await undiciTransport(request({ url: new URL("ftp://127.0.0.1/v1/graphql") }))).toMatchObject({ kind: "network", detail: "unsupported protocol ftp:" });
  });
});
