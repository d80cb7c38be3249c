/**
 * `npm run cli -- backfill …`: what each subcommand records or changes in the shop's Backfill row, what it prints,
 * and its refusals (each one line saying what to do, non-zero exit). The runner's work is test/backfill/.
 */
import { Session } from "@shopify/shopify-api";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HISTORY_TOPICS } from "~/cli/backfill-commands";
import { CliError, runCommand } from "~/cli/commands";
import { db } from "~/db.server";
import { readEnv } from "~/env.server";
import { defaultMappings } from "~/mapping/defaults";
import { replaceMappings } from "~/models/Mapping.server";
import { ensureShop } from "~/models/Shop.server";
import { secretBoxFromEnv } from "~/secrets/secret-box.server";
import { sessionStorage } from "~/shopify.server";
import { CATALOG } from "~/topics/catalog";
import { fakeAdminApi as admin } from "../stand-ins/shopify-admin";

const SHOP = "cli-backfill.myshopify.com";
const DAY = 86_400_000;

function day(offsetDays: number): string {
  return new Date(Date.now() + offsetDays * DAY).toISOString().slice(0, 10);
}

async function cli(...argv: string[]): Promise<string> {
  const output: string[] = [];
  await runCommand(argv, {
    prisma: db(),
    env: readEnv(process.env),
    secretBox: () => secretBoxFromEnv(),
    out: (line) => output.push(line),
    runWorker: async () => undefined,
  });
  return output.join("\n");
}

async function refusal(...argv: string[]): Promise<CliError> {
  const error = await cli(...argv).catch((e: unknown) => e);
  expect(error, argv.join(" ")).toBeInstanceOf(CliError);
  return error as CliError;
}

async function storeSession(scope: string) {
  await sessionStorage.storeSession(new Session({ id: `offline_${SHOP}`, shop: SHOP, state: "s", isOnline: false, accessToken: "shpat_cli", scope }));
}

beforeEach(async () => {
  admin.reset();
  await db().delivery.deleteMany();
  await db().webhook.deleteMany();
  await db().backfill.deleteMany();
  await db().mapping.deleteMany();
  await db().session.deleteMany();
  await db().shop.deleteMany();
  await ensureShop(db(), SHOP);
  await replaceMappings(db(), SHOP, defaultMappings());
});
afterEach(() => {
  expect(admin.unexpected).toEqual([]);
});

