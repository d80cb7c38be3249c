/**
 * The generic scheduler of the app's interval jobs (reconciliation, log retention). It knows
 * nothing of what the jobs do: features import it, never the reverse.
 */
import type { Logger } from "pino";

export interface PeriodicJob {
  stop(): Promise<void>;
}

/** Runs `task` every `intervalMs` (first run after `firstDelayMs`), one run at a time; errors are logged, never thrown. */
export function startPeriodicJob(name: string, logger: Logger, intervalMs: number, task: () => Promise<void>, firstDelayMs = intervalMs): PeriodicJob {
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const schedule = (ms: number) => {
    timer = setTimeout(() => {
      running = task()
        .catch((error: unknown) => logger.error({ job: name, err: summary(error) }, "periodic job failed; will run again"))
        .finally(() => {
          if (!stopped) schedule(intervalMs);
        });
    }, ms);
    // A periodic job alone must not keep a process alive that is otherwise done.
    timer.unref();
  };
  schedule(firstDelayMs);
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

function summary(error: unknown): { name: string; message: string } {
  return error instanceof Error ? { name: error.name, message: error.message } : { name: "Unknown", message: String(error) };
}
