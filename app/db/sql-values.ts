/** Values as the driver-level writes (decision 007) bind them, shared by the main thread and the SQLite writer thread. */

/** Prisma's better-sqlite3 adapter stores DateTime as ISO 8601 with "+00:00"; so do we. */
export function sqliteDate(date: Date | null): string | null {
  return date === null ? null : date.toISOString().replace("Z", "+00:00");
}

/** PostgreSQL columns are TIMESTAMP(3) without time zone holding UTC, as Prisma writes them. */
export function pgTimestamp(date: Date | null): string | null {
  return date === null ? null : date.toISOString().slice(0, -1);
}

/** Another connection holds SQLite's write lock. */
export function isBusy(error: unknown): boolean {
  return typeof error === "object" && error !== null && "code" in error && (error.code === "SQLITE_BUSY" || error.code === "SQLITE_LOCKED");
}
