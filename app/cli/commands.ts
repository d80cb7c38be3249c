/**
 * The operator CLI's commands, callable in-process (tests) or from main.ts.
 * Every user error is a CliError: one line, what to do, non-zero exit; no stack trace.
 */
import { open, type FileHandle } from "node:fs/promises";
import { verifyApiKey } from "~/attentive/client.server";
import { MAX_IMPORT_FILE_BYTES, importSizeProblem } from "~/mapping/limits";
import { formatMappingFile, parseMappingFile } from "~/mapping/mapping-file";
import { exportCustomerData } from "~/models/CustomerData.server";
import { DELIVERY_STATUSES, isDeliveryStatus, listDeliveries, retryDeliveries } from "~/models/Delivery.server";
import { definitionOf, listMappings, replaceMappings } from "~/models/Mapping.server";
import { connectAttentive, ensureShop } from "~/models/Shop.server";
import { rotateSessionTokens } from "~/secrets/encrypted-session-storage.server";
import { BACKFILL_HELP, BACKFILL_USAGE, runBackfillCommand } from "./backfill-commands";
import { CliError, type CliContext, parse, shopArg } from "./command-kit";

export { CliError, type CliContext } from "./command-kit";

export const USAGE = `Usage: npm run cli -- <command>

  shops connect <shop> --api-key <key> [--skip-verify]
  mappings import <shop> <file>
  mappings export <shop>
  deliveries list <shop> [--status <${DELIVERY_STATUSES.join("|")}>] [--json]
  deliveries retry <shop> (--id <id> | --failed)
  customers export <shop> (--email <email> | --customer-id <id>)
  reconcile [<shop>]
${BACKFILL_USAGE}
  retention prune
  secrets rotate
  worker

<shop> is the shop's myshopify.com domain, e.g. my-store.myshopify.com.

${BACKFILL_HELP}`;

export async function runCommand(argv: string[], context: CliContext): Promise<void> {
  const [group, action, ...rest] = argv;
  const command = `${group ?? ""} ${action ?? ""}`.trim();
  if (group === "worker") return runWorkerWithJobs(context);
  if (group === undefined || group === "help" || group === "--help") {
    context.out(USAGE);
    return;
  }
  if (group === "reconcile") return reconcile(argv.slice(1), context);
  if (group === "backfill") return runBackfillCommand(action, rest, context);
  switch (command) {
    case "shops connect":
      return shopsConnect(rest, context);
    case "mappings import":
      return mappingsImport(rest, context);
    case "mappings export":
      return mappingsExport(rest, context);
    case "deliveries list":
      return deliveriesList(rest, context);
    case "deliveries retry":
      return deliveriesRetry(rest, context);
    case "secrets rotate":
      return secretsRotate(context);
    case "customers export":
      return customersExport(rest, context);
    case "retention prune":
      return retentionPrune(context);
    default:
      // Only the command words: the rest may hold an API key typed after a misspelt command.
      throw new CliError(`Unknown command "${command}". Run \`npm run cli -- help\` for the list.`, 2);
  }
}

async function shopsConnect(argv: string[], context: CliContext) {
  const { values, positionals } = parse(argv, { "api-key": { type: "string" }, "skip-verify": { type: "boolean" } });
  const shop = shopArg(positionals[0]);
  const apiKey = typeof values["api-key"] === "string" ? values["api-key"].trim() : "";
  if (apiKey === "") throw new CliError("Missing --api-key: paste the API key of an Attentive custom app with Custom Events: Write.", 2);
  let companyName: string | null = null;
  if (!values["skip-verify"]) {
    const check = await verifyApiKey(apiKey, { apiUrl: context.env.ATTENTIVE_API_URL, timeoutMs: context.env.ATTENTIVE_TIMEOUT_MS });
    if (!check.ok) throw new CliError(`The key was not saved: ${check.reason}`);
    companyName = check.companyName;
  }
  const summary = await connectAttentive(context.prisma, context.secretBox(), shop, apiKey, companyName);
  context.out(
    `Connected ${shop} to ${summary.attentiveCompanyName ?? "Attentive (not verified)"} with the key ending in ${summary.attentiveKeyLast4}.`,
  );
}

