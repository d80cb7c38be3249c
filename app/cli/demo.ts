/**
 * `npm run demo`: the whole product on the embedded default, end to end, offline.
 * Migrates a fresh SQLite file, builds and starts the app (with its embedded worker)
 * the way production does, starts the local Attentive stand-in, connects a demo shop
 * through the CLI, sends Shopify's sample webhooks signed like Shopify signs them to
 * the app's real HTTP endpoints, then prints what Attentive received and the
 * delivery log. Exits 0 only when every event arrived exactly once.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { startAttentiveStandIn } from "../../test/stand-ins/attentive";
import { closeDatabase, openDatabase } from "../db.server";
import { productionServerCommand } from "./serve-command";

const root = new URL("../../", import.meta.url).pathname;
const SHOP = "demo-shop.myshopify.com";
const APP_SECRET = `demo-secret-${randomBytes(8).toString("hex")}`;
const ATTENTIVE_KEY = `demo-attentive-key-${randomBytes(6).toString("hex")}`;
const databaseFile = join(root, "prisma", "demo.sqlite");

function step(message: string) {
  console.log(`\n▶ ${message}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

// Asynchronous on purpose: the Attentive stand-in answers from this process's event loop.
function runOrFail(command: string, args: string[], env: NodeJS.ProcessEnv, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, env, stdio: ["ignore", "inherit", "inherit"] });
    child.on("error", reject);
    child.on("exit", (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${what} failed (exit ${code ?? signal})`)),
    );
  });
}

function fixture(name: string): string {
  return readFileSync(join(root, "test", "fixtures", "shopify", name), "utf8");
}

async function waitFor<T>(what: string, check: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check().catch(() => null);
    if (value !== null) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function main() {
  const standIn = await startAttentiveStandIn({ apiKeys: [ATTENTIVE_KEY], companyName: "Demo Outfitters" });
  const port = await freePort();
  const appUrl = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: "production",
    PORT: String(port),
    HOST: "127.0.0.1",
    DATABASE_URL: `file:${databaseFile}`,
    SHOPIFY_API_KEY: "demo-api-key",
    SHOPIFY_API_SECRET: APP_SECRET,
    SHOPIFY_APP_URL: appUrl,
    SCOPES: "read_orders",
    APP_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    ATTENTIVE_API_URL: standIn.graphqlUrl,
    DELIVERY_WORKER: "embedded",
    LOG_LEVEL: "warn",
  };
  let app: ChildProcess | undefined;
  try {
    step(`Migrating a fresh SQLite database at ${databaseFile}`);
    for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(databaseFile + suffix, { force: true });
    await runOrFail("npm", ["run", "--silent", "setup"], env, "npm run setup");

    step("Building the app (remix vite:build), as production does");
    await runOrFail("npx", ["remix", "vite:build", "--logLevel", "warn"], env, "the build");

    step(`Starting the app with its embedded delivery worker on ${appUrl}; Attentive stand-in on ${standIn.origin}`);
    // The binary itself, not through npx, so that stopping it stops the server.
    const server = productionServerCommand(root, "./build/server/index.js");
    app = spawn(server.command, server.args, {
      cwd: root,
      env,
      stdio: ["ignore", "inherit", "inherit"],
    });
    await waitFor("the app to answer", async () => ((await fetch(`${appUrl}/healthz`)).ok ? true : null), 60_000);

    step(`Connecting ${SHOP} to Attentive through the CLI (the key is verified with GET /v1/me)`);
    await runOrFail("npx", ["tsx", "app/cli/main.ts", "shops", "connect", SHOP, "--api-key", ATTENTIVE_KEY], env, "shops connect");

    step("Sending Shopify's sample webhooks, signed with the app secret");
    const send = async (topic: string, body: string, options: { eventId?: string; hmac?: string } = {}) => {
      const response = await fetch(`${appUrl}/webhooks/commerce`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-shopify-topic": topic,
          "x-shopify-shop-domain": SHOP,
          "x-shopify-api-version": "2026-10",
          "x-shopify-webhook-id": randomUUID(),
          "x-shopify-event-id": options.eventId ?? randomUUID(),
          "x-shopify-triggered-at": new Date().toISOString(),
          "x-shopify-hmac-sha256": options.hmac ?? createHmac("sha256", APP_SECRET).update(body).digest("base64"),
        },
        body,
      });
      console.log(`  POST /webhooks/commerce ${topic.padEnd(16)} → ${response.status}`);
      return response.status;
    };
    // The derived sample was fulfilled in 2022: stamp the fulfillment now so the demo event is not stale.
    const order = fixture("orders_fulfilled.derived.json").replaceAll("2022-01-03T10:15:00-05:00", new Date().toISOString());
    const statuses = [
      await send("orders/fulfilled", order, { eventId: "demo-order-event" }),
      await send("orders/fulfilled", order, { eventId: "demo-order-event" }), // Shopify redelivering: recorded once
      await send("refunds/create", fixture("refunds_create.derived.json")),
      await send("orders/fulfilled", order, { hmac: "Zm9yZ2Vk" }), // forged: 401, nothing recorded
    ];
    if (statuses.join(",") !== "200,200,200,401") throw new Error(`unexpected webhook answers: ${statuses.join(", ")}`);

    step("Waiting for the worker to deliver");
    const { prisma } = openDatabase(env.DATABASE_URL);
    await waitFor(
      "deliveries to finish",
      async () => ((await prisma.delivery.count({ where: { status: { in: ["pending", "sending"] } } })) === 0 ? true : null),
      30_000,
    );
    await closeDatabase(prisma);

    step(`Attentive received ${standIn.received.length} createCustomEvent request(s):`);
    for (const event of standIn.received) {
      const { input } = event;
      console.log(`  ${input.type}  externalEventId=${input.externalEventId}  occurredAt=${input.occurredAt}`);
      console.log(`    user: ${JSON.stringify(input.user)}`);
      console.log(`    properties: ${JSON.stringify(event.properties)}`);
    }

    step("Delivery log (npm run cli -- deliveries list demo-shop.myshopify.com)");
    await runOrFail("npx", ["tsx", "app/cli/main.ts", "deliveries", "list", SHOP], env, "deliveries list");

    const ids = standIn.received.map((event) => event.input.externalEventId);
    if (ids.length !== 2 || new Set(ids).size !== 2) throw new Error(`expected 2 distinct events at Attentive, got ${ids.length}`);
    console.log("\n✔ Demo complete: 2 events delivered once each, the duplicate recorded once, the forged webhook refused.");
  } finally {
    if (app && app.exitCode === null) {
      const exited = new Promise((resolve) => app!.once("exit", resolve));
      app.kill("SIGTERM");
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      if (app.exitCode === null) app.kill("SIGKILL");
    }
    await standIn.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`\n✘ Demo failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
