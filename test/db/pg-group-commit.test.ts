/**
 * The grouping rules of the PostgreSQL group commit (decisions 026 and 028), with a write function that the test
 * answers by hand; the stores' statements are tested on PostgreSQL in test/pipeline/outcome-store.test.ts and
 * test/webhooks/ingest-store.test.ts.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { failedOnItsRows, PgGroupCommit } from "~/db/pg-group-commit";

interface Item {
  key: string;
  value: number;
}

/** An error as node-postgres raises it for a statement the server refused: a message and the SQLSTATE in `code`. */
function serverError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** A write that records each group and waits until the test answers it; a group with an item `fail` picks is
 * refused with `failure` (by default, a check constraint's violation naming the group's values). */
function controlledWrite(fail: (item: Item) => boolean = () => false, failure = (items: readonly Item[]) => serverError("23514", `refused ${items.map((item) => item.value).join(",")}`)) {
  const calls: Array<{ items: Item[]; answer: () => void }> = [];
  let running = 0;
  let mostRunning = 0;
  const write = (items: readonly Item[]) =>
    new Promise<number[]>((resolve, reject) => {
      running++;
      mostRunning = Math.max(mostRunning, running);
      calls.push({
        items: [...items],
        answer: () => {
          running--;
          if (items.some(fail)) reject(failure(items));
          else resolve(items.map((item) => item.value * 10));
        },
      });
    });
  return { calls, write, mostRunning: () => mostRunning };
}

