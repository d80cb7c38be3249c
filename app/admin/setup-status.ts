/**
 * The home page's answer to "is the app set up and working?": four checks (the Attentive key, the mappings, events
 * reaching Attentive, failures), each ok, a warning or a problem, with what to do when it is not ok. A pure function
 * of figures the home loader reads, so every state is unit-tested without a page.
 */
import { formatRelative } from "~/components/format";

export type CheckState = "ok" | "warning" | "critical";

export interface SetupCheck {
  id: "key" | "mappings" | "flowing" | "failures";
  state: CheckState;
  title: string;
  detail: string;
  action: { label: string; url: string } | null;
}

export interface SetupFacts {
  connected: boolean;
  /** When Attentive last refused the key (401/403) since it was connected. */
  keyRejectedAt: Date | string | null;
  enabledMappings: number;
  /** Enabled mappings whose topic waits for an access scope the shop has not granted. */
  mappingsWaitingForAccess: number;
  paused: boolean;
  lastDeliveredAt: Date | string | null;
  /** The newest delivery of any status: an event was recorded even if it has not been sent yet. */
  lastRecordedAt: Date | string | null;
  pending: number;
  oldestPendingAt: Date | string | null;
  failed24h: number;
}

export interface SetupStatus {
  state: CheckState;
  headline: string;
  checks: SetupCheck[];
}

/** Waiting longer than this is more than pacing or a retry's back-off: the merchant should look. */
export const PENDING_WARNING_MS = 30 * 60_000;

const time = (value: Date | string) => (typeof value === "string" ? new Date(value) : value).getTime();
const plural = (count: number, one: string, many: string) => `${count.toLocaleString("en-US")} ${count === 1 ? one : many}`;

function keyCheck(facts: SetupFacts, now: number): SetupCheck {
  if (!facts.connected) {
    return {
      id: "key",
      state: "critical",
      title: "No Attentive API key",
      detail: "Nothing is sent until a key is connected. Events are recorded meanwhile and can be retried afterwards.",
      action: { label: "Connect a key", url: "/app/settings" },
    };
  }
  if (facts.keyRejectedAt) {
    return {
      id: "key",
      state: "critical",
      title: "Attentive refused the API key",
      detail: `Refused ${formatRelative(facts.keyRejectedAt, now)}. Paste the key of a custom app with Custom Events: Write, then retry the failed deliveries.`,
      action: { label: "Replace the key", url: "/app/settings" },
    };
  }
  return { id: "key", state: "ok", title: "Attentive key accepted", detail: "The key was verified with Attentive and has not been refused since.", action: null };
}

function mappingsCheck(facts: SetupFacts): SetupCheck {
  if (facts.enabledMappings === 0) {
    return {
      id: "mappings",
      state: "critical",
      title: "No mapping is on",
      detail: "A mapping turns a Shopify event into an Attentive event. Without one nothing is sent.",
      action: { label: "Create a mapping", url: "/app/mappings/new" },
    };
  }
  if (facts.mappingsWaitingForAccess > 0) {
    return {
      id: "mappings",
      state: "warning",
      title: `${plural(facts.mappingsWaitingForAccess, "mapping waits", "mappings wait")} for access`,
      detail: "Shopify sends those events only once the app has the access they need. Grant it from the mappings page.",
      action: { label: "Open mappings", url: "/app/mappings" },
    };
  }
  return { id: "mappings", state: "ok", title: `${plural(facts.enabledMappings, "mapping", "mappings")} on`, detail: "Every mapping that is on has the access it needs.", action: null };
}

function flowingCheck(facts: SetupFacts, now: number): SetupCheck {
  if (facts.paused) {
    return {
      id: "flowing",
      state: "warning",
      title: "Sending is paused",
      detail: `Events are recorded but not sent${facts.pending > 0 ? ` (${plural(facts.pending, "event waits", "events wait")})` : ""}. They are sent when you resume.`,
      action: { label: "Resume in Settings", url: "/app/settings" },
    };
  }
  if (facts.oldestPendingAt && now - time(facts.oldestPendingAt) > PENDING_WARNING_MS) {
    return {
      id: "flowing",
      state: "warning",
      title: `${plural(facts.pending, "event is", "events are")} waiting to be sent`,
      detail: `The oldest has waited since ${formatRelative(facts.oldestPendingAt, now)}: Attentive may be slow or refusing them. The delivery log shows each attempt.`,
      // The log's Waiting view: what the count above counts (pending and sending).
      action: { label: "See what is waiting", url: "/app/deliveries?status=pending&status=sending" },
    };
  }
  if (facts.lastDeliveredAt) {
    return {
      id: "flowing",
      state: "ok",
      title: "Events are reaching Attentive",
      detail: `The last was sent ${formatRelative(facts.lastDeliveredAt, now)}.`,
      action: null,
    };
  }
  if (facts.lastRecordedAt) {
    return {
      id: "flowing",
      state: "warning",
      title: "No event has reached Attentive yet",
      detail: `Events are recorded (the last ${formatRelative(facts.lastRecordedAt, now)}) but none was delivered. The delivery log says why.`,
      action: { label: "Open the delivery log", url: "/app/deliveries" },
    };
  }
  return {
    id: "flowing",
    state: "ok",
    title: "Waiting for the first event",
    detail: "Nothing has happened in the shop that a mapping sends yet. Events appear in the delivery log as they arrive.",
    action: null,
  };
}

function failuresCheck(facts: SetupFacts): SetupCheck {
  if (facts.failed24h > 0) {
    return {
      id: "failures",
      state: "critical",
      title: `${plural(facts.failed24h, "event", "events")} failed in the last 24 hours`,
      detail: "Each failure says why. Fix the cause, then retry them from the delivery log.",
      action: { label: "See the failures", url: "/app/deliveries?status=failed" },
    };
  }
  return { id: "failures", state: "ok", title: "Nothing failed in the last 24 hours", detail: "Every event that finished was accepted by Attentive.", action: null };
}

export function setupStatus(facts: SetupFacts, now = Date.now()): SetupStatus {
  const checks = [keyCheck(facts, now), mappingsCheck(facts), flowingCheck(facts, now), failuresCheck(facts)];
  const state: CheckState = checks.some((check) => check.state === "critical") ? "critical" : checks.some((check) => check.state === "warning") ? "warning" : "ok";
  const problems = checks.filter((check) => check.state !== "ok").length;
  const headline =
    state === "ok"
      ? "Set up and working"
      : `${plural(problems, "thing needs", "things need")} your attention`;
  return { state, headline, checks };
}
