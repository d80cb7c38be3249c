/**
 * The home page's "set up and working" answer: each check's state and what it tells the merchant to do, from the
 * figures the home loader reads.
 */
import { describe, expect, it } from "vitest";
import { PENDING_WARNING_MS, setupStatus, type SetupFacts } from "~/admin/setup-status";

const NOW = Date.parse("2026-12-01T12:00:00Z");
const minutesAgo = (minutes: number) => new Date(NOW - minutes * 60_000);

const working: SetupFacts = {
  connected: true,
  keyRejectedAt: null,
  enabledMappings: 2,
  mappingsWaitingForAccess: 0,
  paused: false,
  lastDeliveredAt: minutesAgo(5),
  lastRecordedAt: minutesAgo(5),
  pending: 0,
  oldestPendingAt: null,
  failed24h: 0,
};

const check = (facts: Partial<SetupFacts>, id: string) => setupStatus({ ...working, ...facts }, NOW).checks.find((entry) => entry.id === id)!;

describe("setupStatus", () => {
  it("says plainly that a connected shop with mappings, recent sends and no failures is set up and working", () => {
    const status = setupStatus(working, NOW);
    expect(status.state).toBe("ok");
    expect(status.headline).toBe("Set up and working");
    expect(status.checks.map((entry) => [entry.id, entry.state])).toEqual([
      ["key", "ok"],
      ["mappings", "ok"],
      ["flowing", "ok"],
      ["failures", "ok"],
    ]);
    expect(check({}, "flowing").detail).toBe("The last was sent 5 min ago.");
    expect(status.checks.every((entry) => entry.action === null)).toBe(true);
  });

  it("a missing or refused key is a problem that leads to Settings", () => {
    expect(check({ connected: false }, "key")).toMatchObject({ state: "critical", title: "No Attentive API key", action: { url: "/app/settings" } });
    const refused = check({ keyRejectedAt: minutesAgo(120) }, "key");
    expect(refused).toMatchObject({ state: "critical", title: "Attentive refused the API key", action: { label: "Replace the key", url: "/app/settings" } });
    expect(refused.detail).toContain("Refused 2 h ago");
  });

  it("no mapping on is a problem; mappings waiting for access are a warning", () => {
    expect(check({ enabledMappings: 0 }, "mappings")).toMatchObject({ state: "critical", action: { url: "/app/mappings/new" } });
    expect(check({ mappingsWaitingForAccess: 1 }, "mappings")).toMatchObject({ state: "warning", title: "1 mapping waits for access" });
    expect(check({ mappingsWaitingForAccess: 3 }, "mappings").title).toBe("3 mappings wait for access");
    expect(check({ enabledMappings: 1 }, "mappings").title).toBe("1 mapping on");
  });

  it("paused sending, and live events waiting past the warning, are warnings that say where to look", () => {
    expect(check({ paused: true, pending: 4 }, "flowing")).toMatchObject({ state: "warning", title: "Sending is paused", action: { url: "/app/settings" } });
    expect(check({ paused: true, pending: 4 }, "flowing").detail).toContain("4 events wait");
    const waitingMinutes = PENDING_WARNING_MS / 60_000 + 1;
    expect(check({ pending: 12, oldestPendingAt: minutesAgo(waitingMinutes) }, "flowing")).toMatchObject({
      state: "warning",
      title: "12 events are waiting to be sent",
      action: { url: "/app/deliveries?status=pending&status=sending" },
    });
    // Pacing and a retry's back-off keep events waiting for moments: not worth a warning.
    expect(check({ pending: 12, oldestPendingAt: minutesAgo(waitingMinutes - 2) }, "flowing").state).toBe("ok");
  });

  it("tells a new shop it waits for the first event, and a shop whose events never arrived that they did not", () => {
    const fresh = check({ lastDeliveredAt: null, lastRecordedAt: null }, "flowing");
    expect(fresh).toMatchObject({ state: "ok", title: "Waiting for the first event", action: null });
    const undelivered = check({ lastDeliveredAt: null, lastRecordedAt: minutesAgo(90) }, "flowing");
    expect(undelivered).toMatchObject({ state: "warning", title: "No event has reached Attentive yet", action: { url: "/app/deliveries" } });
  });

  it("failures in the last day are a problem that opens the failed deliveries", () => {
    expect(check({ failed24h: 1 }, "failures")).toMatchObject({ state: "critical", title: "1 event failed in the last 24 hours", action: { url: "/app/deliveries?status=failed" } });
  });

  it("the overall state is the worst check's, and the headline counts what needs attention", () => {
    const warned = setupStatus({ ...working, paused: true }, NOW);
    expect([warned.state, warned.headline]).toEqual(["warning", "1 thing needs your attention"]);
    const broken = setupStatus({ ...working, paused: true, failed24h: 2, enabledMappings: 0 }, NOW);
    expect([broken.state, broken.headline]).toEqual(["critical", "3 things need your attention"]);
  });
});
