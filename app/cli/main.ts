/** `npm run cli -- <command>`: see USAGE in commands.ts and README. */
import { closeDatabase, database } from "~/db.server";
import { ConfigurationError, readEnv } from "~/env.server";
import { SecretKeyError, secretBoxFromEnv } from "~/secrets/secret-box.server";
import { CliError, runCommand } from "./commands";

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  try {
    const env = readEnv();
    const { prisma } = database();
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
  const { workerOptionsFromEnv } = await import("~/delivery/runtime.server");
  const { startDeliveryWorker } = await import("~/delivery/worker.server");
  const worker = startDeliveryWorker(workerOptionsFromEnv());
  process.stdout.write(`Delivery worker ${worker.id} running; Ctrl-C stops it after the deliveries in flight.\n`);
  await new Promise<void>((resolve) => {
    const stop = () => void worker.stop().then(resolve);
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}

process.exitCode = await main();
