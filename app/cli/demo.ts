/**
 * `npm run demo`: the whole product on the embedded default, end to end, offline.
 * Migrates a fresh SQLite file, builds and starts the app (with its embedded worker)
 * the way production does, starts the local Attentive stand-in, connects a demo shop
 * through the CLI and imports the catalog's mappings for the events it plays, then sends
 * one order's whole life and a second order's creation and cancellation (demo-scenario.ts)
 * to the app's real HTTP endpoints as webhooks signed like Shopify signs them, one at a
 * time, and prints what Attentive received for each; then a redelivery, a forged webhook,
 * a Shopify Flow run of the "Send Attentive event" action (and Flow sending it again), an event
 * Attentive refuses and the "Attentive event failed" Flow trigger the app starts for it (on a
 * local stand-in of Shopify's Admin API), a history backfill of five past orders (started through the CLI, read
 * from a bulk operation the Admin API stand-in answers and a JSONL file on loopback: demo-history.ts) and a second
 * backfill of the same days that sends nothing, and the delivery log. Exits 0 only when each webhook, run and
 * backfill produced exactly its events, once, and the failure started the trigger once.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { PrismaSessionStorage } from "@shopify/shopify-app-session-storage-prisma";
import { Session } from "@shopify/shopify-api";
import { flowTriggerReceiveStandIn } from "../../test/support/flow-trigger";
import { startAttentiveStandIn } from "../../test/stand-ins/attentive";
import { ADMIN_ROUTE_PRELOAD, ADMIN_STAND_IN_URL_VARIABLE, startShopifyAdminStandIn } from "../../test/stand-ins/shopify-admin-server";
import { closeDatabase, openDatabase, type Database } from "../db.server";
import { FLOW_ACTION_HANDLE, FLOW_ACTION_PATH, FLOW_ACTION_TOPIC } from "../flow/constants";
import { FLOW_TRIGGER_OPERATION } from "../flow/trigger-mutation";
import { markInstalled } from "../models/Shop.server";
import { formatMappingFile } from "../mapping/mapping-file";
import { demoHistory, startDemoBulkStandIn } from "./demo-history";
import { demoMappings, demoProblems, demoWebhooks, formatDemo, playDemo } from "./demo-scenario";
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
  // Shopify's Admin API for the app process: a loopback stand-in that takes flowTriggerReceive as strictly as Shopify.
  const shopifyAdmin = await startShopifyAdminStandIn();
  const trigger = flowTriggerReceiveStandIn();
  // The backfill's bulk operation too, over five past orders of the demo customer.
  const history = demoHistory(new Date(), SHOP);
  const bulk = await startDemoBulkStandIn(history);
  shopifyAdmin.answer({ [FLOW_TRIGGER_OPERATION]: trigger.handler, ...bulk.handlers });
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
    [ADMIN_STAND_IN_URL_VARIABLE]: shopifyAdmin.origin,
    // The missed-webhook reconciliation is not part of this script (its queries are not faked here).
    RECONCILE_INTERVAL_MINUTES: "0",
    // The backfill runner looks for due work every second and asks about the bulk operation every 0.2 s.
    BACKFILL_INTERVAL_SECONDS: "1",
    BACKFILL_POLL_SECONDS: "0.2",
    LOG_LEVEL: "warn",
  };
  let app: ChildProcess | undefined;
  let prisma: Database | undefined;
  try {
    step(`Migrating a fresh SQLite database at ${databaseFile}`);
    for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(databaseFile + suffix, { force: true });
    await runOrFail("npm", ["run", "--silent", "setup"], env, "npm run setup");
    const db = openDatabase(env.DATABASE_URL).prisma;
    prisma = db;
    // What installing the app leaves behind: the shop's offline session (Flow runs are taken only for installed shops).
    await new PrismaSessionStorage(db).storeSession(
      new Session({ id: `offline_${SHOP}`, shop: SHOP, state: "", isOnline: false, scope: "read_orders", accessToken: "shpat_demo_token" }),
    );
    await markInstalled(db, SHOP);

    step("Building the app (remix vite:build), as production does");
    await runOrFail("npx", ["remix", "vite:build", "--logLevel", "warn"], env, "the build");

    step(`Starting the app with its embedded delivery worker on ${appUrl}; Attentive stand-in on ${standIn.origin}`);
    // The binary itself, not through npx, so that stopping it stops the server.
    const server = productionServerCommand(root, "./build/server/index.js");
    // The preload sends the app's Admin API requests to the stand-in: nothing reaches Shopify.
    app = spawn(server.command, ["--import", pathToFileURL(ADMIN_ROUTE_PRELOAD).href, ...server.args], {
      cwd: root,
      env,
      stdio: ["ignore", "inherit", "inherit"],
    });
    await waitFor("the app to answer", async () => ((await fetch(`${appUrl}/healthz`)).ok ? true : null), 60_000);

    step(`Connecting ${SHOP} to Attentive through the CLI (the key is verified with GET /v1/me)`);
    await runOrFail("npx", ["tsx", "app/cli/main.ts", "shops", "connect", SHOP, "--api-key", ATTENTIVE_KEY], env, "shops connect");

    const now = new Date();
    const webhooks = demoWebhooks(now);
    const mappingDir = mkdtempSync(join(tmpdir(), "attentive-demo-"));
    const mappingFile = join(mappingDir, "demo-mappings.json");
    writeFileSync(mappingFile, formatMappingFile(demoMappings(webhooks)));
    step("Turning on the catalog's mappings for every event the demo plays (mappings import, through the CLI)");
    await runOrFail("npx", ["tsx", "app/cli/main.ts", "mappings", "import", SHOP, mappingFile], env, "mappings import");
    rmSync(mappingDir, { recursive: true, force: true });

    const send = async (topic: string, body: string, headers: { eventId: string; triggeredAt: Date; hmac?: string }) => {
      const response = await fetch(`${appUrl}/webhooks/commerce`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-shopify-topic": topic,
          "x-shopify-shop-domain": SHOP,
          "x-shopify-api-version": "2026-10",
          "x-shopify-webhook-id": randomUUID(),
          "x-shopify-event-id": headers.eventId,
          "x-shopify-triggered-at": headers.triggeredAt.toISOString(),
          "x-shopify-hmac-sha256": headers.hmac ?? createHmac("sha256", APP_SECRET).update(body).digest("base64"),
        },
        body,
      });
      return response.status;
    };
    // The webhook and its deliveries are committed before the 200, so "none open" means this webhook's are done.
    const settle = async (what: string) => {
      await waitFor(
        `the deliveries of ${what} to finish`,
        async () => ((await db.delivery.count({ where: { status: { in: ["pending", "sending"] } } })) === 0 ? true : null),
        30_000,
      );
    };

    step("Playing order #9999's life, then order #10000's creation and cancellation: each webhook signed, sent and delivered before the next");
    const results = await playDemo(webhooks, {
      send: (webhook) => send(webhook.topic, webhook.body, webhook),
      settle: (webhook) => settle(`${webhook.topic} (${webhook.caption})`),
      received: () => standIn.received,
    });
    for (const line of formatDemo(results, now)) console.log(line);

    step("Shopify redelivering orders/fulfilled under the same event id, then a webhook with a forged signature");
    const fulfilled = webhooks.find((webhook) => webhook.topic === "orders/fulfilled")!;
    const receivedBefore = standIn.received.length;
    const redelivered = await send(fulfilled.topic, fulfilled.body, fulfilled);
    await settle("the redelivered orders/fulfilled");
    const forged = await send(fulfilled.topic, fulfilled.body, { ...fulfilled, eventId: randomUUID(), hmac: "Zm9yZ2Vk" });
    const redeliveredEvents = standIn.received.length - receivedBefore;
    console.log(`  redelivery → ${redelivered}; Attentive received ${redeliveredEvents} more event(s)`);
    console.log(`  forged     → ${forged}`);

    const runFlow = async (settings: Record<string, string>, actionRunId = randomUUID(), hmac?: string) => {
      const body = JSON.stringify({
        shop_id: "gid://shopify/Shop/548380009",
        shopify_domain: SHOP,
        action_run_id: actionRunId,
        handle: FLOW_ACTION_HANDLE,
        properties: settings,
      });
      const response = await fetch(`${appUrl}${FLOW_ACTION_PATH}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-shopify-hmac-sha256": hmac ?? createHmac("sha256", APP_SECRET).update(body).digest("base64") },
        body,
      });
      return { status: response.status, text: await response.text(), actionRunId };
    };

    step('Shopify Flow runs the "Send Attentive event" action (a workflow on "Customer tagged"), then sends the same run again');
    const flowBefore = standIn.received.length;
    const vip = await runFlow({
      event_type: "Customer Tagged VIP",
      properties: '{"tier": "gold", "points": 1200}',
      email: "ada@example.com",
      customer_id: "gid://shopify/Customer/7001",
    });
    await settle("the Flow run");
    const flowEvents = standIn.received.slice(flowBefore);
    for (const event of flowEvents) {
      console.log(`  run ${vip.actionRunId} → ${vip.status}; Attentive received "${event.input.type}" ${JSON.stringify(event.properties)} for ${JSON.stringify(event.input.user)}`);
    }
    const resent = await runFlow({ event_type: "Customer Tagged VIP", properties: '{"tier": "gold", "points": 1200}', email: "ada@example.com" }, vip.actionRunId);
    await settle("the resent Flow run");
    console.log(`  same run again → ${resent.status}; Attentive received ${standIn.received.length - flowBefore - flowEvents.length} more event(s)`);
    const refused = await runFlow({ event_type: "Points (expiring)", email: "ada@example.com" });
    console.log(`  a run whose event type Attentive would refuse → ${refused.status}: ${refused.text}`);

    step('Attentive refuses an event: the delivery ends failed and the app starts Flow\'s "Attentive event failed" trigger');
    standIn.injectFaults({ kind: "graphql-error", code: "BAD_USER_INPUT", message: "The user could not be identified (demo)" });
    const doomed = await runFlow({ event_type: "Points Expiring", email: "ada@example.com" });
    await settle("the Flow run Attentive refuses");
    const failedDelivery = await db.delivery.findFirst({
      where: { topic: FLOW_ACTION_TOPIC, webhook: { eventKey: doomed.actionRunId } },
      select: { id: true, status: true, lastError: true },
    });
    console.log(`  run ${doomed.actionRunId} → ${doomed.status}; delivery ${failedDelivery?.status ?? "missing"}: ${failedDelivery?.lastError ?? ""}`);
    await waitFor("the Attentive event failed trigger", async () => (trigger.accepted.length > 0 ? true : null), 60_000);
    for (const run of trigger.accepted) console.log(`  flowTriggerReceive ${run.handle} ${JSON.stringify(run.payload)}`);

    const day = (daysAgo: number) => new Date(Date.now() - daysAgo * 86_400_000).toISOString().slice(0, 10);
    const backfillArgs = ["tsx", "app/cli/main.ts", "backfill", "start", SHOP, "--since", day(25), "--until", day(2), "--topics", "fulfillments/create,fulfillment_events/create,refunds/create"];
    const backfilled = async () => {
      const row = await waitFor(
        "the backfill to complete",
        async () => {
          const latest = await db.backfill.findFirst({ where: { shop: SHOP }, orderBy: { createdAt: "desc" } });
          if (latest?.status === "failed" || latest?.status === "cancelled") throw new Error(`the backfill ended ${latest.status}: ${latest.lastError ?? ""}`);
          return latest?.status === "completed" ? latest : null;
        },
        60_000,
      );
      return db.delivery.findMany({ where: { backfillId: row.id }, orderBy: [{ occurredAt: "asc" }, { eventType: "asc" }], select: { eventType: true, orderName: true, stale: true, status: true, occurredAt: true } });
    };
    step(`History backfill: ${history.map((order) => order.name).join(", ")} (placed 5 to 20 days ago) for the shipped, carrier-update and refund mappings (backfill start, through the CLI)`);
    const beforeBackfill = standIn.received.length;
    await runOrFail("npx", backfillArgs, env, "backfill start");
    const backfilledDeliveries = await backfilled();
    // A carrier update is recorded for each carrier-update mapping; the ones whose status condition is false are skipped.
    const backfillSent = backfilledDeliveries.filter((delivery) => delivery.status === "delivered");
    const backfillSkipped = backfilledDeliveries.filter((delivery) => delivery.status === "skipped").length;
    for (const delivery of backfillSent) {
      console.log(`  ${delivery.occurredAt?.toISOString().slice(0, 16) ?? "-"}  ${delivery.eventType.padEnd(22)} ${delivery.orderName ?? "-"}  ${delivery.stale ? "stale: older than 12 h, recorded in Attentive without triggering a Journey" : "not stale"}`);
    }
    console.log(`  (${backfillSkipped} carrier-update deliveries skipped: their mapping's status condition is false for that update)`);
    const backfillEvents = standIn.received.length - beforeBackfill;
    await runOrFail("npx", ["tsx", "app/cli/main.ts", "backfill", "status", SHOP], env, "backfill status");
    step("The same days backfilled again: every event is already recorded, so nothing is sent");
    const beforeSecond = standIn.received.length;
    await runOrFail("npx", backfillArgs, env, "backfill start (again)");
    const secondDeliveries = await backfilled();
    const secondEvents = standIn.received.length - beforeSecond;
    console.log(`  second backfill → ${secondDeliveries.length} event(s) recorded, Attentive received ${secondEvents} more`);

    step("Delivery log (npm run cli -- deliveries list demo-shop.myshopify.com)");
    await runOrFail("npx", ["tsx", "app/cli/main.ts", "deliveries", "list", SHOP], env, "deliveries list");

    const problems = demoProblems(results);
    if (redelivered !== 200) problems.push(`the redelivery was answered ${redelivered}, not 200`);
    if (redeliveredEvents !== 0) problems.push("the redelivered orders/fulfilled reached Attentive again");
    if (forged !== 401) problems.push(`the forged webhook was answered ${forged}, not 401`);
    const ids = standIn.received.map((event) => event.input.externalEventId);
    if (new Set(ids).size !== ids.length) problems.push("Attentive received one externalEventId more than once");
    if (vip.status !== 200 || flowEvents.length !== 1) problems.push(`the Flow run was answered ${vip.status} and sent ${flowEvents.length} event(s), not 200 and 1`);
    if (resent.status !== 200) problems.push(`the resent Flow run was answered ${resent.status}, not 200`);
    if (refused.status !== 400) problems.push(`the Flow run with a forbidden event type was answered ${refused.status}, not 400`);
    if (failedDelivery?.status !== "failed") problems.push("the run Attentive refused did not end failed");
    if (trigger.accepted.length !== 1 || trigger.refused.length !== 0) {
      problems.push(`Flow's trigger was taken ${trigger.accepted.length} time(s) and refused ${trigger.refused.length}, not once`);
    }
    const payload = trigger.accepted[0]?.payload ?? {};
    if (payload["Source"] !== "Flow" || payload["Event type"] !== "Points Expiring" || !String(payload["Delivery URL"]).endsWith(`/app/deliveries/${failedDelivery?.id}`)) {
      problems.push(`the trigger's payload does not describe the failed delivery: ${JSON.stringify(payload)}`);
    }
    const expectedBackfill = expectedBackfillEvents();
    if (backfillEvents !== expectedBackfill || backfillSent.length !== expectedBackfill) {
      problems.push(`the backfill delivered ${backfillSent.length} and Attentive received ${backfillEvents} event(s), not ${expectedBackfill}`);
    }
    if (backfillSent.some((delivery) => !delivery.stale)) problems.push("a backfilled event was not marked stale");
    if (backfillSent.length + backfillSkipped !== backfilledDeliveries.length) problems.push("a backfilled event ended neither delivered nor skipped");
    if (secondDeliveries.length !== 0 || secondEvents !== 0) problems.push(`the second backfill recorded ${secondDeliveries.length} and sent ${secondEvents} event(s), not none`);
    if (bulk.operations !== 2) problems.push(`${bulk.operations} bulk operation(s) were started, not 2`);
    problems.push(...shopifyAdmin.unexpected, ...bulk.unexpected);
    const failed = await db.delivery.findMany({
      where: { status: "failed", ...(failedDelivery ? { id: { not: failedDelivery.id } } : {}) },
      select: { topic: true, eventType: true, lastError: true },
    });
    for (const delivery of failed) problems.push(`${delivery.topic} → ${delivery.eventType} failed: ${delivery.lastError ?? "no reason recorded"}`);
    if (problems.length > 0) throw new Error(`the run differed from the script:\n  - ${problems.join("\n  - ")}`);
    console.log(
      `\n✔ Demo complete: ${webhooks.length} webhooks, 2 Flow runs and a backfill of ${history.length} past orders, ${ids.length} events each sent once, the redelivery, the resent run and the second backfill recorded once, the forged webhook refused, the refused event announced to Flow once.`,
    );
  } finally {
    if (prisma) await closeDatabase(prisma);
    if (app && app.exitCode === null) {
      const exited = new Promise((resolve) => app!.once("exit", resolve));
      app.kill("SIGTERM");
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      if (app.exitCode === null) app.kill("SIGKILL");
    }
    await standIn.close();
    await shopifyAdmin.close();
    await bulk.close();
  }
}

/** Five parcels, four delivered after in transit and out for delivery, one still in transit, one refund. */
function expectedBackfillEvents(): number {
  return 5 + 4 * 3 + 1 + 1;
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`\n✘ Demo failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
