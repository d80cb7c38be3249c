/**
 * Promise 6: the Attentive API key is encrypted at rest and never reaches a log line, the
 * delivery log or an error, even when Attentive (or a proxy) echoes it back. (Customer emails
 * and phones in the logs of a real process are checked by crash-recovery.suite.ts; refusing
 * to start in production without secrets, by the same suite and test/config.)
 */
import { Writable } from "node:stream";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { REDACTED_PATHS } from "~/logger.server";
import { orderBody } from "../support/load";
import { drain, postWebhook, TEST_ATTENTIVE_KEY, usePipeline, workerOptions } from "../support/pipeline";
import { TEST_SHOP } from "../support/webhooks";

const pipeline = usePipeline();

describe("the Attentive API key", () => {
  it("is stored encrypted, and stays out of logs, the delivery log and errors when Attentive echoes it", async () => {
    const shop = await db().shop.findUniqueOrThrow({ where: { domain: TEST_SHOP } });
    expect(shop.attentiveKeyCipher).toBeTruthy();
    expect(shop.attentiveKeyCipher).not.toContain(TEST_ATTENTIVE_KEY);
    expect(shop.attentiveKeyCipher).not.toContain(Buffer.from(TEST_ATTENTIVE_KEY).toString("base64"));

    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = pino({ level: "trace", redact: { paths: REDACTED_PATHS, censor: "[redacted]" } }, sink);
    const echo = `{"error":{"message":"key Bearer ${TEST_ATTENTIVE_KEY} is over quota"}}`;
    pipeline.standIn.injectFaults(
      { kind: "status", status: 500, body: echo },
      { kind: "status", status: 400, body: echo },
      { kind: "graphql-error", code: "BAD_USER_INPUT", message: `bad key ${TEST_ATTENTIVE_KEY}` },
    );
    for (const id of ["9007199254746001", "9007199254746002"]) await postWebhook({ topic: "orders/fulfilled", body: orderBody(id) });
    await drain(workerOptions(pipeline.standIn, { logger }));

    const stored = JSON.stringify({
      deliveries: await db().delivery.findMany(),
      attempts: await db().deliveryAttempt.findMany(),
    });
    expect(stored).toContain("[API key]"); // the echo was there, and was replaced
    expect(stored).not.toContain(TEST_ATTENTIVE_KEY);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join("\n")).not.toContain(TEST_ATTENTIVE_KEY);
  });
});
