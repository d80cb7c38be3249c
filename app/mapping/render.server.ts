/**
 * Renders a mapping for a webhook: the delivery worker and the editor's preview both come here. The templates run
 * in a pool of worker threads with a hard deadline per render and fair turns between shops (decision 009), so a
 * runaway template ends as an error naming it instead of stalling the app.
 */
import { z } from "zod";
import { logger } from "~/logger.server";
import { RenderPool, type RenderDetail, type RenderPoolStats } from "./render-pool.server";
import type { RenderContextInput, RenderOutcome } from "./renderer";
import type { MappingDefinition } from "./types";

export { MAX_RENDERED_LENGTH, RENDER_MEMORY_LIMIT, RENDER_TIME_LIMIT_MS } from "./renderer";
export type { RenderContextInput, RenderOutcome, RenderedEvent } from "./renderer";
export type { RenderDetail } from "./render-pool.server";

/**
 * The hard limit for one mapping's render (all its templates). liquidjs's own 100 ms limit (RENDER_TIME_LIMIT_MS)
 * stops most runaways between template nodes; this stops the rest, such as one filter call that runs for seconds.
 */
export const RENDER_DEADLINE_MS = 250;
export const DEFAULT_RENDER_THREADS = 2;
export const MAX_RENDER_THREADS = 16;

const threadsSchema = z.coerce.number().int().min(1).max(MAX_RENDER_THREADS).default(DEFAULT_RENDER_THREADS);

/** RENDER_THREADS: how many threads render mappings (1 to 16, default 2). */
export function renderThreadsFrom(value: string | undefined): number {
  const parsed = threadsSchema.safeParse(value === "" ? undefined : value);
  if (!parsed.success) {
    throw new Error(`RENDER_THREADS must be a whole number from 1 to ${MAX_RENDER_THREADS} (got "${value}"): set it to the number of cores to spare for rendering, or leave it unset for ${DEFAULT_RENDER_THREADS}.`);
  }
  return parsed.data;
}

// Read when the module loads, so a bad value stops the server at start rather than failing deliveries later.
const threads = renderThreadsFrom(process.env.RENDER_THREADS);

let shared: RenderPool | undefined;

function pool(): RenderPool {
  shared ??= new RenderPool({ threads, deadlineMs: RENDER_DEADLINE_MS });
  return shared;
}

/**
 * Never rejects for template problems: those come back as `error` outcomes. Pass `bodyText` when you have the
 * body's text: the thread parses it instead of receiving a copy of the parsed object.
 */
export async function renderMapping(mapping: MappingDefinition, input: RenderContextInput): Promise<RenderOutcome> {
  return pool().render(mapping, input);
}

/**
 * `renderMapping` for the delivery worker, which passes the body as text only: the outcome with the body's top-level
 * `name` as the render thread read it, so the worker's own thread never parses the body of an order topic.
 */
export async function renderMappingDetailed(mapping: MappingDefinition, input: RenderContextInput): Promise<RenderDetail> {
  return pool().renderDetailed(mapping, input);
}

/** The shared pool's counts, or null when no render has needed it since it was last closed. */
export function renderPoolStats(): RenderPoolStats | null {
  return shared?.stats() ?? null;
}

/**
 * Starts the render threads and resolves once each is ready, so the first renders do not wait for them (tests do,
 * so that start-up is not part of what they order). They end again after the pool's idle time (decision 033).
 */
export async function warmRenderPool(): Promise<void> {
  await pool().warm();
}

/**
 * Starts the render threads without waiting for them, for a page that is about to ask for a preview: a thread takes
 * a few hundred milliseconds to start (seconds on a busy machine), and the pool ends its threads when idle.
 */
export function warmRenderPoolSoon(): void {
  warmRenderPool().catch((error: unknown) => {
    logger.error({ err: error instanceof Error ? error.message : String(error) }, "render threads could not start; each render will try again");
  });
}

/** Ends the render threads (tests, scripts that want to exit at once); the next render starts new ones. */
export async function closeRenderPool(): Promise<void> {
  const closing = shared;
  shared = undefined;
  await closing?.close();
}
