/**
 * In-process signals, kept on globalThis so the route modules Vite reloads and the
 * background loops share one emitter:
 * - "work": the webhook route recorded deliveries; the embedded worker looks now instead
 *   of at its next poll.
 * - "backfill": a history backfill was started or resumed (app/backfill/runner.server.ts).
 * - "flow-trigger": an outcome write queued a Flow trigger call (a delivery ended failed);
 *   the trigger sender (app/flow/trigger-sender.server.ts) sends it now.
 *
 * On PostgreSQL "work" and "backfill" also reach standalone workers in other processes, through
 * NOTIFY (app/delivery/pg-wake.server.ts, docs/decisions/020-pg-listen-notify.md). "flow-trigger"
 * stays in-process: only a worker's own outcome writes queue a trigger, and its process runs the sender.
 */
import { EventEmitter } from "node:events";

/** The signals other processes hear too. */
export type CrossProcessSignal = "work" | "backfill";

const globalForWake = globalThis as unknown as {
  __attentiveWake?: EventEmitter;
  __attentiveWakeOthers?: ((signal: CrossProcessSignal) => void) | null;
};
const emitter = (globalForWake.__attentiveWake ??= new EventEmitter().setMaxListeners(50));

/** Also tell other processes of every "work" and "backfill" signal (null: this process only). */
export function setCrossProcessWake(send: ((signal: CrossProcessSignal) => void) | null): void {
  globalForWake.__attentiveWakeOthers = send;
}

/** A signal heard from another process: raised here only, never sent on again. */
export function wakeLocally(signal: CrossProcessSignal): void {
  emitter.emit(signal);
}

function wakeEverywhere(signal: CrossProcessSignal): void {
  emitter.emit(signal);
  globalForWake.__attentiveWakeOthers?.(signal);
}

export function wakeWorkers(): void {
  wakeEverywhere("work");
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
  wakeEverywhere("backfill");
}

export function onBackfillWake(listener: () => void): () => void {
  emitter.on("backfill", listener);
  return () => emitter.off("backfill", listener);
}
