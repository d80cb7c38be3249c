/**
 * In-process signal from the webhook route to the embedded worker: new work was
 * recorded, look now instead of at the next poll. Kept on globalThis so the route
 * modules Vite reloads and the worker share one emitter.
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
