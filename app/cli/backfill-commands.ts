/**
 * `npm run cli -- backfill start|status|pause|resume|cancel <shop>`: the history backfill from a terminal
 * (docs/decisions/016-history-backfill.md). These commands only record or change the shop's Backfill row; the
 * running app (`npm start`) or a standalone worker (`npm run cli -- worker`) does the work. Refusals are
 * app/models/Backfill.server.ts's own messages, printed as given.
 */
import { BACKFILL_STATUS_LABELS } from "~/backfill/constants";
import { backfillChoices, cancelBackfill, latestBackfill, pauseBackfill, resumeBackfill, startBackfill, type BackfillView } from "~/models/Backfill.server";
import { grantedScopes } from "~/models/GrantedScopes.server";
import type { AdminForShop, AdminGraphqlClient } from "~/shopify/order-lookup.server";
import { CATALOG, isMappableTopic, MAPPABLE_TOPICS, type MappableTopic } from "~/topics/catalog";
import { CliError, type CliContext, parse, shopArg } from "./command-kit";

export const BACKFILL_USAGE = `  backfill start <shop> --since <YYYY-MM-DD> [--until <YYYY-MM-DD>] [--topics <topic,...>]
  backfill status <shop>
  backfill pause|resume|cancel <shop>`;

export const BACKFILL_HELP = `Backfill: sends past orders' events (from --since, to the end of --until's day or to 10 minutes ago) for the
shop's enabled mappings of topics Shopify keeps a history of (default: all of them). The command only records the
backfill; the running app (npm start) or worker (npm run cli -- worker) does the work, behind live webhooks.`;

/** Topics whose events a backfill can rebuild from Shopify's order history. */
export const HISTORY_TOPICS: readonly MappableTopic[] = MAPPABLE_TOPICS.filter((topic) => CATALOG[topic].history.kind === "bulk");

const DAY_MS = 86_400_000;
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Midnight UTC of a YYYY-MM-DD day that exists, or a CliError naming the option. */
function dayArg(option: string, value: string): Date {
  const match = DAY.exec(value.trim());
  const date = match ? new Date(`${match[0]}T00:00:00.000Z`) : null;
  if (!match || !date || Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== match[0]) {
    throw new CliError(`--${option} takes a day as YYYY-MM-DD (UTC), e.g. 2026-09-01; "${value}" is not one.`, 2);
  }
  return date;
}

function topicsArg(value: string): MappableTopic[] {
  const topics: MappableTopic[] = [];
  for (const raw of value.split(",")) {
    const topic = raw.trim();
    if (topic === "") continue;
    if (!isMappableTopic(topic)) throw new CliError(`Unknown topic "${topic}": --topics takes some of ${HISTORY_TOPICS.join(", ")}.`, 2);
    const history = CATALOG[topic].history;
    if (history.kind === "none") throw new CliError(`${topic} cannot be sent from history: ${history.why} Leave it out of --topics.`, 2);
    if (!topics.includes(topic)) topics.push(topic);
  }
  if (topics.length === 0) throw new CliError(`--topics is empty: give some of ${HISTORY_TOPICS.join(", ")}, or leave it out for all of them.`, 2);
  return topics;
}

export async function runBackfillCommand(action: string | undefined, argv: string[], context: CliContext): Promise<void> {
  switch (action) {
    case "start":
      return backfillStart(argv, context);
    case "status":
      return backfillStatus(argv, context);
    case "pause":
    case "resume":
    case "cancel":
      return backfillChange(action, argv, context);
    default:
      throw new CliError(`Unknown command "backfill ${action ?? ""}". Use backfill start, status, pause, resume or cancel.`, 2);
  }
}

