/**
 * The SQLite writer's gathering (decision 035): writes that may wait (`gatherMs`, a delivery's outcome) share a
 * commit with those that come within their time, and never hold back a write that cannot wait. The writer's queue
 * and timing are tested here on virtual time against an executor that records the groups it is given; the
 * transactions themselves are test/db/sqlite-writer.test.ts's.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { GATHER_LIMIT, SqliteWriter } from "~/db/sqlite-writer.server";
import type { GroupItem, ItemOutcome } from "~/db/sqlite-write-kinds";

const LOCK_WAIT_MS = 3_000;

/** Records each group and answers it when the test says so (or at once). */
function recordingExecutor(options: { holdGroups?: boolean } = {}) {
  const groups: string[][] = [];
  const answers: Array<() => void> = [];
  const executor = {
    listeners: new Set<never>(),
    run(group: GroupItem[]): Promise<ItemOutcome[]> {
      groups.push(group.map((entry) => (entry.item as { name: string }).name));
      const outcomes = group.map((entry) => ({ ok: true as const, value: (entry.item as { name: string }).name }));
      if (!options.holdGroups) return Promise.resolve(outcomes);
      return new Promise((resolve) => answers.push(() => resolve(outcomes)));
    },
    warm: async () => {},
    close: async () => {},
  };
  return { executor, groups, answerNext: () => answers.shift()?.() };
}

/** The writer with its items loosened to the recording executor's. */
interface Writer {
  write(kind: string, item: unknown, lockWaitMs: number, options?: { gatherMs?: number; gatherCount?: number }): Promise<unknown>;
  drain(): Promise<void>;
}

function writerOn(executor: ReturnType<typeof recordingExecutor>["executor"]): Writer {
  return new SqliteWriter(executor as unknown as ConstructorParameters<typeof SqliteWriter>[0]) as unknown as Writer;
}

describe("the SQLite writer's gathering of writes that may wait", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("commits writes that may wait together, once the oldest has waited its time, and not before", async () => {
    const { executor, groups } = recordingExecutor();
    const writer = writerOn(executor);
    const first = writer.write("outcome", { name: "a" }, LOCK_WAIT_MS, { gatherMs: 10 });
    await vi.advanceTimersByTimeAsync(6);
    const second = writer.write("outcome", { name: "b" }, LOCK_WAIT_MS, { gatherMs: 10 });
    await vi.advanceTimersByTimeAsync(3);
    expect(groups).toEqual([]);
    // The oldest's 10 ms are up: the newer one goes with it, 4 ms early.
    await vi.advanceTimersByTimeAsync(1);
    expect(groups).toEqual([["a", "b"]]);
    await expect(Promise.all([first, second])).resolves.toEqual(["a", "b"]);
  });

  it("takes what waits into the commit of a write that cannot wait, at once", async () => {
    const { executor, groups } = recordingExecutor();
    const writer = writerOn(executor);
    const gathered = writer.write("outcome", { name: "outcome" }, LOCK_WAIT_MS, { gatherMs: 10 });
    const urgent = writer.write("ingest", { name: "webhook" }, LOCK_WAIT_MS);
    // setImmediate only: no virtual millisecond passes.
    await vi.advanceTimersByTimeAsync(0);
    expect(groups).toEqual([["outcome", "webhook"]]);
    await expect(Promise.all([gathered, urgent])).resolves.toEqual(["outcome", "webhook"]);
  });

  it("commits at once when GATHER_LIMIT writes wait", async () => {
    const { executor, groups } = recordingExecutor();
    const writer = writerOn(executor);
    const writes = Array.from({ length: GATHER_LIMIT }, (_, i) => writer.write("outcome", { name: `w${i}` }, LOCK_WAIT_MS, { gatherMs: 10 }));
    await vi.advanceTimersByTimeAsync(0);
    expect(groups.map((group) => group.length)).toEqual([GATHER_LIMIT]);
    await Promise.all(writes);
  });

  it("commits at once when as many writes wait as the least gatherCount among them, then counts afresh", async () => {
    const { executor, groups } = recordingExecutor();
    const writer = writerOn(executor);
    const outcome = writer.write("outcome", { name: "outcome" }, LOCK_WAIT_MS, { gatherMs: 10 });
    const first = writer.write("ingest", { name: "w1" }, LOCK_WAIT_MS, { gatherMs: 5, gatherCount: 3 });
    await vi.advanceTimersByTimeAsync(0);
    expect(groups).toEqual([]);
    const second = writer.write("ingest", { name: "w2" }, LOCK_WAIT_MS, { gatherMs: 5, gatherCount: 3 });
    await vi.advanceTimersByTimeAsync(0);
    expect(groups).toEqual([["outcome", "w1", "w2"]]);
    await Promise.all([outcome, first, second]);
    // The next group's count is its own writes': three that may wait up to GATHER_LIMIT wait out their time (with
    // the last group's count of 3 kept, they would go at once).
    for (const name of ["a", "b", "c"]) void writer.write("outcome", { name }, LOCK_WAIT_MS, { gatherMs: 10 });
    await vi.advanceTimersByTimeAsync(9);
    expect(groups).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(groups).toEqual([["outcome", "w1", "w2"], ["a", "b", "c"]]);
  });

  it("drain() commits what waits now", async () => {
    const { executor, groups } = recordingExecutor();
    const writer = writerOn(executor);
    void writer.write("outcome", { name: "a" }, LOCK_WAIT_MS, { gatherMs: 10 });
    const drained = writer.drain();
    await vi.advanceTimersByTimeAsync(0);
    expect(groups).toEqual([["a"]]);
    await drained;
  });

  it("a write that may wait, queued while a group commits, waits its own time after that commit, not longer", async () => {
    const { executor, groups, answerNext } = recordingExecutor({ holdGroups: true });
    const writer = writerOn(executor);
    void writer.write("claim", { name: "claim" }, LOCK_WAIT_MS);
    await vi.advanceTimersByTimeAsync(0);
    expect(groups).toEqual([["claim"]]);
    void writer.write("outcome", { name: "a" }, LOCK_WAIT_MS, { gatherMs: 10 });
    await vi.advanceTimersByTimeAsync(4);
    answerNext();
    await vi.advanceTimersByTimeAsync(5);
    expect(groups).toEqual([["claim"]]);
    await vi.advanceTimersByTimeAsync(1);
    expect(groups).toEqual([["claim"], ["a"]]);
    // Its time ran out while the claim committed: it goes as soon as that commit ends.
    void writer.write("outcome", { name: "b" }, LOCK_WAIT_MS, { gatherMs: 10 });
    await vi.advanceTimersByTimeAsync(20);
    answerNext();
    await vi.advanceTimersByTimeAsync(0);
    expect(groups).toEqual([["claim"], ["a"], ["b"]]);
    answerNext();
  });

  it("writes with no gathering time go as before: each turn's writes in one group, at once", async () => {
    const { executor, groups } = recordingExecutor();
    const writer = writerOn(executor);
    const writes = [writer.write("ingest", { name: "x" }, LOCK_WAIT_MS), writer.write("ingest", { name: "y" }, LOCK_WAIT_MS)];
    await vi.advanceTimersByTimeAsync(0);
    expect(groups).toEqual([["x", "y"]]);
    await Promise.all(writes);
  });
});
