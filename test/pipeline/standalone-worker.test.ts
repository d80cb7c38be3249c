import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { postWebhook, usePipeline } from "../support/pipeline";
import { fixtureText } from "../support/webhooks";

const pipeline = usePipeline();

describe("npm run cli -- worker", () => {
  it("delivers what another process recorded, and stops cleanly on SIGTERM", async () => {
    expect((await postWebhook({ topic: "orders/fulfilled", body: fixtureText("orders_fulfilled.derived.json") })).status).toBe(200);

    const worker = spawn("node_modules/.bin/tsx", ["app/cli/main.ts", "worker"], {
      env: { ...process.env, ATTENTIVE_API_URL: pipeline.standIn.graphqlUrl, LOG_LEVEL: "silent" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    worker.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    worker.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => worker.once("exit", (code) => resolve(code)));

    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && (await db().delivery.count({ where: { status: "delivered" } })) === 0) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    worker.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(output).toContain("Delivery worker");
    expect(pipeline.standIn.received).toHaveLength(1);
    expect((await db().delivery.findFirstOrThrow()).status).toBe("delivered");
  }, 30_000);
});
