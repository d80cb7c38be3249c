/**
 * The render pool on its own (decision 009): turns between shops, threads that die, a pool that cannot start,
 * the queue bound and finding the thread module from a build. Order is observed through the pool's dispatch hook
 * and through which promise settles first, never through the clock.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { RenderPool, findThreadEntry, type RenderPoolOptions } from "~/mapping/render-pool.server";
import { renderThreadsFrom } from "~/mapping/render.server";
import type { RenderContextInput, RenderOutcome } from "~/mapping/renderer";
import type { MappingDefinition } from "~/mapping/types";
import { threadNames } from "../../bench/lib/cpu";

const condition = Array.from({ length: 60 }, (_, i) => `i != ${i + 7}`).join(" and ");
/** Seconds of work inside one filter call, which liquidjs's own time limit never interrupts. */
const RUNAWAY = `{{ (1..20000) | where_exp: "i", "i > 5 and ${condition}" | size }}`;

function mapping(properties: Record<string, string>): MappingDefinition {
  return { topic: "orders/fulfilled", eventType: "Order Shipped", enabled: true, properties };
}

function input(shop: string): RenderContextInput {
  const bodyText = JSON.stringify({ name: "#1001", email: "jon@example.com", id: 820982911946154508n.toString() });
  return { topic: "orders/fulfilled", shop, body: null, bodyText };
}

const pools: RenderPool[] = [];
function makePool(options: Partial<RenderPoolOptions> = {}): RenderPool {
  const pool = new RenderPool({ threads: 2, deadlineMs: 250, ...options });
  pools.push(pool);
  return pool;
}

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
});

function errorOf(outcome: RenderOutcome): string {
  if (outcome.kind !== "error") throw new Error(`expected an error, got ${outcome.kind}`);
  return outcome.reason;
}

describe("rendering in threads", () => {
  it("renders from the body's text, keeping big ids exact", { timeout: 60_000 }, async () => {
    const pool = makePool({ threads: 1 });
    const outcome = await pool.render(mapping({ name: "{{ name }}", id: "{{ id }}" }), input("a.myshopify.com"));
    expect(outcome).toMatchObject({ kind: "event", event: { properties: { name: "#1001", id: "820982911946154508" }, user: { email: "jon@example.com" } } });
  });

  it.runIf(process.platform === "linux")("names its threads for the operating system (top -H, the bench's per-thread CPU)", { timeout: 60_000 }, async () => {
    const before = [...threadNames(process.pid).values()].filter((name) => name === "render").length;
    // Both threads have started and said they are ready, which they do after naming themselves.
    await makePool({ threads: 2 }).warm();
    expect([...threadNames(process.pid).values()].filter((name) => name === "render").length).toBe(before + 2);
  });

  it("finishes another shop's render while a runaway one is still running", { timeout: 60_000 }, async () => {
    // A deadline (of CPU time) far above any ordinary render, so the order below holds however busy the machine is.
    const pool = makePool({ deadlineMs: 1_000 });
    await pool.warm();
    const settled: string[] = [];
    const runaway = pool.render(mapping({ evil: RUNAWAY }), input("slow.myshopify.com")).then((outcome) => {
      settled.push("runaway");
      return outcome;
    });
    const other = pool.render(mapping({ name: "{{ name }}" }), input("other.myshopify.com")).then((outcome) => {
      settled.push("other shop");
      return outcome;
    });
    const [runawayOutcome, otherOutcome] = await Promise.all([runaway, other]);
    expect(settled).toEqual(["other shop", "runaway"]);
    expect(otherOutcome.kind).toBe("event");
    expect(errorOf(runawayOutcome)).toContain('Property "evil" could not be rendered: it ran longer than 1000 ms');
  });
});