async function backfillStart(argv: string[], context: CliContext) {
  const { values, positionals } = parse(argv, { since: { type: "string" }, until: { type: "string" }, topics: { type: "string" } });
  const shop = shopArg(positionals[0]);
  if (typeof values.since !== "string") throw new CliError("Missing --since: give the first day to send, as YYYY-MM-DD (UTC).", 2);
  const since = dayArg("since", values.since);
  // --until names the last day sent, whole: up to the end of that day (the model keeps it 10 minutes from now).
  const until = typeof values.until === "string" ? new Date(dayArg("until", values.until).getTime() + DAY_MS - 1) : undefined;
  const topics = typeof values.topics === "string" ? topicsArg(values.topics) : HISTORY_TOPICS;
  const choices = await backfillChoices(context.prisma, shop);
  const chosen = choices.mappings.filter((mapping) => mapping.enabled && topics.includes(mapping.topic));
  if (chosen.length === 0) {
    throw new CliError(
      `${shop} has no enabled mapping of ${topics.join(", ")}: turn one on in Mappings (or \`npm run cli -- mappings import\`), or choose other --topics.`,
    );
  }
  const answer = await startBackfill(context.prisma, {
    shop,
    since,
    ...(until ? { until } : {}),
    mappingIds: chosen.map((mapping) => mapping.id),
    grantedScope: await grantedScopes(context.prisma, shop),
  });
  if (!answer.ok) throw new CliError(answer.message);
  const view = await latestBackfill(context.prisma, shop);
  context.out(`Backfill ${answer.id} recorded for ${shop}: orders created ${view?.since ?? since.toISOString()} .. ${view?.until ?? ""}.`);
  context.out(`Mappings: ${chosen.map((mapping) => `${mapping.eventType} (${mapping.topic})`).join(", ")}.`);
  context.out(
    `The running app (npm start) or worker (npm run cli -- worker) does the work; follow it with \`npm run cli -- backfill status ${shop}\`.`,
  );
}

function table(rows: Array<[string, string]>): string[] {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`);
}

/** The backfill as `backfill status` prints it: one aligned line per fact. */
export function formatBackfill(view: BackfillView): string[] {
  const counts = view.counts;
  const rows: Array<[string, string]> = [
    ["Backfill", view.id],
    ["Status", `${BACKFILL_STATUS_LABELS[view.status]} (${view.status})`],
    ["Range", `${view.since} .. ${view.until}`],
    ["Topics", view.topics.join(", ") || "-"],
    ["Progress", `${view.percent}%`],
    ["Orders read", String(view.ordersRead)],
    ["Events", `${counts.recorded} recorded, ${counts.delivered} sent, ${counts.failed} failed, ${counts.skipped} skipped, ${counts.pending} waiting`],
    ["Bad lines", String(view.badLines)],
  ];
  for (const sample of view.badLineSamples.slice(0, 3)) rows.push(["", `line ${sample.line}: ${sample.reason}`]);
  rows.push(["Last error", view.lastError ?? "-"], ["Started", view.createdAt], ["Finished", view.finishedAt ?? "-"]);
  return table(rows);
}

async function backfillStatus(argv: string[], context: CliContext) {
  const { positionals } = parse(argv, {});
  const shop = shopArg(positionals[0]);
  const view = await latestBackfill(context.prisma, shop);
  if (!view) {
    context.out(`${shop} has no backfill yet: start one with \`npm run cli -- backfill start ${shop} --since <YYYY-MM-DD>\`.`);
    return;
  }
  for (const line of formatBackfill(view)) context.out(line);
}

/** The shop's Admin API client when it has an offline session (to cancel Shopify's bulk operation), else null. */
async function adminOf(context: CliContext, shop: string): Promise<AdminGraphqlClient | null> {
  const session = await context.prisma.session.findFirst({ where: { shop, isOnline: false }, select: { id: true } });
  if (!session) return null;
  try {
    const adminForShop: AdminForShop = context.adminForShop ?? (await import("~/shopify.server")).unauthenticated.admin;
    return (await adminForShop(shop)).admin;
  } catch {
    return null;
  }
}

async function backfillChange(action: "pause" | "resume" | "cancel", argv: string[], context: CliContext) {
  const { positionals } = parse(argv, {});
  const shop = shopArg(positionals[0]);
  const answer =
    action === "pause"
      ? await pauseBackfill(context.prisma, shop)
      : action === "resume"
        ? await resumeBackfill(context.prisma, shop)
        : await cancelBackfill(context.prisma, shop, { admin: await adminOf(context, shop) });
  if (!answer.ok) throw new CliError(`${answer.message} (\`npm run cli -- backfill status ${shop}\` shows the latest.)`);
  context.out(answer.message);
}
