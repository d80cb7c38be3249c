/**
 * What every CLI command shares: its context, its one-line errors (CliError) and the parsing of a shop and options.
 * Kept apart from commands.ts so command groups in their own modules (backfill-commands.ts) need not import it.
 */
import { parseArgs } from "node:util";
import type { Database } from "~/db.server";
import type { Env } from "~/env.server";
import type { SecretBox } from "~/secrets/secret-box.server";
import type { AdminForShop } from "~/shopify/order-lookup.server";

export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface CliContext {
  prisma: Database;
  env: Env;
  secretBox: () => SecretBox;
  out: (line: string) => void;
  /** Runs the standalone delivery worker until a signal stops it. */
  runWorker: () => Promise<void>;
  /**
   * Starts the periodic jobs (log retention, reconciliation) that run beside a worker; the
   * default starts them from this process's environment (app/delivery/runtime.server.ts).
   */
  startBackgroundJobs?: () => { stop(): Promise<void> };
  /** A shop's Admin API client (backfill cancel); the default is the app's offline-session client. */
  adminForShop?: AdminForShop;
}

const SHOP_DOMAIN = /^[a-z0-9][a-z0-9-]*\.myshopify\.com$/;

export function shopArg(value: string | undefined): string {
  if (!value) throw new CliError(`Missing <shop>: give the shop's domain, e.g. my-store.myshopify.com.`, 2);
  const shop = value.trim().toLowerCase();
  if (!SHOP_DOMAIN.test(shop)) {
    throw new CliError(`"${value}" is not a shop domain: give the shop's myshopify.com domain, e.g. my-store.myshopify.com.`, 2);
  }
  return shop;
}

export type OptionSpec = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>["options"]>;

export function parse(argv: string[], options: OptionSpec) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CliError(`${error instanceof Error ? error.message : String(error)}. Run \`npm run cli -- help\` for usage.`, 2);
  }
}

