/**
 * Hosts the project's Attentive stand-in (test/stand-ins/attentive.ts) in its own process, so that the load
 * generator and the stand-in do not share an event loop, and reports what it received over IPC.
 *
 * argv: JSON { keys: string[], rateLimitPerSecond: number, latencyMs: number }
 */
import { startAttentiveStandIn } from "../../test/stand-ins/attentive";

interface HostOptions {
  keys: string[];
  rateLimitPerSecond: number;
  latencyMs: number;
}

export type HostRequest = { id: number; kind: "stats" } | { id: number; kind: "reset" } | { id: number; kind: "latency"; ms: number };

export interface HostStats {
  requests: number;
  /** [externalEventId, receivedAt ms] of every accepted createCustomEvent. */
  events: Array<[string, number]>;
  /** The first accepted createCustomEvent's input, as sent: what the bare sender of the delivery scenario repeats. */
  sampleInput?: Record<string, unknown>;
}

const options = JSON.parse(process.argv[2] ?? "{}") as HostOptions;
const standIn = await startAttentiveStandIn({
  apiKeys: options.keys,
  rateLimitPerSecond: options.rateLimitPerSecond,
  latencyMs: options.latencyMs,
  companyName: "Bench Co",
});

process.on("message", (message: HostRequest) => {
  if (message.kind === "stats") {
    const stats: HostStats = {
      requests: standIn.requests,
      events: standIn.received.map((event) => [event.input.externalEventId ?? "", event.receivedAt]),
      ...(standIn.received[0] ? { sampleInput: standIn.received[0].input } : {}),
    };
    process.send?.({ id: message.id, stats });
  } else if (message.kind === "reset") {
    standIn.reset();
    process.send?.({ id: message.id });
  } else if (message.kind === "latency") {
    standIn.setLatency(message.ms);
    process.send?.({ id: message.id });
  }
});
process.on("SIGTERM", () => void standIn.close().then(() => process.exit(0)));
process.send?.({ ready: true, graphqlUrl: standIn.graphqlUrl });
