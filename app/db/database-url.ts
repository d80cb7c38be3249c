/**
 * Which database the app talks to, from DATABASE_URL. SQLite is the embedded default;
 * a postgres:// or postgresql:// URL runs the same code on PostgreSQL.
 */
import { isAbsolute, resolve } from "node:path";

export const DEFAULT_DATABASE_URL = "file:prisma/dev.sqlite";

export type DatabaseTarget =
  | { provider: "sqlite"; url: string; file: string }
  | { provider: "postgresql"; url: string; schema: string | undefined };

export function databaseTarget(databaseUrl: string | undefined, cwd = process.cwd()): DatabaseTarget {
  const url = databaseUrl && databaseUrl.trim() !== "" ? databaseUrl.trim() : DEFAULT_DATABASE_URL;
  if (url.startsWith("file:")) {
    const path = url.slice("file:".length).replace(/^\/\/(?=\/)/, "");
    if (path === "") throw new Error(`DATABASE_URL "${url}" names no file: use file:path/to/app.sqlite`);
    return { provider: "sqlite", url, file: isAbsolute(path) ? path : resolve(cwd, path) };
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    const parsed = new URL(url);
    return { provider: "postgresql", url, schema: parsed.searchParams.get("schema") ?? undefined };
  }
  throw new Error(
    `DATABASE_URL must start with file: (SQLite) or postgresql:// (PostgreSQL); got a URL starting with "${url.split(":")[0]}:"`,
  );
}