describe("backfill start", () => {
  it("records a backfill of every enabled mapping with a history, and says the running app does the work", async () => {
    await storeSession("read_orders");
    const out = await cli("backfill", "start", SHOP, "--since", day(-20), "--until", day(-2));
    const row = await db().backfill.findFirstOrThrow({ where: { shop: SHOP } });
    expect(row.status).toBe("queued");
    expect(row.since.toISOString()).toBe(`${day(-20)}T00:00:00.000Z`);
    // --until is the last day sent, whole.
    expect(row.until.toISOString()).toBe(`${day(-2)}T23:59:59.999Z`);
    const enabled = await db().mapping.findMany({ where: { shop: SHOP, enabled: true } });
    const withHistory = enabled.filter((m) => HISTORY_TOPICS.includes(m.topic as never));
    expect(withHistory.length).toBeGreaterThan(0);
    expect((JSON.parse(row.mappingIds) as string[]).sort()).toEqual(withHistory.map((m) => m.id).sort());
    expect(out).toContain(`Backfill ${row.id} recorded for ${SHOP}`);
    expect(out).toContain("Order Shipped (fulfillments/create)");
    expect(out).toMatch(/running app \(npm start\) or worker \(npm run cli -- worker\) does the work/);
  });

  it("takes only the enabled mappings of --topics", async () => {
    await cli("backfill", "start", SHOP, "--since", day(-10), "--topics", "refunds/create, fulfillments/create");
    const row = await db().backfill.findFirstOrThrow({ where: { shop: SHOP } });
    expect(JSON.parse(row.topics)).toEqual(["fulfillments/create", "refunds/create"]);
    const chosen = await db().mapping.findMany({ where: { id: { in: JSON.parse(row.mappingIds) as string[] } } });
    expect(chosen.map((m) => m.eventType).sort()).toEqual(["Order Refunded", "Order Shipped"]);
  });

  it("names the valid topics for an unknown one and says why a topic has no history", async () => {
    const unknown = await refusal("backfill", "start", SHOP, "--since", day(-10), "--topics", "orders/updated");
    expect(unknown.exitCode).toBe(2);
    expect(unknown.message).toBe(`Unknown topic "orders/updated": --topics takes some of ${HISTORY_TOPICS.join(", ")}.`);
    const paid = await refusal("backfill", "start", SHOP, "--since", day(-10), "--topics", "fulfillments/create,orders/paid");
    const why = CATALOG["orders/paid"].history;
    expect(why.kind).toBe("none");
    expect(paid.message).toBe(`orders/paid cannot be sent from history: ${why.kind === "none" ? why.why : ""} Leave it out of --topics.`);
    expect(await db().backfill.count()).toBe(0);
  });

  it("refuses missing or malformed days, and a topic without an enabled mapping", async () => {
    expect((await refusal("backfill", "start", SHOP)).message).toMatch(/^Missing --since: .*YYYY-MM-DD/);
    for (const bad of ["2026-02-30", "yesterday", "2026-9-1"]) {
      const error = await refusal("backfill", "start", SHOP, "--since", bad);
      expect(error.exitCode).toBe(2);
      expect(error.message).toContain(`"${bad}" is not one`);
    }
    expect((await refusal("backfill", "start", SHOP, "--since", day(-3), "--until", "2026-13-01")).message).toMatch(/^--until takes a day/);
    expect((await refusal("backfill", "start", SHOP, "--since", day(-3), "--topics", "orders/create")).message).toBe(
      `${SHOP} has no enabled mapping of orders/create: turn one on in Mappings (or \`npm run cli -- mappings import\`), or choose other --topics.`,
    );
    expect(await db().backfill.count()).toBe(0);
  });

  it("prints the model's refusals as given: order of days, scope for orders past 60 days, one at a time", async () => {
    expect((await refusal("backfill", "start", SHOP, "--since", day(-3), "--until", day(-5))).message).toMatch(/^The first day must come before the last day/);
    // The offline session's scope is the granted one: without read_all_orders, 60 days is the limit.
    await storeSession("read_orders,read_fulfillments");
    expect((await refusal("backfill", "start", SHOP, "--since", day(-90))).message).toMatch(/^Shopify shows apps the last 60 days of orders\. To send older ones, grant access to all orders \(read_all_orders\)/);
    await storeSession("read_orders,read_all_orders");
    await cli("backfill", "start", SHOP, "--since", day(-90));
    const twice = await refusal("backfill", "start", SHOP, "--since", day(-10));
    expect(twice.exitCode).toBe(1);
    expect(twice.message).toBe("A backfill is already under way for this shop: wait for it to finish, or cancel it first.");
    expect(await db().backfill.count()).toBe(1);
  });
});

describe("backfill status", () => {
  it("says there is none yet", async () => {
    expect(await cli("backfill", "status", SHOP)).toBe(`${SHOP} has no backfill yet: start one with \`npm run cli -- backfill start ${SHOP} --since <YYYY-MM-DD>\`.`);
  });

  it("prints status, range, topics, percent, orders, counts, bad lines and the last error, aligned", async () => {
    await cli("backfill", "start", SHOP, "--since", "2026-01-01", "--until", "2026-01-31", "--topics", "fulfillments/create");
    const row = await db().backfill.findFirstOrThrow({ where: { shop: SHOP } });
    await db().backfill.update({
      where: { id: row.id },
      data: {
        status: "reading",
        objectCount: 100,
        linesRead: 50,
        ordersRead: 12,
        badLines: 2,
        badLineSamples: JSON.stringify([{ line: 7, reason: "not JSON" }, { line: 9, reason: "a child before its order" }]),
        lastError: "Shopify's Admin API answered 502; trying again in 5 s",
      },
    });
    const mappingId = (JSON.parse(row.mappingIds) as string[])[0]!;
    const statuses = ["delivered", "delivered", "failed", "skipped", "pending", "sending"];
    for (const [n, status] of statuses.entries()) {
      const webhook = await db().webhook.create({ data: { shop: SHOP, topic: "fulfillments/create", eventKey: `k${n}`, webhookId: `w${n}`, apiVersion: "2026-10", body: "{}" } });
      await db().delivery.create({
        data: { shop: SHOP, webhookRecordId: webhook.id, mappingId, topic: "fulfillments/create", eventType: "Order Shipped", externalEventId: `e${n}`, status, backfillId: row.id },
      });
    }
    const lines = (await cli("backfill", "status", SHOP)).split("\n");
    expect(lines).toEqual([
      `Backfill     ${row.id}`,
      "Status       Reading orders (reading)",
      "Range        2026-01-01T00:00:00.000Z .. 2026-01-31T23:59:59.999Z",
      "Topics       fulfillments/create",
      // 10 + 40 × (50/100) + 50 × (4/6 sent or settled) × (50/100)
      "Progress     46%",
      "Orders read  12",
      "Events       6 recorded, 2 sent, 1 failed, 1 skipped, 2 waiting",
      "Bad lines    2",
      "             line 7: not JSON",
      "             line 9: a child before its order",
      "Last error   Shopify's Admin API answered 502; trying again in 5 s",
      `Started      ${row.createdAt.toISOString()}`,
      "Finished     -",
    ]);
  });
});

