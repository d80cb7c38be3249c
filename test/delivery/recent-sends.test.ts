/**
 * Pacing's record of a shop's recent sends (a ring of typed arrays) against the plain list it replaced: the same
 * sends kept, in the same order, the same answers, and the same count for every answer's accounting, through
 * wrap-arounds, a limit that grows (the arrays are replaced) and one that shrinks (the oldest are dropped).
 */
import { describe, expect, it } from "vitest";
import { RecentSends } from "~/delivery/pacing";
import { seededRandom } from "../support/seeded-random";

interface ModelSend {
  number: number;
  sentAt: number;
  answeredAt: number | null;
  answered: Promise<void>;
}

/** The list as pacing kept it before: objects, oldest first, the oldest spliced off beyond `keep`. */
class ListModel {
  sends: ModelSend[] = [];
  private next = 0;
  push(sentAt: number, answered: Promise<void>, keep: number): number {
    const send = { number: this.next++, sentAt, answeredAt: null, answered };
    this.sends.push(send);
    if (this.sends.length > keep) this.sends.splice(0, this.sends.length - keep);
    return send.number;
  }
  answer(number: number, at: number) {
    const send = this.sends.find((candidate) => candidate.number === number);
    if (send) send.answeredAt = at;
  }
  countOpen(sentBy: number, answeredAfter: number): number {
    return this.sends.filter((send) => send.sentAt <= sentBy && (send.answeredAt === null || send.answeredAt > answeredAfter)).length;
  }
}

describe("RecentSends", () => {
  it.each([1, 2, 3])("keeps, answers and counts as the plain list did (seed %i)", (seed) => {
    const random = seededRandom(seed);
    const ring = new RecentSends(150);
    const model = new ListModel();
    const inFlight: number[] = [];
    let now = 0;
    let keep = 150;
    for (let step = 0; step < 5_000; step++) {
      now += random() * 20;
      const roll = random();
      if (roll < 0.01) keep = 150 + Math.floor(random() * 300); // a larger x-ratelimit-limit: the ring grows
      else if (roll < 0.02) keep = 150; // back to the default: the oldest beyond it go at the next send
      if (random() < 0.55 || inFlight.length === 0) {
        const answered = Promise.resolve();
        const number = ring.push(now, answered, keep);
        expect(number).toBe(model.push(now, answered, keep));
        inFlight.push(number);
      } else {
        // Answers come back out of order, some long after their send has been dropped.
        const [number] = inFlight.splice(Math.floor(random() * inFlight.length), 1);
        ring.answer(number!, now);
        model.answer(number!, now);
        const windowStart = now - 400 - random() * 1_500;
        expect(ring.countOpen(now, windowStart)).toBe(model.countOpen(now, windowStart));
        // A send that went after `sentBy` is not counted.
        const earlier = now - random() * 200;
        expect(ring.countOpen(earlier, windowStart)).toBe(model.countOpen(earlier, windowStart));
      }
      expect(ring.length).toBe(model.sends.length);
      const index = Math.floor(random() * ring.length);
      const send = model.sends[index]!;
      expect(ring.answerOf(index)).toEqual(send.answeredAt === null ? { answered: send.answered } : { answeredAt: send.answeredAt });
      expect(ring.lastSentAt()).toBe(model.sends.at(-1)?.sentAt);
    }
  });

  it("counts nothing, and has no last send, when empty", () => {
    const ring = new RecentSends(3);
    expect(ring.countOpen(Infinity, -Infinity)).toBe(0);
    expect(ring.lastSentAt()).toBeUndefined();
  });
});
