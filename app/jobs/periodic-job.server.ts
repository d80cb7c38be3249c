/**
 * The generic scheduler of the app's interval jobs (reconciliation, log retention, the Flow
 * trigger sender). It knows nothing of what the jobs do: features import it, never the reverse.
 */
import type { Logger } from "pino";

export interface PeriodicJob {
  stop(): Promise<void>;
}

export interface WakeablePeriodicJob extends PeriodicJob {
  /**
   * Runs the task now instead of at its next time; during a run, once more right after it (so
   * work queued while the run was reading is not left for the next interval). Never two at once.
   */
  wake(): void;
}

/** Runs `task` every `intervalMs` (first run after `firstDelayMs`), one run at a time; errors are logged, never thrown. */
export function startPeriodicJob(
  name: string,
  logger: Logger,
  intervalMs: number,
  task: () => Promise<void>,
  firstDelayMs = intervalMs,
): WakeablePeriodicJob {
  let stopped = false;
  let inRun = false;
  let again = false;
  let running: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const schedule = (ms: number) => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      inRun = true;
      running = task()
        .catch((error: unknown) => logger.error({ job: name, err: summary(error) }, "periodic job failed; will run again"))
        .finally(() => {
          inRun = false;
          const next = again ? 0 : intervalMs;
          again = false;
          if (!stopped) schedule(next);
        });
    }, ms);
    // A periodic job alone must not keep a process alive that is otherwise done.
    timer.unref();
  };
  schedule(firstDelayMs);
  return {
    wake() {
      if (stopped) return;
      if (inRun) again = true;
      else schedule(0);
    },
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