describe("backfill pause, resume, cancel", () => {
  it("pauses and resumes the running backfill, and says when there is nothing to change", async () => {
    expect((await refusal("backfill", "pause", SHOP)).message).toBe(
      `No backfill is under way for this shop. (\`npm run cli -- backfill status ${SHOP}\` shows the latest.)`,
    );
    expect((await refusal("backfill", "resume", SHOP)).message).toMatch(/^No paused backfill for this shop\./);
    await cli("backfill", "start", SHOP, "--since", day(-10));
    expect(await cli("backfill", "pause", SHOP)).toBe("Backfill paused: nothing more is read or sent until you resume it.");
    expect((await db().backfill.findFirstOrThrow()).status).toBe("paused");
    expect(await cli("backfill", "status", SHOP)).toContain("Status       Paused (paused)");
    expect(await cli("backfill", "resume", SHOP)).toBe("Backfill resumed.");
    expect((await db().backfill.findFirstOrThrow()).status).toBe("queued");
  });

  it("cancels, and asks Shopify to stop the bulk operation through the shop's offline session", async () => {
    await storeSession("read_orders");
    admin.answer({
      BackfillBulkOperationCancel: (variables) => ({
        body: { data: { bulkOperationCancel: { bulkOperation: { id: variables.id, status: "CANCELING" }, userErrors: [] } } },
      }),
    });
    await cli("backfill", "start", SHOP, "--since", day(-10));
    await db().backfill.updateMany({ data: { status: "querying", bulkOperationId: "gid://shopify/BulkOperation/77" } });
    expect(await cli("backfill", "cancel", SHOP)).toBe("Backfill cancelled: events not yet sent will not be sent.");
    expect(admin.calls.map((call) => [call.shop, call.operationName, call.variables.id, call.accessToken])).toEqual([
      [SHOP, "BackfillBulkOperationCancel", "gid://shopify/BulkOperation/77", "shpat_cli"],
    ]);
    const row = await db().backfill.findFirstOrThrow();
    expect([row.status, row.activeShop]).toEqual(["cancelled", null]);
    expect(await cli("backfill", "status", SHOP)).toContain("Status       Cancelled (cancelled)");
    expect((await refusal("backfill", "cancel", SHOP)).message).toMatch(/^No backfill is under way for this shop\./);
  });

  it("cancels without calling Shopify when the shop has no offline session", async () => {
    await cli("backfill", "start", SHOP, "--since", day(-10));
    await db().backfill.updateMany({ data: { status: "querying", bulkOperationId: "gid://shopify/BulkOperation/78" } });
    expect(await cli("backfill", "cancel", SHOP)).toBe("Backfill cancelled: events not yet sent will not be sent.");
    expect(admin.calls).toEqual([]);
    expect((await db().backfill.findFirstOrThrow()).status).toBe("cancelled");
  });

  it("names an unknown backfill subcommand", async () => {
    const error = await refusal("backfill", "stop", SHOP);
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(/^Unknown command "backfill stop"\. Use backfill start, status, pause, resume or cancel\./);
  });
});

describe("help", () => {
  it("lists the backfill commands and says the running process does the work", async () => {
    const help = await cli("help");
    expect(help).toContain("backfill start <shop> --since <YYYY-MM-DD> [--until <YYYY-MM-DD>] [--topics <topic,...>]");
    expect(help).toContain("backfill pause|resume|cancel <shop>");
    expect(help).toMatch(/The command only records the\nbackfill; the running app \(npm start\) or worker \(npm run cli -- worker\) does the work/);
  });
});
