import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { cliCommand } from "~/cli/serve-command";
import { db } from "~/db.server";
import { waitUntil } from "../support/load";
import { postWebhook, usePipeline } from "../support/pipeline";
import { fixtureText } from "../support/webhooks";

const pipeline = usePipeline();

describe("npm run cli -- worker", () => {
  it("delivers what another process recorded, and stops cleanly on SIGTERM", async () => {
    expect((await postWebhook({ topic: "orders/fulfilled", body: fixtureText("orders_fulfilled.derived.json") })).status).toBe(200);

    // The command `npm run cli -- worker` runs, with its node flags (decision 039).
    const workerCommand = cliCommand(process.cwd(), ["worker"]);
    const worker = spawn(workerCommand.command, workerCommand.args, {
      env: { ...process.env, ATTENTIVE_API_URL: pipeline.standIn.graphqlUrl, LOG_LEVEL: "silent" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    worker.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    worker.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => worker.once("exit", (code) => resolve(code)));

    // Ordered by events, not by a guess at start-up time (tsx compiles the app first, which on
    // a busy machine can take many seconds): the worker says it runs, then the delivery is
    // delivered, then it is told to stop. The waits' limits are only safety nets.
    await waitUntil("the worker to start", async () => output.includes("Delivery worker") || worker.exitCode !== null, 60_000, 50);
    await waitUntil("the delivery to be delivered", async () => (await db().delivery.count({ where: { status: "delivered" } })) > 0, 30_000);
    worker.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(output).toContain("Delivery worker");
    expect(pipeline.standIn.received).toHaveLength(1);
    expect((await db().delivery.findFirstOrThrow()).status).toBe("delivered");
  }, 120_000);
});
