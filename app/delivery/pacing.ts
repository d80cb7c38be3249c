import { performance } from "node:perf_hooks";
import { setTimeout as sleepFor } from "node:timers/promises";

/** Attentive counts requests per key over one second. */
export const WINDOW_MS = 1_000;
/** How far behind its even spacing a shop may catch up at once (the window rule still holds). */
const CATCH_UP_MS = 50;
/** Added to the window for clock granularity on either side. */
export const WINDOW_GUARD_MS = 10;
/** A 429 cuts the shop's share of the key by this factor (to no less than MIN_SHARE)... */
const RATE_LIMITED_CUT = 0.7;
const MIN_SHARE = 0.1;
/** ...and it grows back by this much per second: from the minimum to all of it in under 2 s. */
const SHARE_RECOVERY_PER_SECOND = 0.5;

/**
 * A shop's recent sends, oldest first, at most `capacity` of them: when each went, when its answer came back (NaN
 * while in flight) and the promise that settles then. Each answer's accounting (`learn`) reads every entry, so the
 * times sit in two typed arrays used as a ring: a pass over 150 sends reads 2.4 KB in order, where an array of
 * objects had it chase a pointer per send across the heap, and dropping the oldest send moves nothing.
 */
export class RecentSends {
  private sentAt: Float64Array;
  private answeredAt: Float64Array;
  private answered: Array<Promise<void> | undefined>;
  /** Where the oldest send is, how many are kept, and the number of the oldest (sends are numbered from 0). */
  private start = 0;
  private kept = 0;
  private firstNumber = 0;

  /** How many sends are kept. */
  get length(): number {
    return this.kept;
  }

  constructor(private capacity: number) {
    this.sentAt = new Float64Array(capacity);
    this.answeredAt = new Float64Array(capacity);
    this.answered = new Array<Promise<void> | undefined>(capacity).fill(undefined);
  }

  /** Adds a send in flight, dropping the oldest beyond `keep`; returns its number, for `answer`. */
  push(sentAt: number, answered: Promise<void>, keep: number): number {
    if (keep > this.capacity) this.resize(keep);
    while (this.kept >= keep) this.dropOldest();
    const at = this.slot(this.kept);
    this.sentAt[at] = sentAt;
    this.answeredAt[at] = NaN;
    this.answered[at] = answered;
    this.kept++;
    return this.firstNumber + this.kept - 1;
  }

  /** Records when send `number` was answered, if it is still kept. */
  answer(number: number, answeredAt: number): void {
    const index = number - this.firstNumber;
    if (index < 0 || index >= this.kept) return;
    const at = this.slot(index);
    this.answeredAt[at] = answeredAt;
    this.answered[at] = undefined;
  }

  /** Send `index` (0 = oldest): when it was answered or, while it is in flight, the promise of its answer. */
  answerOf(index: number): { answeredAt: number } | { answered: Promise<void> } {
    const at = this.slot(index);
    const answered = this.answered[at];
    return answered === undefined ? { answeredAt: this.answeredAt[at]! } : { answered };
  }

  lastSentAt(): number | undefined {
    return this.kept === 0 ? undefined : this.sentAt[this.slot(this.kept - 1)];
  }

  /** How many kept sends went at or before `sentBy` and were in flight or answered after `answeredAfter`. */
  countOpen(sentBy: number, answeredAfter: number): number {
    let count = 0;
    const end = this.start + this.kept;
    // The ring in at most two runs of the arrays, without a modulo per entry. NaN (in flight) fails `<=`.
    for (let run = 0, from = this.start, to = Math.min(end, this.capacity); run < 2; run++, from = 0, to = end - this.capacity) {
      for (let at = from; at < to; at++) {
        if (this.sentAt[at]! <= sentBy && !(this.answeredAt[at]! <= answeredAfter)) count++;
      }
    }
    return count;
  }

  private slot(index: number): number {
    const at = this.start + index;
    return at < this.capacity ? at : at - this.capacity;
  }

