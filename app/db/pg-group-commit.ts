/**
 * Group commit for the driver-level PostgreSQL writes (decisions 026 and 028): items that arrive while earlier ones
 * are being written go together in one statement, and so in one commit. With nothing in flight an item goes alone
 * after the turn it arrived in (so that the turn's other items join it); under load the groups grow by themselves.
 * Items may also wait up to `gatherMs` for others (decisions 051 and 052), and up to `gatherCount` of them.
 *
 * - At most `maxInFlight` statements run at once, each with at most `maxGroup` items.
 * - Items with the same key are written in the order given: never in one statement, never in two at once. So two
 *   statements never wait on each other's rows through that key (no deadlock between groups).
 * - When a statement fails because of what is in its rows (`failedOnItsRows`), each of its items is written again
 *   alone: only the ones that fail alone are refused. When it fails because the database is slow or gone (a timeout,
 *   a lost connection, a server shutting down), every item is refused at once: written alone, each would wait for the
 *   same failure again, and a webhook's prompt 503 would come after Shopify has stopped waiting (decision 028).
 */
export interface GroupCommitOptions<I, R> {
  /** Writes the items in one statement; answers one result per item, in their order. */
  write(items: readonly I[]): Promise<R[]>;
  keyOf(item: I): string;
  maxGroup: number;
  maxInFlight: number;
  /**
   * How long the oldest queued item may wait for others to share its statement (decision 051): the queue is sent
   * when it has waited that long or holds `maxGroup` items, whichever comes first, and at once on `drain()`. 0 (the
   * default) sends after the turn an item arrived in.
   */
  gatherMs?: number;
  /**
   * With gatherMs: the queue goes at once when it holds this many items (`maxGroup` by default). Senders that wait
   * for each answer before they send again (Shopify to one app, a load test's connections) have no more to send
   * while theirs wait: waiting out the time would only idle the database (decision 041 found it so on SQLite).
   */
  gatherCount?: number;
  /** The clock `gatherMs` is measured on (tests). */
  now?: () => number;
}

/** SQLSTATE classes that name something in the rows: data exceptions, constraint violations, transaction rollbacks
 * (serialization failures, deadlocks), program limits (an index row too large). Written alone, the other items pass. */
const ROW_ERROR_CLASSES = new Set(["22", "23", "40", "54"]);

/** A group's write answered a different number of results than it was given items. */
class GroupAnswerMismatch extends Error {}

/**
 * Whether a failed group statement failed because of what is in its rows, so that writing each item alone can tell
 * the good from the bad. Anything else (a timeout from the driver, a lost or refused connection, an administrator's
 * shutdown, a statement the server could not run at all) would fail alone in the same way.
 */
export function failedOnItsRows(error: unknown): boolean {
  if (error instanceof GroupAnswerMismatch) return true;
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) && ROW_ERROR_CLASSES.has(code.slice(0, 2));
}

interface Queued<I, R> {
  item: I;
  key: string;
  /** When it was submitted, on the options' clock. */
  since: number;
  resolve(result: R): void;
  reject(error: unknown): void;
}

export class PgGroupCommit<I, R> {
  private queue: Queued<I, R>[] = [];
  private inFlight = 0;
  /** The keys of the items in the statements in flight. */
  private readonly writing = new Set<string>();
  private scheduled = false;
  /** The gather's timer, while the queue waits for more items (gatherMs). */
  private gatherTimer: ReturnType<typeof setTimeout> | null = null;
  /** Set by drain(): what is queued goes without waiting for others. */
  private draining = false;
  private idle: Array<() => void> = [];
  private readonly now: () => number;

  constructor(private readonly options: GroupCommitOptions<I, R>) {
    this.now = options.now ?? Date.now;
  }

  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, key: this.options.keyOf(item), since: this.now(), resolve, reject });
      this.pump();
    });
  }

  /** Settles once every item submitted so far has been written or refused; what waits for others is sent now. */
  drain(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    this.draining = true;
    this.pump();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Sends what is queued after this turn, or once it has gathered; `now` skips the gathering. */
  private pump(now = false) {
    if (this.scheduled || this.queue.length === 0 || this.inFlight >= this.options.maxInFlight) return;
    const wait = now ? 0 : this.gatherWait();
    if (wait > 0) {
      this.gatherTimer ??= setTimeout(() => {
        this.gatherTimer = null;
        this.pump();
      }, wait);
      return;
    }
    if (this.gatherTimer !== null) {
      clearTimeout(this.gatherTimer);
      this.gatherTimer = null;
    }
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.send();
    });
  }

  /** How much longer the queue waits for more items before it is sent: 0 when it goes now. */
  private gatherWait(): number {
    const gatherMs = this.options.gatherMs ?? 0;
    const enough = Math.min(this.options.gatherCount ?? this.options.maxGroup, this.options.maxGroup);
    if (gatherMs <= 0 || this.draining || this.queue.length >= enough) return 0;
    return Math.max(0, this.queue[0]!.since + gatherMs - this.now());
  }

  private send() {
    if (this.inFlight >= this.options.maxInFlight) return;
    const group = this.takeGroup();
    if (group.length === 0) return;
    this.inFlight++;
    // What did not fit in a full group may go in another slot at once: it has waited as long as this group did.
    this.pump(group.length === this.options.maxGroup);
    void this.writeGroup(group).finally(() => {
      this.inFlight--;
      for (const queued of group) this.writing.delete(queued.key);
      if (this.queue.length > 0) this.pump();
      else if (this.inFlight === 0) {
        this.draining = false;
        for (const resolve of this.idle.splice(0)) resolve();
      }
    });
  }

  private takeGroup(): Queued<I, R>[] {
    const group: Queued<I, R>[] = [];
    const rest: Queued<I, R>[] = [];
    for (const queued of this.queue) {
      if (group.length < this.options.maxGroup && !this.writing.has(queued.key)) {
        this.writing.add(queued.key);
        group.push(queued);
      } else {
        rest.push(queued);
      }
    }
    this.queue = rest;
    return group;
  }

  private async writeGroup(group: Queued<I, R>[]): Promise<void> {
    let results: R[];
    try {
      results = await this.options.write(group.map((queued) => queued.item));
      if (results.length !== group.length) throw new GroupAnswerMismatch(`A group write answered ${results.length} results for ${group.length} items`);
    } catch (error) {
      if (group.length === 1 || !failedOnItsRows(error)) {
        for (const queued of group) queued.reject(error);
        return;
      }
      await Promise.all(group.map((queued) => this.writeGroup([queued])));
      return;
    }
    group.forEach((queued, index) => queued.resolve(results[index]!));
  }
}