describe("turns between shops", () => {
  it("serves another shop before one shop's flood of runaway renders drains", { timeout: 90_000 }, async () => {
    const dispatched: string[] = [];
    const pool = makePool({ onDispatch: (shop) => dispatched.push(shop) });
    await pool.warm();
    const flood = Array.from({ length: 5 }, () => pool.render(mapping({ evil: RUNAWAY }), input("flood.myshopify.com")));
    const other = pool.render(mapping({ name: "{{ name }}" }), input("patient.myshopify.com"));
    const outcomes = await Promise.all([...flood, other]);
    // The flood had both threads when the other shop arrived (nobody else was waiting); the next free thread
    // goes to the shop whose last turn is oldest, the other shop.
    expect(dispatched).toEqual(["flood.myshopify.com", "flood.myshopify.com", "patient.myshopify.com", "flood.myshopify.com", "flood.myshopify.com", "flood.myshopify.com"]);
    for (const outcome of outcomes.slice(0, 5)) expect(errorOf(outcome)).toContain("it ran longer than 250 ms");
    expect(outcomes[5]?.kind).toBe("event");
  });

  it("keeps a thread free for other shops once a shop has needed the deadline, and stops its renders inside the thread", { timeout: 90_000 }, async () => {
    const dispatched: string[] = [];
    const pool = makePool({ onDispatch: (shop) => dispatched.push(shop) });
    await pool.warm();
    errorOf(await pool.render(mapping({ evil: RUNAWAY }), input("flood.myshopify.com")));
    expect(pool.stats()).toMatchObject({ started: 3, stoppedAtDeadline: 1 });
    await pool.warm();
    dispatched.length = 0;

    const settled: string[] = [];
    const flood = Array.from({ length: 3 }, (_, i) =>
      pool.render(mapping({ evil: RUNAWAY }), input("flood.myshopify.com")).then((outcome) => {
        settled.push(`flood ${i + 1}`);
        return outcome;
      }),
    );
    // Only one of the flood's renders runs at a time now: the other thread is idle for whoever comes.
    expect(dispatched).toEqual(["flood.myshopify.com"]);
    const other = pool.render(mapping({ name: "{{ name }}" }), input("patient.myshopify.com")).then((outcome) => {
      settled.push("other shop");
      return outcome;
    });
    expect(dispatched).toEqual(["flood.myshopify.com", "patient.myshopify.com"]);
    const outcomes = await Promise.all([...flood, other]);
    expect(settled).toContain("other shop");
    for (const outcome of outcomes.slice(0, 3)) expect(errorOf(outcome)).toContain('Property "evil" could not be rendered: it ran longer than 250 ms');
    // Stopped by the vm timeout inside the thread: no thread was terminated or started for them.
    expect(pool.stats()).toMatchObject({ started: 3, stoppedAtDeadline: 1, crashed: 0, waiting: 0, inFlight: 0 });
  });

  it("refuses renders past the queue bound as retryable, without starting them", { timeout: 60_000 }, async () => {
    const pool = makePool({ threads: 1, maxQueued: 1 });
    const first = pool.render(mapping({ name: "{{ name }}" }), input("a.myshopify.com"));
    const refused = await pool.render(mapping({ name: "{{ name }}" }), input("b.myshopify.com"));
    expect(refused).toMatchObject({ kind: "error", retryable: true });
    expect(errorOf(refused)).toContain("waiting to be rendered");
    expect((await first).kind).toBe("event");
  });
});

