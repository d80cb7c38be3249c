/**
 * An Attentive that hangs, stalls mid-answer, answers too late or drops the connection. The same cases run with
 * Node's own fetch installed (hostile-attentive.test.ts) and with Remix's polyfill installed as the production
 * server does (polyfill.test.ts): the client must end each one as a single outcome, close the connection, and
 * leave nothing behind that throws later.
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { sendCustomEvent, verifyApiKey, type AttentiveClientOptions, type CustomEventInput, type SendOutcome } from "~/attentive/client.server";
import { eventAnswer, startLocalServer, watchUnhandledErrors, type Answer, type Arrival, type LocalServer } from "./local-server";

export const KEY = "sk_test_deadline_51f0";
const TIMEOUT_MS = 200;
const TIMED_OUT = `Attentive did not answer within ${TIMEOUT_MS} ms: will retry.`;

export function event(): CustomEventInput {
  return {
    type: "Order Shipped",
    properties: { orderName: "#1001" },
    externalEventId: "37fb97a9-6cfd-4983-bd65-68d104d53b70",
    occurredAt: "2021-03-30T14:38:29+00:00",
    user: { email: "buyer@example.com" },
  };
}

export function failure(outcome: SendOutcome): Extract<SendOutcome, { ok: false }> {
  if (outcome.ok) throw new Error(`expected a failure, got success: ${outcome.responseBody}`);
  return outcome;
}

export function describeDeadlines(runtime: string): void {
  describe(`deadlines (${runtime})`, () => {
    let answer: Answer = () => undefined;
    let server: LocalServer;
    let options: AttentiveClientOptions;
    let unhandled: ReturnType<typeof watchUnhandledErrors>;

    beforeAll(async () => {
      server = await startLocalServer((arrival) => answer(arrival));
      options = { apiUrl: server.graphqlUrl, timeoutMs: TIMEOUT_MS, propertiesEncoding: "object" };
    });
    afterAll(() => server.close());
    beforeEach(() => {
      unhandled = watchUnhandledErrors();
    });
    afterEach(() => unhandled.stop());

    /** After the outcome: the connection is gone and a few turns of the event loop raise nothing. */
    async function expectCleanEnd(arrival: Arrival) {
      await server.connectionClosed(arrival);
      for (let turn = 0; turn < 5; turn++) await nextTurn();
      expect(unhandled.errors).toEqual([]);
    }

    it("ends an Attentive that never answers as a retryable timeout and closes the connection", async () => {
      answer = () => undefined;
      const arrived = server.nextArrival();
      const outcome = failure(await sendCustomEvent(KEY, event(), options));
      expect(outcome).toEqual({ ok: false, kind: "retryable", reason: TIMED_OUT });
      await expectCleanEnd(await arrived);
    });

    it("ends headers followed by a body that stalls as a timeout: the deadline covers the whole body", async () => {
      answer = ({ res }) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.write('{"data":');
      };
      const arrived = server.nextArrival();
      const outcome = failure(await sendCustomEvent(KEY, event(), options));
      expect(outcome).toEqual({ ok: false, kind: "retryable", reason: TIMED_OUT });
      await expectCleanEnd(await arrived);
    });

    it("ends a body that trickles in forever as a timeout: one deadline, not an idle timer", async () => {
      let trickle: NodeJS.Timeout | undefined;
      answer = ({ res }) => {
        res.writeHead(200, { "content-type": "application/json" });
        trickle = setInterval(() => res.destroyed || res.write(" "), 20);
        res.on("close", () => clearInterval(trickle));
      };
      const arrived = server.nextArrival();
      try {
        const outcome = failure(await sendCustomEvent(KEY, event(), options));
        expect(outcome).toEqual({ ok: false, kind: "retryable", reason: TIMED_OUT });
        await expectCleanEnd(await arrived);
      } finally {
        clearInterval(trickle);
      }
    });

    it("ignores an answer that comes after the timeout: the outcome stays the timeout and nothing throws", async () => {
      let answerNow: () => void = () => undefined;
      answer = ({ res }) => {
        answerNow = () => res.writeHead(200, { "content-type": "application/json" }).end(eventAnswer(event().externalEventId));
      };
      const arrived = server.nextArrival();
      const outcome = failure(await sendCustomEvent(KEY, event(), options));
      answerNow();
      expect(outcome).toEqual({ ok: false, kind: "retryable", reason: TIMED_OUT });
      await expectCleanEnd(await arrived);
    });

    it("calls a connection reset before any answer retryable", async () => {
      answer = ({ req }) => req.socket.destroy();
      const arrived = server.nextArrival();
      const outcome = failure(await sendCustomEvent(KEY, event(), options));
      expect(outcome.kind).toBe("retryable");
      expect(outcome.reason).toMatch(/^Could not reach Attentive \(.+\): will retry\.$/);
      await expectCleanEnd(await arrived);
    });

    it("calls a connection reset in the middle of the answer retryable", async () => {
      answer = ({ req, res }) => {
        res.writeHead(200, { "content-type": "application/json", "content-length": "500" });
        res.write('{"data":', () => req.socket.destroy());
      };
      const arrived = server.nextArrival();
      const outcome = failure(await sendCustomEvent(KEY, event(), options));
      expect(outcome.kind).toBe("retryable");
      expect(outcome.reason).toMatch(/will retry\.$/);
      await expectCleanEnd(await arrived);
    });

    it("ends a key check against an Attentive that never answers as a retryable timeout", async () => {
      answer = () => undefined;
      const arrived = server.nextArrival();
      const check = await verifyApiKey(KEY, { apiUrl: server.graphqlUrl, timeoutMs: TIMEOUT_MS });
      expect(check).toEqual({ ok: false, kind: "retryable", reason: TIMED_OUT });
      await expectCleanEnd(await arrived);
    });

    it("still delivers normally over the same connections afterwards", async () => {
      answer = ({ res }) => res.writeHead(200, { "content-type": "application/json" }).end(eventAnswer(event().externalEventId));
      const outcome = await sendCustomEvent(KEY, event(), options);
      expect(outcome).toMatchObject({ ok: true, httpStatus: 200 });
      expect(unhandled.errors).toEqual([]);
    });
  });
}