  private dropOldest() {
    this.answered[this.start] = undefined;
    this.start = this.slot(1);
    this.kept--;
    this.firstNumber++;
  }

  /** Larger arrays, the kept sends moved to their start in order. */
  private resize(capacity: number) {
    const sentAt = new Float64Array(capacity);
    const answeredAt = new Float64Array(capacity);
    const answered = new Array<Promise<void> | undefined>(capacity).fill(undefined);
    for (let index = 0; index < this.kept; index++) {
      const at = this.slot(index);
      sentAt[index] = this.sentAt[at]!;
      answeredAt[index] = this.answeredAt[at]!;
      answered[index] = this.answered[at];
    }
    this.sentAt = sentAt;
    this.answeredAt = answeredAt;
    this.answered = answered;
    this.start = 0;
    this.capacity = capacity;
  }
}

interface ShopPace {
  /** Settles when the previous send of this shop has taken its turn. */
  gate: Promise<void>;
  /** This shop's recent sends, oldest first, at most `limit` of them. */
  recent: RecentSends;
  /** When the next send is planned to go, by even spacing (monotonic ms). */
  nextSlot: number;
  limit: number | undefined;
  /** Share of the limit aimed for (1 = all of it) right after the last 429, and when that was. */
  shareAtCut: number;
  cutAt: number;
  /** Requests per window other clients of the same key were last seen to use, and when. */
  foreign: number;
  foreignAt: number;
  waiting: number;
  /** Settles when the previous background send of this shop has taken its turn. */
  backgroundGate: Promise<void>;
}

type Plan = { kind: "go"; slot: number } | { kind: "answer"; answered: Promise<void> } | { kind: "sleep"; ms: number };

/** The share of each window a background send leaves to live ones (30 of Attentive's 150 per second). */
export const BACKGROUND_RESERVE = 0.2;

export interface RateLimitAnswer {
  limit?: number;
  remaining?: number;
  rateLimited?: boolean;
}

/**
 * The most requests per second an `x-ratelimit-limit` is believed up to (Attentive documents
 * 150 per key). The bookkeeping keeps one entry per request of the window and scans it on
 * every answer, so a header of 1,000,000,000 would make each shop's memory and every answer's
 * cost grow with each send; above this a limit is treated as this.
 */
export const MAX_RATE_LIMIT = 1_000;

/** A limit as a whole number in 1..MAX_RATE_LIMIT, or undefined for anything that is not one. */
export function saneLimit(value: number | undefined): number | undefined {
  if (value === undefined || !Number.isFinite(value) || value < 1) return undefined;
  return Math.min(MAX_RATE_LIMIT, Math.floor(value));
}

/** Shops kept before idle ones are forgotten, and how long idle means. */
const MAX_IDLE_SHOPS = 1_000;
const FORGET_AFTER_MS = 60_000;

/**
 * Keeps each shop's sends inside Attentive's per-key limit (150 requests per second),
 * without waiting to be told by a 429.
 *
 * Attentive stamps a request somewhere between when it was sent and when its answer
 * came back. So if a send waits until one window after the *answer* of the send
 * `limit` places before it, no window of Attentive's can ever hold more than `limit` of
 * this shop's requests, however late or bunched the requests arrive there; with a few
 * milliseconds of latency that still runs at about 99% of the limit. Sends are also
 * spread evenly (one per 1/limit of a second) rather than let go in bursts.
 *
 * What Attentive's answers say adapts this: `x-ratelimit-limit` sets the limit, and when
 * `x-ratelimit-remaining` shows fewer requests left than this shop's own sends explain,
 * another client shares the key and its share is left free (for as long as it is seen).
 * A 429 (something else again) lowers the shop's share, which grows back within seconds.
 */
