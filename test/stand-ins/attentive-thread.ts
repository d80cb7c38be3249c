/**
 * The Attentive stand-in on its own event loop (a worker thread). A load test that runs the
 * app's workers and thousands of webhook posts in the test process would otherwise delay the
 * stand-in's answers past the client timeout, and a request Attentive processed but the
 * client gave up on is a genuine, unavoidable repeat: it would hide the faults under test.
 * Faults come from a seeded plan run inside the thread; the host reads what was received.
 */
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { z } from "zod";
import { startAttentiveStandIn, type AttentiveStandInOptions, type Fault } from "./attentive";
import { pick, seededRandom } from "../support/seeded-random";

export interface ThreadFaultPlan {
  seed: number;
  /** Share of requests (0-100) that get one of `faults`, chosen by the seeded generator. */
  percent: number;
  faults: Array<{ name: string; fault: Fault }>;
}

export interface StandInThreadConfig {
  options: AttentiveStandInOptions;
  plan?: ThreadFaultPlan;
}

export interface StandInStats {
  /** externalEventId of every accepted createCustomEvent, in arrival order. */
  received: string[];
  /** Every request that reached the server, whatever became of it. */
  requests: number;
  injected: Record<string, number>;
}

export interface StandInThread {
  graphqlUrl: string;
  origin: string;
  stats(): Promise<StandInStats>;
  close(): Promise<void>;
}

const hostMessage = z.discriminatedUnion("type", [z.object({ type: z.literal("stats") }), z.object({ type: z.literal("close") })]);
const threadMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ready"), graphqlUrl: z.string(), origin: z.string() }),
  z.object({
    type: z.literal("stats"),
    stats: z.object({ received: z.array(z.string()), requests: z.number(), injected: z.record(z.string(), z.number()) }),
  }),
  z.object({ type: z.literal("closed") }),
  z.object({ type: z.literal("error"), message: z.string() }),
]);
type ThreadMessage = z.infer<typeof threadMessage>;

export async function startAttentiveThread(config: StandInThreadConfig): Promise<StandInThread> {
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: config, execArgv: ["--import", "tsx"] });
  const waiters: Array<(message: ThreadMessage) => void> = [];
  worker.on("message", (raw: unknown) => {
    const message = threadMessage.parse(raw);
    waiters.shift()?.(message);
  });
  const next = () => new Promise<ThreadMessage>((resolve) => waiters.push(resolve));
  const failed = new Promise<never>((_, reject) => worker.once("error", reject));
  const ready = await Promise.race([next(), failed]);
  if (ready.type !== "ready") throw new Error(ready.type === "error" ? ready.message : "the stand-in thread did not start");
  return {
    graphqlUrl: ready.graphqlUrl,
    origin: ready.origin,
    async stats() {
      const answer = next();
      worker.postMessage({ type: "stats" });
      const message = await answer;
      if (message.type !== "stats") throw new Error(`unexpected answer ${message.type}`);
      return message.stats;
    },
    async close() {
      const answer = next();
      worker.postMessage({ type: "close" });
      await answer;
      await worker.terminate();
    },
  };
}

async function runThread(port: NonNullable<typeof parentPort>, config: StandInThreadConfig) {
  const standIn = await startAttentiveStandIn(config.options);
  const injected: Record<string, number> = {};
  const { plan } = config;
  if (plan) {
    const random = seededRandom(plan.seed);
    standIn.setFaultPlan(() => {
      if (random() * 100 >= plan.percent) return undefined;
      const { name, fault } = pick(random, plan.faults);
      injected[name] = (injected[name] ?? 0) + 1;
      return fault;
    });
  }
  port.on("message", (raw: unknown) => {
    const message = hostMessage.parse(raw);
    if (message.type === "stats") {
      const received = standIn.received.map((event) => event.input.externalEventId ?? "(none)");
      port.postMessage({ type: "stats", stats: { received, requests: standIn.requests, injected } });
    } else {
      void standIn.close().then(() => port.postMessage({ type: "closed" }));
    }
  });
  port.postMessage({ type: "ready", graphqlUrl: standIn.graphqlUrl, origin: standIn.origin });
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  runThread(port, workerData as StandInThreadConfig).catch((error: unknown) => {
    port.postMessage({ type: "error", message: error instanceof Error ? error.message : String(error) });
  });
}
