/**
 * The writes the SQLite writer runs, by kind, and how it runs a group of them: one transaction, or, when one
 * item fails, each item on its own so that only that one is refused. Loaded by the writer thread
 * (sqlite-writer-thread.ts) and, with SQLITE_WRITER=main, on the main thread; it imports only the SQL modules,
 * not the rest of the app (decision 021).
 */
import type Sqlite from "better-sqlite3";
import { prepareSqliteClaim, type ClaimedDelivery, type ClaimRequest } from "~/delivery/claim-sql";
import { prepareSqliteOutcome, type OutcomeWrite } from "~/delivery/outcome-sql";
import { prepareSqliteIngest, type IngestResult, type IngestRow } from "~/webhooks/ingest-sql";
import { isBusy } from "./sql-values";

export interface SqliteWriteKinds {
  ingest: { item: IngestRow; result: IngestResult };
  outcome: { item: OutcomeWrite; result: boolean };
  claim: { item: ClaimRequest; result: ClaimedDelivery[] };
  /** Tests only: holds the transaction until `signal[0]` is set to 2 (it sets it to 1 once inside). */
  "test:hold": { item: { signal: SharedArrayBuffer }; result: null };
  /** Tests only: ends the thread in the middle of the transaction. */
  "test:exit": { item: null; result: null };
  /** Tests only: the connection's durability settings. */
  "test:pragmas": { item: null; result: { synchronous: unknown; journalMode: unknown; busyTimeout: unknown; walAutocheckpoint: unknown } };
  /** Tests only: stops the checkpointer thread, as a crash would (decision 032). */
  "test:end-checkpointer": { item: null; result: null };
}
export type SqliteWriteKind = keyof SqliteWriteKinds;

export interface GroupItem {
  kind: SqliteWriteKind;
  item: unknown;
}

export type ItemOutcome<E = unknown> = { ok: true; value: unknown } | { ok: false; busy: boolean; error: E };

type Prepare = (db: Sqlite.Database) => (item: never) => unknown;

const PREPARE: { [K in "ingest" | "outcome" | "claim"]: Prepare } = {
  ingest: prepareSqliteIngest,
  outcome: prepareSqliteOutcome,
  claim: prepareSqliteClaim,
};

function hold({ signal }: { signal: SharedArrayBuffer }): null {
  const state = new Int32Array(signal);
  Atomics.store(state, 0, 1);
  Atomics.notify(state, 0);
  // Short waits, so that terminating the thread is not held up by the wait.
  while (Atomics.load(state, 0) === 1) Atomics.wait(state, 0, 1, 10);
  return null;
}

/**
 * The group runner for `db`: one group, one transaction (BEGIN IMMEDIATE, so a held lock fails at once rather than
 * mid-way). When another connection holds the lock, every item is reported busy; when an item fails otherwise,
 * each is retried in its own transaction, so only the failing ones are refused. Each kind's statements are
 * prepared on first use.
 */
export function groupRunner(db: Sqlite.Database, testHooks: boolean, testActions: { endCheckpointer?: () => void } = {}): (group: readonly GroupItem[]) => ItemOutcome[] {
  const prepared = new Map<SqliteWriteKind, (item: never) => unknown>();
  const run = ({ kind, item }: GroupItem): unknown => {
    if (kind.startsWith("test:")) {
      if (!testHooks) throw new Error(`The SQLite write "${kind}" exists only for tests.`);
      if (kind === "test:exit") process.exit(1);
      if (kind === "test:pragmas") {
        const read = (name: string): unknown => db.pragma(name, { simple: true });
        return { synchronous: read("synchronous"), journalMode: read("journal_mode"), busyTimeout: read("busy_timeout"), walAutocheckpoint: read("wal_autocheckpoint") };
      }
      if (kind === "test:end-checkpointer") {
        testActions.endCheckpointer?.();
        return null;
      }
      return hold(item as { signal: SharedArrayBuffer });
    }
    const known = kind as keyof typeof PREPARE;
    let write = prepared.get(known);
    if (!write) {
      write = PREPARE[known](db);
      prepared.set(known, write);
    }
    return write(item as never);
  };
  const transaction = db.transaction((items: readonly GroupItem[]) => items.map(run));
  return (group) => {
    try {
      return transaction.immediate(group).map((value) => ({ ok: true, value }));
    } catch (error) {
      if (isBusy(error)) return group.map(() => ({ ok: false, busy: true, error }));
      if (group.length === 1) return [{ ok: false, busy: false, error }];
    }
    return group.map((entry) => {
      try {
        const [value] = transaction.immediate([entry]);
        return { ok: true, value };
      } catch (error) {
        return { ok: false, busy: isBusy(error), error };
      }
    });
  };
}
