/**
 * Writes to SQLite from the hot paths (webhook ingest, delivery outcomes) in groups:
 * every write asked for in one turn of the event loop goes into one transaction, so one
 * commit covers them all, and each caller's promise settles after that commit.
 *
 * The transaction runs synchronously, so it never holds the write lock while other code
 * of this process runs. The connection does not busy-wait (that would block the event
 * loop, and with it whoever holds the lock in this process): when another connection
 * holds the lock, the group is tried again a millisecond later, until a write has waited
 * `lockWaitMs`, when it is refused with SQLITE_BUSY. If one write of a group fails, the
 * others are written one by one, so only that one is refused.
 */
import type Sqlite from "better-sqlite3";

interface Pending<T, R> {
  item: T;
  since: number;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

export class SqliteGroupWriter<T, R> {
  private queue: Array<Pending<T, R>> = [];
  private scheduled = false;
  private readonly transaction: Sqlite.Transaction<(group: Array<Pending<T, R>>) => R[]>;

  constructor(
    db: Sqlite.Database,
    writeOne: (item: T) => R,
    private readonly lockWaitMs: number,
  ) {
    this.transaction = db.transaction((group: Array<Pending<T, R>>) => group.map((pending) => writeOne(pending.item)));
  }

  write(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, since: Date.now(), resolve, reject });
      this.schedule(0);
    });
  }

  /** Resolves once nothing is queued or scheduled. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.scheduled) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  private schedule(delayMs: number) {
    if (this.scheduled) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      this.flush();
    };
    if (delayMs > 0) setTimeout(run, delayMs);
    else setImmediate(run);
  }

  private flush() {
    const group = this.queue;
    if (group.length === 0) return;
    this.queue = [];
    let results: R[];
    try {
      results = this.transaction.immediate(group);
    } catch (error) {
      if (isBusy(error)) {
        this.retryLater(group, error);
        return;
      }
      if (group.length > 1) {
        for (const pending of group) this.flushOne(pending);
        return;
      }
      group[0]!.reject(error);
      return;
    }
    group.forEach((pending, i) => pending.resolve(results[i]!));
  }

  private flushOne(pending: Pending<T, R>) {
    try {
      const [result] = this.transaction.immediate([pending]);
      pending.resolve(result!);
    } catch (error) {
      if (isBusy(error)) this.retryLater([pending], error);
      else pending.reject(error);
    }
  }

  private retryLater(group: Array<Pending<T, R>>, error: unknown) {
    const now = Date.now();
    const waiting = group.filter((pending) => {
      if (now - pending.since < this.lockWaitMs) return true;
      pending.reject(error);
      return false;
    });
    this.queue = [...waiting, ...this.queue];
    if (this.queue.length > 0) this.schedule(1);
  }
}

export function isBusy(error: unknown): boolean {
  return typeof error === "object" && error !== null && "code" in error && (error.code === "SQLITE_BUSY" || error.code === "SQLITE_LOCKED");
}

/** Prisma's better-sqlite3 adapter stores DateTime as ISO 8601 with "+00:00"; so do we. */
export function sqliteDate(date: Date | null): string | null {
  return date === null ? null : date.toISOString().replace("Z", "+00:00");
}

/** PostgreSQL columns are TIMESTAMP(3) without time zone holding UTC, as Prisma writes them. */
export function pgTimestamp(date: Date | null): string | null {
  return date === null ? null : date.toISOString().slice(0, -1);
}
