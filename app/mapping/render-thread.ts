/**
 * A render thread: renders one mapping at a time for the render pool (render-pool.server.ts), off the app's event
 * loop. Started by the pool with `--import tsx`, from source, so that it loads the same way under `npm start`,
 * vitest and tsx scripts (decision 009).
 */
import { parentPort, workerData } from "node:worker_threads";
import vm from "node:vm";
import { isJsonObject, parseShopifyJson, type JsonValue } from "~/shopify/json";
import { nameThisThread } from "~/thread-name";
import type { RenderJobMessage, RenderThreadData, RenderThreadMessage } from "./render-protocol";
import { RenderStep, deadlineReason, renderNow, warmUpRenderer, type RenderOutcome } from "./renderer";

const port = parentPort;
if (port === null) throw new Error("render-thread.ts runs only as a worker thread started by the render pool");
nameThisThread("render");
const data = workerData as RenderThreadData;
const progress = new Int32Array(data.progress);
const track = (step: number) => Atomics.store(progress, 0, step);

/** A webhook with several mappings arrives as consecutive jobs with the same text: parse it once. */
let lastText: string | undefined;
let lastBody: JsonValue = null;
function bodyOf(job: RenderJobMessage): JsonValue {
  if (job.bodyText === undefined) return job.body ?? null;
  if (job.bodyText !== lastText) {
    lastBody = parseShopifyJson(job.bodyText);
    lastText = job.bodyText;
  }
  return lastBody;
}

/**
 * `vm`'s timeout interrupts whatever synchronous code runs under it, including functions of this realm called
 * from the script, so a filter call that never returns to liquidjs's own limit check is still stopped.
 */
const guardContext = vm.createContext({ work: () => {} });
const guardScript = new vm.Script("work()");

/** The timeout error comes from the context's realm, so it is not an `instanceof Error` here. */
function isTimeout(error: unknown): boolean {
  return typeof error === "object" && error !== null && "code" in error && error.code === "ERR_SCRIPT_EXECUTION_TIMEOUT";
}

function nameOf(body: JsonValue): string | null {
  return isJsonObject(body) && typeof body.name === "string" ? body.name : null;
}

function run(job: RenderJobMessage): RenderThreadMessage {
  const body = bodyOf(job);
  const bodyName = nameOf(body);
  const input = { topic: job.topic, shop: job.shop, body, order: job.order, fulfillment: job.fulfillment };
  const work = () => renderNow(job.mapping, input, track);
  if (job.guardMs <= 0) return { type: "done", id: job.id, outcome: work(), bodyName };
  let outcome: RenderOutcome | undefined;
  guardContext.work = () => {
    outcome = work();
  };
  try {
    guardScript.runInContext(guardContext, { timeout: job.guardMs });
    if (outcome === undefined) throw new Error("the guarded render returned nothing");
    return { type: "done", id: job.id, outcome, bodyName };
  } catch (error) {
    if (!isTimeout(error)) throw error;
    return { type: "done", id: job.id, outcome: { kind: "error", reason: deadlineReason(job.mapping, Atomics.load(progress, 0), job.guardMs, job.topic) } };
  }
}

port.on("message", (job: RenderJobMessage) => {
  if (data.testHooks && job.hook === "exit") process.exit(70);
  let reply: RenderThreadMessage;
  try {
    reply = run(job);
  } catch (error) {
    reply = { type: "failed", id: job.id, message: error instanceof Error ? error.message : String(error) };
  }
  track(RenderStep.none);
  port.postMessage({ ...reply, ...cpuSoFar() });
});

/** process.threadCpuUsage is in Node 22.19 and later; without it the pool falls back to wall-clock time. */
function cpuSoFar(): { cpuUs?: number } {
  if (typeof process.threadCpuUsage !== "function") return {};
  const usage = process.threadCpuUsage();
  return { cpuUs: usage.user + usage.system };
}

warmUpRenderer();
port.postMessage({ type: "ready", ...cpuSoFar() } satisfies RenderThreadMessage);