async function mappingsImport(argv: string[], context: CliContext) {
  const { positionals } = parse(argv, {});
  const shop = shopArg(positionals[0]);
  const file = positionals[1];
  if (!file) throw new CliError("Missing <file>: give the path of a mapping file (see docs/mapping-format.md).", 2);
  const text = await readMappingFile(file);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CliError(`${file} is not valid JSON (${error instanceof Error ? error.message : String(error)}); nothing was changed.`);
  }
  const parsed = parseMappingFile(json);
  if (!parsed.ok) {
    const first = parsed.errors[0]!;
    const more = parsed.errors.length > 1 ? ` (and ${parsed.errors.length - 1} more)` : "";
    throw new CliError(`${file}: ${first.message}${more} Nothing was changed.`);
  }
  await ensureShop(context.prisma, shop);
  const stored = await replaceMappings(context.prisma, shop, parsed.mappings);
  context.out(`Imported ${stored.length} mapping${stored.length === 1 ? "" : "s"} for ${shop}; the previous ones were replaced.`);
}

/**
 * The file's text, refused past MAX_IMPORT_FILE_BYTES before it is read: the size on disk is checked first, and the
 * read stops one byte past the limit in case the file is not a regular one (a pipe or a device has no size) or grows.
 */
async function readMappingFile(file: string): Promise<string> {
  let handle: FileHandle;
  try {
    handle = await open(file, "r");
  } catch {
    throw new CliError(`Cannot read ${file}: check the path.`);
  }
  try {
    const size = (await handle.stat()).size;
    const declared = importSizeProblem(size);
    if (declared !== null) throw new CliError(`${file}: ${declared} Nothing was changed.`);
    const buffer = Buffer.alloc(MAX_IMPORT_FILE_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > MAX_IMPORT_FILE_BYTES) throw new CliError(`${file}: ${importSizeProblem(null)!} Nothing was changed.`);
    return buffer.toString("utf8", 0, length);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`Cannot read ${file}: check the path.`);
  } finally {
    await handle.close();
  }
}

async function mappingsExport(argv: string[], context: CliContext) {
  const { positionals } = parse(argv, {});
  const shop = shopArg(positionals[0]);
  const mappings = await listMappings(context.prisma, shop);
  context.out(formatMappingFile(mappings.map(definitionOf)));
}

async function deliveriesList(argv: string[], context: CliContext) {
  const { values, positionals } = parse(argv, { status: { type: "string" }, json: { type: "boolean" }, limit: { type: "string" } });
  const shop = shopArg(positionals[0]);
  const status = values.status;
  if (typeof status === "string" && !isDeliveryStatus(status)) {
    throw new CliError(`Unknown status "${status}": use one of ${DELIVERY_STATUSES.join(", ")}.`, 2);
  }
  const limit = typeof values.limit === "string" ? Number(values.limit) : 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new CliError("--limit takes a whole number from 1 to 10000.", 2);
  const rows = await listDeliveries(context.prisma, shop, {
    ...(typeof status === "string" && isDeliveryStatus(status) ? { status } : {}),
    limit,
  });
  if (values.json) {
    context.out(JSON.stringify(rows, null, 2));
    return;
  }
  if (rows.length === 0) {
    context.out(`No deliveries for ${shop}${status ? ` with status ${status}` : ""}.`);
    return;
  }
  for (const row of rows) {
    const when = row.createdAt.toISOString();
    const detail = row.lastError ? ` — ${row.lastError}` : "";
    const stale = row.stale ? " [stale: older than 12 h when sent, no Journey triggered]" : "";
    context.out(`${when}  ${row.status.padEnd(9)} ${row.topic.padEnd(16)} ${row.eventType || "-"}  ${row.orderName ?? ""}  id=${row.id} attempts=${row.attempts}${stale}${detail}`);
  }
}

async function deliveriesRetry(argv: string[], context: CliContext) {
  const { values, positionals } = parse(argv, { id: { type: "string" }, failed: { type: "boolean" } });
  const shop = shopArg(positionals[0]);
  const id = typeof values.id === "string" ? values.id : undefined;
  if ((id === undefined) === !values.failed) throw new CliError("Give exactly one of --id <delivery id> or --failed.", 2);
  const count = await retryDeliveries(context.prisma, shop, id !== undefined ? { id } : { allFailed: true });
  if (id !== undefined && count === 0) {
    throw new CliError(`No failed delivery ${id} in ${shop}: only failed deliveries can be retried (see \`deliveries list ${shop} --status failed\`).`);
  }
  context.out(`Queued ${count} deliver${count === 1 ? "y" : "ies"} for another attempt; each keeps its externalEventId.`);
}

