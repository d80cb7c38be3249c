/**
 * How every driver-level SQLite connection is opened: the main thread's (driver.server.ts), the writer thread's
 * (sqlite-writer-thread.ts) and the checkpointer's (decision 032) share it, so all have the same pragmas and
 * durability. `synchronous` is left as better-sqlite3's build sets it: NORMAL on a file already in WAL mode, so a
 * commit is in the WAL file (safe against a crash of the process) before it is reported, and the WAL reaches the
 * disk (fsync) at each checkpoint (decision 021, Consequences).
 */
import Sqlite from "better-sqlite3";

export function openSqliteConnection(file: string): Sqlite.Database {
  // No busy wait on this connection: the SQLite writer retries a write refused for the lock a millisecond later.
  const db = new Sqlite(file, { timeout: 0 });
  db.pragma("journal_mode = WAL");
  return db;
}
