/** `npm run cli -- <command>`: see USAGE in commands.ts and README. */
import { closeDatabase, database } from "~/db.server";
import { notifyOtherProcesses } from "~/delivery/pg-wake.server";
import { ConfigurationError, readEnv } from "~/env.server";
import { SecretKeyError, secretBoxFromEnv } from "~/secrets/secret-box.server";
import { CliError, runCommand } from "./commands";

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  try {
    const env = readEnv();
    const handle = database();
    const { prisma } = handle;
    // What a command records (a retry, a backfill) wakes standalone workers at once; sent before the database closes.
    notifyOtherProcesses(handle);
    try {
      await runCommand(argv, {
        prisma,
        env,
        secretBox: () => secretBoxFromEnv(),
        out: (line) => process.stdout.write(`${line}\n`),
        runWorker: runStandaloneWorker,
      });
    } finally {
      await closeDatabase(prisma);
    }
    return 0;
  } catch (error) {
    if (error instanceof CliError) {
      process.stderr.write(`error: ${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof ConfigurationError || error instanceof SecretKeyError) {
      process.stderr.write(`error: ${error.message}\n`);
      return 1;
    }
    const message = error instanceof Error ? error.message.split("\n").filter(Boolean).at(-1) : String(error);
    process.stderr.write(`error: ${message}\nIf this persists, check DATABASE_URL and run \`npm run setup\`.\n`);
    return 1;
  }
}

async function runStandaloneWorker(): Promise<void> {
  const { startStandaloneWorker } = await import("~/delivery/runtime.server");
  const standalone = startStandaloneWorker();
  process.stdout.write(`Delivery worker ${standalone.worker.id} running; Ctrl-C stops it after the deliveries in flight.\n`);
  await new Promise<void>((resolve) => {
    const stop = () => void standalone.stop().then(resolve);
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}

process.exitCode = await main();
