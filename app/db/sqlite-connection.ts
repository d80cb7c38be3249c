/**
 * How every driver-level SQLite connection is opened: the main thread's (driver.server.ts) and the writer
 * thread's (sqlite-writer-thread.ts) share it, so both have the same pragmas and durability. `synchronous` is left
 * at better-sqlite3's default (FULL), so a commit is on disk before it is reported.
 */
import Sqlite from "better-sqlite3";

export function openSqliteConnection(file: string): Sqlite.Database {
  // No busy wait on this connection: the SQLite writer retries a write refused for the lock a millisecond later.
  const db = new Sqlite(file, { timeout: 0 });
  db.pragma("journal_mode = WAL");
  return db;
}