describe("threads that fail", () => {
  it("fails only the job of a thread that exits, and replaces the thread", { timeout: 60_000 }, async () => {
    const pool = makePool({ testHooks: true });
    await pool.warm();
    const crashed = pool.render(mapping({ name: "{{ name }}" }), input("a.myshopify.com"), "exit");
    const neighbour = pool.render(mapping({ name: "{{ name }}" }), input("b.myshopify.com"));
    const outcome = await crashed;
    expect(outcome).toMatchObject({ kind: "error", retryable: true });
    expect(errorOf(outcome)).toMatch(/^The thread rendering the mapping "Order Shipped" stopped unexpectedly \(exit code 70\)\. It will be tried again/);
    expect((await neighbour).kind).toBe("event");
    const after = await Promise.all(["a", "b", "c"].map((shop) => pool.render(mapping({ name: "{{ name }}" }), input(`${shop}.myshopify.com`))));
    expect(after.map((result) => result.kind)).toEqual(["event", "event", "event"]);
    expect(pool.stats()).toMatchObject({ started: 3, crashed: 1, waiting: 0, inFlight: 0 });
  });

  it("rejects waiting renders with the reason when no thread can start, and tries again on the next render", { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "render-pool-"));
    try {
      const entry = join(dir, "broken-thread.ts");
      writeFileSync(entry, 'throw new Error("the thread module is broken");\n');
      const pool = makePool({ entry });
      const renders = [pool.render(mapping({}), input("a.myshopify.com")), pool.render(mapping({}), input("b.myshopify.com"))];
      for (const render of renders) await expect(render).rejects.toThrow(/^Mappings cannot be rendered: the render thread did not start \(the thread module is broken\)\.$/);
      await expect(pool.render(mapping({}), input("c.myshopify.com"))).rejects.toThrow("did not start");
      expect(pool.stats()).toMatchObject({ started: 4, waiting: 0, inFlight: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rejects what waits or runs when closed", async () => {
    const pool = makePool({ threads: 1 });
    const rejected = expect(pool.render(mapping({ name: "{{ name }}" }), input("a.myshopify.com"))).rejects.toThrow("closed");
    await pool.close();
    await rejected;
    await expect(pool.render(mapping({}), input("a.myshopify.com"))).rejects.toThrow("closed");
  });
});

describe("threads started when needed (decision 033)", () => {
  /** Resolves at the pool's next idle end: order comes from the pool's own event, not the clock. */
  function idleEnds(options: Partial<RenderPoolOptions>) {
    let ended: () => void = () => {};
    let next = new Promise<void>((resolve) => (ended = resolve));
    const pool = makePool({
      ...options,
      onIdleEnd: () => {
        ended();
        next = new Promise<void>((resolve) => (ended = resolve));
      },
    });
    return { pool, nextIdleEnd: () => next };
  }

  it("starts no thread until a render needs one", () => {
    const pool = makePool();
    expect(pool.stats()).toMatchObject({ started: 0, threads: 0 });
  });

  it("ends its threads after an idle spell and starts new ones for the next render", { timeout: 60_000 }, async () => {
    const { pool, nextIdleEnd } = idleEnds({ idleMs: 30 });
    const ended = nextIdleEnd();
    expect((await pool.render(mapping({ name: "{{ name }}" }), input("a.myshopify.com"))).kind).toBe("event");
    expect(pool.stats()).toMatchObject({ started: 2, threads: 2 });
    await ended;
    expect(pool.stats()).toMatchObject({ started: 2, threads: 0, idleEnds: 1, waiting: 0, inFlight: 0 });
    const again = await pool.render(mapping({ name: "{{ name }}" }), input("b.myshopify.com"));
    expect(again).toMatchObject({ kind: "event", event: { properties: { name: "#1001" } } });
    expect(pool.stats()).toMatchObject({ started: 4, threads: 2, idleEnds: 1 });
  });

  it("ends threads that were only warmed", { timeout: 60_000 }, async () => {
    const { pool, nextIdleEnd } = idleEnds({ idleMs: 30 });
    const ended = nextIdleEnd();
    await pool.warm();
    await ended;
    expect(pool.stats()).toMatchObject({ started: 2, threads: 0, idleEnds: 1 });
  });

  it("never ends a thread while a render runs, however long it takes", { timeout: 60_000 }, async () => {
    // The runaway uses a second of its thread's CPU, far past an idle time of 20 ms: a pool that went on counting
    // idleness while it ran would terminate the thread under it, and the render would never settle.
    const { pool, nextIdleEnd } = idleEnds({ idleMs: 20, deadlineMs: 1_000, threads: 1 });
    const ended = nextIdleEnd();
    // The first render leaves the pool idle, its idle time counting; the runaway is asked for before any timer can run.
    expect((await pool.render(mapping({ name: "{{ name }}" }), input("slow.myshopify.com"))).kind).toBe("event");
    const outcome = await pool.render(mapping({ evil: RUNAWAY }), input("slow.myshopify.com"));
    expect(errorOf(outcome)).toContain("it ran longer than 1000 ms");
    expect(pool.stats()).toMatchObject({ idleEnds: 0, stoppedAtDeadline: 1, threads: 1 });
    await ended;
    expect(pool.stats()).toMatchObject({ threads: 0, idleEnds: 1 });
  });
});

describe("finding the thread module", () => {
  const threadFile = join(process.cwd(), "app", "mapping", "render-thread.ts");

  it("finds it beside the source and from a build two folders below the project", () => {
    expect(findThreadEntry(pathToFileURL(join(process.cwd(), "app", "mapping", "render.server.ts")).href)).toBe(threadFile);
    expect(findThreadEntry(pathToFileURL(join(process.cwd(), "build", "server", "index.js")).href, "/")).toBe(threadFile);
    expect(findThreadEntry(pathToFileURL(join(process.cwd(), ".tools", "bench", "build", "server", "index.js")).href, "/")).toBe(threadFile);
  });

  it("says what to do when it is not there", () => {
    const dir = mkdtempSync(join(tmpdir(), "render-entry-"));
    try {
      expect(() => findThreadEntry(pathToFileURL(join(dir, "build", "server", "index.js")).href, dir)).toThrow(/start the app from its project folder/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("RENDER_THREADS", () => {
  it("defaults to 2 and accepts 1 to 16", () => {
    expect(renderThreadsFrom(undefined)).toBe(2);
    expect(renderThreadsFrom("")).toBe(2);
    expect(renderThreadsFrom("1")).toBe(1);
    expect(renderThreadsFrom("16")).toBe(16);
  });

  it("refuses anything else with a message saying what to set", () => {
    for (const bad of ["0", "17", "1.5", "two", "-1"]) expect(() => renderThreadsFrom(bad)).toThrow(/^RENDER_THREADS must be a whole number from 1 to 16/);
  });
});