export class Pacing {
  private readonly shops = new Map<string, ShopPace>();
  private readonly defaultLimit: number;
  constructor(
    defaultLimit: number,
    private readonly clock: () => number = () => performance.now(),
    private readonly sleep: (ms: number) => Promise<unknown> = sleepFor,
  ) {
    this.defaultLimit = saneLimit(defaultLimit) ?? 150;
  }

  /**
   * Resolves when this shop's next send may go, with the function to call once its
   * answer (or failure) is in.
   *
   * A `background` send (a history backfill's, docs/decisions/016) takes only what live
   * sends leave: it never counts on the last BACKGROUND_RESERVE of the budget, it joins the
   * shop's turn one at a time, and it never waits while holding the turn (it steps out and
   * comes back), so a live send waits behind at most one background send's slot.
   */
  async take(shop: string, options: { background?: boolean } = {}): Promise<(answer?: RateLimitAnswer) => void> {
    if (this.shops.size > MAX_IDLE_SHOPS) this.forgetIdle();
    const pace = this.pace(shop);
    if (!options.background) return this.liveTurn(pace);
    const previous = pace.backgroundGate;
    let release!: () => void;
    pace.backgroundGate = new Promise<void>((resolve) => (release = resolve));
    try {
      await previous;
      return await this.backgroundTurn(pace);
    } finally {
      release();
    }
  }

  private async liveTurn(pace: ShopPace): Promise<(answer?: RateLimitAnswer) => void> {
    pace.waiting++;
    const previous = pace.gate;
    let release!: () => void;
    pace.gate = new Promise<void>((resolve) => (release = resolve));
    try {
      await previous;
      for (;;) {
        const plan = this.plan(pace, this.budgetOf(pace));
        if (plan.kind === "go") return this.record(pace, plan.slot, this.budgetOf(pace));
        if (plan.kind === "answer") await plan.answered;
        else await this.sleep(plan.ms);
      }
    } finally {
      pace.waiting--;
      release();
    }
  }

  private async backgroundTurn(pace: ShopPace): Promise<(answer?: RateLimitAnswer) => void> {
    pace.waiting++;
    try {
      for (;;) {
        const previous = pace.gate;
        let release!: () => void;
        pace.gate = new Promise<void>((resolve) => (release = resolve));
        let plan: Plan;
        try {
          await previous;
          const budget = this.backgroundBudgetOf(pace);
          plan = this.plan(pace, budget);
          if (plan.kind === "go") return this.record(pace, plan.slot, budget);
        } finally {
          release();
        }
        // Wait outside the turn: a live send that comes meanwhile goes first.
        if (plan.kind === "answer") await plan.answered;
        else await this.sleep(plan.ms);
      }
    } finally {
      pace.waiting--;
    }
  }

  /**
   * When a send may go under `budget` requests per window: now (at `slot`), after an
   * unanswered send is answered, or after `ms`.
   */
  private plan(pace: ShopPace, budget: number): Plan {
    const interval = WINDOW_MS / budget;
    // Even spacing by planned slots: a pause of the event loop (a claim, a timer that
    // fires late) is made up afterwards instead of pushing every later send back, by
    // at most CATCH_UP_MS worth of sends, so a shop that was quiet does not burst.
    let slot = Math.max(pace.nextSlot, this.clock() - Math.max(interval, CATCH_UP_MS));
    if (pace.recent.length >= budget) {
      const bound = pace.recent.answerOf(pace.recent.length - budget);
      if ("answered" in bound) return { kind: "answer", answered: bound.answered };
      slot = Math.max(slot, bound.answeredAt + WINDOW_MS + WINDOW_GUARD_MS);
    }
    const wait = slot - this.clock();
    return wait <= 0 ? { kind: "go", slot } : { kind: "sleep", ms: wait };
  }