async function secretsRotate(context: CliContext) {
  const box = context.secretBox();
  const shops = await context.prisma.shop.findMany({ where: { attentiveKeyCipher: { not: null } }, select: { domain: true, attentiveKeyCipher: true } });
  let rotated = 0;
  for (const shop of shops) {
    if (!shop.attentiveKeyCipher || !box.isStale(shop.attentiveKeyCipher)) continue;
    const resealed = box.seal(box.open(shop.attentiveKeyCipher));
    await context.prisma.shop.update({ where: { domain: shop.domain }, data: { attentiveKeyCipher: resealed } });
    rotated++;
  }
  context.out(`Re-encrypted ${rotated} of ${shops.length} stored API key${shops.length === 1 ? "" : "s"} with the current APP_ENCRYPTION_KEY.`);
  // Shopify's offline tokens too; rows stored before they were encrypted get encrypted here.
  const sessions = await rotateSessionTokens(context.prisma, box);
  context.out(
    `Re-encrypted ${sessions.rewritten} of ${sessions.sessions} stored Shopify session${sessions.sessions === 1 ? "" : "s"} with the current APP_ENCRYPTION_KEY.`,
  );
}

async function runWorkerWithJobs(context: CliContext) {
  // The standalone worker also prunes old logs and reconciles, as the embedded one does.
  const jobs = context.startBackgroundJobs?.() ?? (await import("~/delivery/runtime.server")).startBackgroundJobs();
  try {
    await context.runWorker();
  } finally {
    await jobs.stop();
  }
}

async function customersExport(argv: string[], context: CliContext) {
  const { values, positionals } = parse(argv, { email: { type: "string" }, "customer-id": { type: "string" } });
  const shop = shopArg(positionals[0]);
  const email = typeof values.email === "string" ? values.email.trim() : "";
  const customerId = typeof values["customer-id"] === "string" ? values["customer-id"].trim() : "";
  if (!email && !customerId) {
    throw new CliError("Give --email <email> or --customer-id <id> of the customer (from the data request in Shopify admin).", 2);
  }
  if (customerId && !/^\d+$/.test(customerId)) throw new CliError("--customer-id takes the customer's numeric id.", 2);
  const data = await exportCustomerData(context.prisma, shop, { ...(email ? { email } : {}), ...(customerId ? { customerId } : {}) });
  context.out(JSON.stringify(data, null, 2));
}

async function reconcile(argv: string[], context: CliContext) {
  const { positionals } = parse(argv, {});
  const shop = positionals[0] !== undefined ? shopArg(positionals[0]) : undefined;
  const { reconcileOptionsFromEnv } = await import("~/delivery/runtime.server");
  const { reconcileAllShops, reconcileShop } = await import("~/reconciliation/reconcile.server");
  const options = { ...reconcileOptionsFromEnv(), prisma: context.prisma };
  const results = shop ? [await reconcileShop(options, shop)] : await reconcileAllShops(options);
  for (const result of results) {
    const window = `${result.from.toISOString()} .. ${result.until.toISOString()}`;
    context.out(
      `${result.shop}: ${result.recorded} missed event${result.recorded === 1 ? "" : "s"} recorded, ${result.duplicates} already received (${window})` +
        (result.error ? `; stopped early: ${result.error}` : ""),
    );
  }
  if (results.some((result) => result.error)) throw new CliError("Some shops could not be reconciled; the next run retries the same window.");
}

async function retentionPrune(context: CliContext) {
  const { pruneExpiredLogs } = await import("~/delivery/retention.server");
  const { logger } = await import("~/logger.server");
  const pruned = await pruneExpiredLogs({ prisma: context.prisma, logger });
  context.out(`Deleted ${pruned.deliveries} deliveries and ${pruned.webhooks} webhooks older than their shop's log retention.`);
}
