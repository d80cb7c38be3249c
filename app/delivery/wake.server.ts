/**
 * In-process signals, kept on globalThis so the route modules Vite reloads and the
 * background loops share one emitter:
 * - "work": the webhook route recorded deliveries; the embedded worker looks now instead
 *   of at its next poll.
 * - "backfill": a history backfill was started or resumed (app/backfill/runner.server.ts).
 * - "flow-trigger": an outcome write queued a Flow trigger call (a delivery ended failed);
 *   the trigger sender (app/flow/trigger-sender.server.ts) sends it now.
 */
import { EventEmitter } from "node:events";

const globalForWake = globalThis as unknown as { __attentiveWake?: EventEmitter };
const emitter = (globalForWake.__attentiveWake ??= new EventEmitter().setMaxListeners(50));

export function wakeWorkers(): void {
  emitter.emit("work");
}

export function onWork(listener: () => void): () => void {
  emitter.on("work", listener);
  return () => emitter.off("work", listener);
}

export function wakeFlowTriggerSender(): void {
  emitter.emit("flow-trigger");
}

export function onFlowTriggerQueued(listener: () => void): () => void {
  emitter.on("flow-trigger", listener);
  return () => emitter.off("flow-trigger", listener);
}

/** "backfill": a merchant started or resumed a history backfill; the backfill runner looks now. */
export function wakeBackfills(): void {
  emitter.emit("backfill");
}

export function onBackfillWake(listener: () => void): () => void {
  emitter.on("backfill", listener);
  return () => emitter.off("backfill", listener);
}
