/** The row ids the hot-path writes give webhooks, deliveries and attempts (decision 027). */
import { describe, expect, it } from "vitest";
import { timeOrderedId } from "~/db/time-ordered-id";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("timeOrderedId", () => {
  it("is a version 7 UUID whose first 48 bits are the given time in milliseconds", () => {
    const at = Date.UTC(2026, 11, 1, 23, 30, 0, 123);
    const id = timeOrderedId(at);
    expect(id).toMatch(UUID_V7);
    expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(at);
    // The earliest and latest times 48 bits hold keep their place too.
    expect(timeOrderedId(0).slice(0, 13)).toBe("00000000-0000");
    expect(timeOrderedId(2 ** 48 - 1).slice(0, 13)).toBe("ffffffff-ffff");
  });

  it("sorts as text in the order of the times it was made for, whatever its random part", () => {
    const times = [1_700_000_000_000, 1_700_000_000_001, 1_700_000_065_536, 1_764_633_600_000, 1_796_000_000_000];
    // Several ids per time, made out of order: text order must follow time order between times.
    const made = times.flatMap((time) => Array.from({ length: 20 }, () => ({ time, id: timeOrderedId(time) }))).reverse();
    const sorted = [...made].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    expect(sorted.map((entry) => entry.time)).toEqual([...made.map((entry) => entry.time)].sort((a, b) => a - b));
  });

  it("does not repeat within a millisecond, across many refills of its random pool", () => {
    const ids = new Set(Array.from({ length: 20_000 }, () => timeOrderedId(1_796_000_000_000)));
    expect(ids.size).toBe(20_000);
    for (const id of [...ids].slice(0, 300)) expect(id).toMatch(UUID_V7);
  });
});
