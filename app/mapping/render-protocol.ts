/** The messages between the render pool (render-pool.server.ts) and its threads (render-thread.ts). */
import type { JsonValue } from "~/shopify/json";
import type { RenderOutcome } from "./renderer";
import type { MappableTopic, MappingDefinition } from "./types";

/** Given to each thread when it starts. */
export interface RenderThreadData {
  /** One Int32 the thread keeps set to the RenderStep it is in, read by the pool when it stops a render. */
  progress: SharedArrayBuffer;
  /** Lets a job carry a `hook`; off outside tests. */
  testHooks: boolean;
}

export interface RenderJobMessage {
  id: number;
  mapping: MappingDefinition;
  topic: MappableTopic;
  shop: string;
  /** Exactly one of body and bodyText is set. */
  body?: JsonValue;
  bodyText?: string;
  order: JsonValue | null;
  fulfillment: JsonValue | null;
  /**
   * When above 0, the thread runs the render under a `vm` timeout of this many ms, so a runaway stops inside the
   * thread and the thread lives on. 0 for shops that have not needed it (the timeout costs a timer thread per call).
   */
  guardMs: number;
  /** Test hook (only honoured when RenderThreadData.testHooks): "exit" ends the thread mid-job. */
  hook?: "exit";
}

/**
 * `cpuUs` is the thread's CPU time so far (µs, user + system) as it goes idle, when Node can tell: the pool's
 * deadline counts the CPU a render uses from there, so a render slowed by a busy machine is not cut short.
 */
export type RenderThreadMessage =
  | { type: "ready"; cpuUs?: number }
  /**
   * `bodyName` is the body's top-level `name` when it is a string (an order's name), read from the thread's own
   * parse, so the delivery worker need not parse the body on the main thread for it.
   */
  | { type: "done"; id: number; outcome: RenderOutcome; bodyName?: string | null; cpuUs?: number }
  /** A bug, not a template problem: the render threw something the renderer does not turn into an outcome. */
  | { type: "failed"; id: number; message: string; cpuUs?: number };