/** Lets setImmediate callbacks and the promise jobs they start run, a few rounds deep. */
const turn = async () => {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

describe("PgGroupCommit", () => {
  it("sends what arrived in one turn as one group, up to maxGroup, and the rest in another slot at once", async () => {
    const fake = controlledWrite();
    const group = new PgGroupCommit<Item, number>({ write: fake.write, keyOf: (item) => item.key, maxGroup: 4, maxInFlight: 2 });
    const results = Array.from({ length: 7 }, (_, i) => group.submit({ key: `k${i}`, value: i }));
    expect(fake.calls).toHaveLength(0);
    await turn();
    expect(fake.calls.map((call) => call.items.map((item) => item.value))).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6],
    ]);
    for (const call of fake.calls) call.answer();
    expect(await Promise.all(results)).toEqual([0, 10, 20, 30, 40, 50, 60]);
  });

  it("holds what arrives while every slot is busy, and sends it together when one frees", async () => {
    const fake = controlledWrite();
    const group = new PgGroupCommit<Item, number>({ write: fake.write, keyOf: (item) => item.key, maxGroup: 10, maxInFlight: 1 });
    const first = group.submit({ key: "a", value: 1 });
    await turn();
    const later = [group.submit({ key: "b", value: 2 }), group.submit({ key: "c", value: 3 })];
    await turn();
    expect(fake.calls).toHaveLength(1);
    fake.calls[0]!.answer();
    await first;
    await turn();
    expect(fake.calls.map((call) => call.items.map((item) => item.value))).toEqual([[1], [2, 3]]);
    fake.calls[1]!.answer();
    expect(await Promise.all(later)).toEqual([20, 30]);
    expect(fake.mostRunning()).toBe(1);
  });

  it("never writes two items of one key in one group or at the same time, and keeps their order", async () => {
    const fake = controlledWrite();
    const group = new PgGroupCommit<Item, number>({ write: fake.write, keyOf: (item) => item.key, maxGroup: 10, maxInFlight: 3 });
    const results = [group.submit({ key: "same", value: 1 }), group.submit({ key: "other", value: 2 }), group.submit({ key: "same", value: 3 })];
    await turn();
    // Two slots are free, but the second "same" waits for the first.
    expect(fake.calls.map((call) => call.items.map((item) => item.value))).toEqual([[1, 2]]);
    fake.calls[0]!.answer();
    await turn();
    expect(fake.calls.map((call) => call.items.map((item) => item.value))).toEqual([[1, 2], [3]]);
    fake.calls[1]!.answer();
    expect(await Promise.all(results)).toEqual([10, 20, 30]);
  });

  it("writes each item of a refused group alone, so only the one that fails alone is refused", async () => {
    const fake = controlledWrite((item) => item.value === 2);
    const group = new PgGroupCommit<Item, number>({ write: fake.write, keyOf: (item) => item.key, maxGroup: 10, maxInFlight: 2 });
    const results = [1, 2, 3].map((value) => group.submit({ key: `k${value}`, value }));
    const answerAll = async () => {
      for (let i = 0; i < 10; i++) {
        await turn();
        for (const call of fake.calls.splice(0)) call.answer();
      }
    };
    const settled = Promise.allSettled(results);
    await answerAll();
    const outcome = await settled;
    expect(outcome.map((result) => result.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(outcome[0]).toMatchObject({ value: 10 });
    expect(outcome[1]).toMatchObject({ reason: { message: "refused 2" } });
  });

  it("refuses every item of a group at once when the database is slow or gone, without writing them alone", async () => {
    const failures = [
      new Error("Query read timeout"), // node-postgres's own query_timeout: no SQLSTATE
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }),
      new Error("Connection terminated unexpectedly"),
      serverError("57014", "canceling statement due to statement timeout"),
      serverError("57P01", "terminating connection due to administrator command"),
      serverError("53300", "sorry, too many clients already"),
      serverError("42P01", 'relation "Webhook" does not exist'),
    ];
    for (const failure of failures) {
      const fake = controlledWrite(() => true, () => failure);
      const group = new PgGroupCommit<Item, number>({ write: fake.write, keyOf: (item) => item.key, maxGroup: 10, maxInFlight: 2 });
      const settled = Promise.allSettled([1, 2, 3].map((value) => group.submit({ key: `k${value}`, value })));
      // Answer every write there is, a few turns deep, and count them: one, the group's.
      for (let i = 0, answered = 0; i < 10; i++) {
        await turn();
        for (const call of fake.calls.slice(answered)) call.answer();
        answered = fake.calls.length;
      }
      expect(fake.calls.map((call) => call.items.length), failure.message).toEqual([3]);
      const outcome = await settled;
      expect(outcome.map((result) => (result.status === "rejected" ? result.reason : result.value))).toEqual([failure, failure, failure]);
      await group.drain();
    }
  });

  it("tells a failure in the rows from a failure of the database", () => {
    for (const code of ["22P05", "22001", "23505", "23514", "40001", "40P01", "54000"]) expect(failedOnItsRows(serverError(code, code)), code).toBe(true);
    for (const code of ["57014", "57P01", "08006", "53300", "42P01", "XX000", "ECONNRESET", "23"]) expect(failedOnItsRows(serverError(code, code)), code).toBe(false);
    expect(failedOnItsRows(new Error("Query read timeout"))).toBe(false);
    expect(failedOnItsRows(undefined)).toBe(false);
    expect(failedOnItsRows({ code: 23505 })).toBe(false);
  });

  it("refuses a group whose write answers the wrong number of results, item by item", async () => {
    const group = new PgGroupCommit<Item, number>({
      write: async (items) => (items.length > 1 ? [1] : [items[0]!.value]),
      keyOf: (item) => item.key,
      maxGroup: 10,
      maxInFlight: 1,
    });
    expect(await Promise.all([group.submit({ key: "a", value: 7 }), group.submit({ key: "b", value: 8 })])).toEqual([7, 8]);
  });

  it("drain() settles only once every submitted item is written", async () => {
    const fake = controlledWrite();
    const group = new PgGroupCommit<Item, number>({ write: fake.write, keyOf: (item) => item.key, maxGroup: 1, maxInFlight: 1 });
    void group.submit({ key: "a", value: 1 });
    void group.submit({ key: "b", value: 2 });
    let drained = false;
    const draining = group.drain().then(() => (drained = true));
    for (let i = 0; i < 2; i++) {
      await turn();
      await turn();
      expect(drained).toBe(false);
      fake.calls[i]!.answer();
    }
    await draining;
    expect(drained).toBe(true);
    await expect(new PgGroupCommit<Item, number>({ write: fake.write, keyOf: (item) => item.key, maxGroup: 1, maxInFlight: 1 }).drain()).resolves.toBeUndefined();
  });
  describe("with gatherMs (decision 051)", () => {
    afterEach(() => {
      vi.useRealTimers();
    });
    /**
     * A group with a gather, on virtual time for the gather's timer and clock only (the turns the group waits for
     * stay real), and the write the test answers.
     */
    const gathering = (options: { maxGroup: number; maxInFlight: number; gatherMs: number; gatherCount?: number }) => {
      vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
      const fake = controlledWrite();
      return { fake, group: new PgGroupCommit<Item, number>({ write: fake.write, keyOf: (item) => item.key, ...options }) };
    };

    it("holds the first item until it has waited gatherMs, and sends what came meanwhile with it", async () => {
      const { fake, group } = gathering({ maxGroup: 10, maxInFlight: 2, gatherMs: 10 });
      const first = group.submit({ key: "a", value: 1 });
      await turn();
      vi.advanceTimersByTime(6);
      const second = group.submit({ key: "b", value: 2 });
      await turn();
      vi.advanceTimersByTime(3);
      await turn();
      // 9 ms after the first: nothing sent yet, though both slots are free.
      expect(fake.calls).toHaveLength(0);
      vi.advanceTimersByTime(1);
      await turn();
      expect(fake.calls.map((call) => call.items.map((item) => item.value))).toEqual([[1, 2]]);
      fake.calls[0]!.answer();
      expect(await Promise.all([first, second])).toEqual([10, 20]);
      // The next item waits its own time, counted from its own arrival.
      const third = group.submit({ key: "c", value: 3 });
      vi.advanceTimersByTime(9);
      await turn();
      expect(fake.calls).toHaveLength(1);
      vi.advanceTimersByTime(1);
      await turn();
      expect(fake.calls.map((call) => call.items.map((item) => item.value))).toEqual([[1, 2], [3]]);
      fake.calls[1]!.answer();
      expect(await third).toBe(30);
    });

    it("sends at once when maxGroup items are queued, and what did not fit in another slot without waiting", async () => {
      const { fake, group } = gathering({ maxGroup: 3, maxInFlight: 2, gatherMs: 10 });
      const results = [1, 2, 3, 4].map((value) => group.submit({ key: `k${value}`, value }));
      await turn();
      expect(fake.calls.map((call) => call.items.map((item) => item.value))).toEqual([[1, 2, 3], [4]]);
      for (const call of fake.calls) call.answer();
      expect(await Promise.all(results)).toEqual([10, 20, 30, 40]);
      // One that arrives alone later waits for others again.
      const fifth = group.submit({ key: "k5", value: 5 });
      await turn();
      expect(fake.calls).toHaveLength(2);
      vi.advanceTimersByTime(10);
      await turn();
      expect(fake.calls.map((call) => call.items.map((item) => item.value))).toEqual([[1, 2, 3], [4], [5]]);
      fake.calls[2]!.answer();
      expect(await fifth).toBe(50);
    });

    it("sends at once when gatherCount items are queued", async () => {
      const { fake, group } = gathering({ maxGroup: 10, maxInFlight: 2, gatherMs: 5, gatherCount: 2 });
      const first = group.submit({ key: "a", value: 1 });
      await turn();
      expect(fake.calls).toHaveLength(0);
      const second = group.submit({ key: "b", value: 2 });
      await turn();
      expect(fake.calls.map((call) => call.items.map((item) => item.value))).toEqual([[1, 2]]);
      fake.calls[0]!.answer();
      expect(await Promise.all([first, second])).toEqual([10, 20]);
    });

    it("sends what waits at once on drain(), and waits again once it is idle", async () => {
      const { fake, group } = gathering({ maxGroup: 10, maxInFlight: 1, gatherMs: 10 });
      const first = group.submit({ key: "a", value: 1 });
      await turn();
      expect(fake.calls).toHaveLength(0);
      const drained = group.drain();
      await turn();
      expect(fake.calls.map((call) => call.items.map((item) => item.value))).toEqual([[1]]);
      fake.calls[0]!.answer();
      await drained;
      expect(await first).toBe(10);
      void group.submit({ key: "b", value: 2 });
      await turn();
      expect(fake.calls).toHaveLength(1);
      vi.advanceTimersByTime(10);
      await turn();
      expect(fake.calls).toHaveLength(2);
      fake.calls[1]!.answer();
      await group.drain();
    });
  });
});