  private record(pace: ShopPace, slot: number, budget: number): (answer?: RateLimitAnswer) => void {
    pace.nextSlot = slot + WINDOW_MS / budget;
    let settle!: () => void;
    const sentAt = this.clock();
    const keep = Math.max(pace.limit ?? this.defaultLimit, this.defaultLimit);
    const number = pace.recent.push(sentAt, new Promise<void>((resolve) => (settle = resolve)), keep);
    let answered = false;
    return (answer) => {
      if (answered) return;
      answered = true;
      const answeredAt = this.clock();
      pace.recent.answer(number, answeredAt);
      settle();
      if (answer) this.learn(pace, sentAt, answeredAt, answer);
    };
  }

  /** What a background send may count on: the budget less what is kept for live sends. */
  private backgroundBudgetOf(pace: ShopPace): number {
    const budget = this.budgetOf(pace);
    return Math.max(1, budget - Math.max(1, Math.ceil(budget * BACKGROUND_RESERVE)));
  }

  /** About how long this shop's pace takes to let `sends` more go (ms). */
  timeFor(shop: string, sends: number): number {
    return (sends * WINDOW_MS) / this.budget(shop);
  }

  /** How many of this shop's sends are remembered (bounded by the limit, at most MAX_RATE_LIMIT). */
  tracked(shop: string): number {
    return this.shops.get(shop)?.recent.length ?? 0;
  }

  /** Requests per window this shop may send now. */
  budget(shop: string): number {
    return this.budgetOf(this.pace(shop));
  }

  private budgetOf(pace: ShopPace): number {
    const limit = pace.limit ?? this.defaultLimit;
    const now = this.clock();
    return Math.max(1, Math.floor(Math.max(1, limit - this.foreignOf(pace, now)) * this.shareOf(pace, now)));
  }

  private shareOf(pace: ShopPace, now: number): number {
    return Math.min(1, pace.shareAtCut + ((now - pace.cutAt) / 1_000) * SHARE_RECOVERY_PER_SECOND);
  }

  /** What another client was seen using expires a window after it was last seen. */
  private foreignOf(pace: ShopPace, now: number): number {
    return now - pace.foreignAt <= WINDOW_MS ? pace.foreign : 0;
  }

  private learn(pace: ShopPace, sentAt: number, answeredAt: number, answer: RateLimitAnswer) {
    const limit = saneLimit(answer.limit);
    if (limit !== undefined) pace.limit = limit;
    const current = pace.limit ?? this.defaultLimit;
    const now = this.clock();
    if (answer.rateLimited) {
      pace.shareAtCut = Math.max(MIN_SHARE, this.shareOf(pace, now) * RATE_LIMITED_CUT);
      pace.cutAt = now;
      return;
    }
    if (answer.remaining === undefined) return;
    // Attentive stamped this request at or before its answer: any of this shop's
    // requests it still counted then was answered after the window before this one was
    // sent (or is in flight), and was sent before this answer came back.
    const own = pace.recent.countOpen(answeredAt, sentAt - WINDOW_MS - WINDOW_GUARD_MS);
    const seenForeign = Math.max(0, current - answer.remaining - own);
    // A larger share is taken in at once; a smaller one replaces it after half a window.
    if (seenForeign >= this.foreignOf(pace, now) || now - pace.foreignAt > WINDOW_MS / 2) {
      pace.foreign = seenForeign;
      pace.foreignAt = now;
    }
  }

  private pace(shop: string): ShopPace {
    let pace = this.shops.get(shop);
    if (!pace) {
      pace = { gate: Promise.resolve(), recent: new RecentSends(this.defaultLimit), nextSlot: -Infinity, limit: undefined, shareAtCut: 1, cutAt: -Infinity, foreign: 0, foreignAt: -Infinity, waiting: 0, backgroundGate: Promise.resolve() };
      this.shops.set(shop, pace);
    }
    return pace;
  }

  /** Drops shops with nothing waiting whose last send is long past (their pace starts afresh). */
  private forgetIdle() {
    const now = this.clock();
    for (const [shop, pace] of this.shops) {
      const last = pace.recent.lastSentAt();
      if (pace.waiting === 0 && (last === undefined || now - last > FORGET_AFTER_MS)) this.shops.delete(shop);
    }
  }
}
