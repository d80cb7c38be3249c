/**
 * The production build the browser tests run against, made from a snapshot of the source so that neither
 * the repository's build/ (used by `npm run demo`, `npm start`) nor a teammate's edit in the middle of a run
 * changes what the running server serves.
 *
 * The snapshot (app/, vite.config.ts, tsconfig.json, package.json, public/) is copied to
 * <tmp>/attentive-events-browser-build/<content hash>/ with node_modules linked to the repository's, and
 * built there with `remix vite:build`. The same sources reuse the same build; a changed file gets a new one.
 *
 * BROWSER_TEST_SOURCE=<dir> builds from another checkout (e.g. `git archive HEAD` unpacked somewhere);
 * BROWSER_TEST_REBUILD=1 forces a fresh build.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");
const BUILD_ROOT = join(tmpdir(), "attentive-events-browser-build");
const TOP_LEVEL_FILES = ["vite.config.ts", "tsconfig.json", "package.json"];
const TOP_LEVEL_DIRS = ["app", "public"];
/** Generated from prisma/ by `npm install`; the same for every snapshot, and big. */
const SKIP = new Set(["app/generated"]);

function listFiles(root: string, dir: string, out: string[]): void {
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (SKIP.has(path)) continue;
    if (entry.isDirectory()) listFiles(root, path, out);
    else if (entry.isFile()) out.push(path);
  }
}

function sourceHash(source: string): string {
  const files = TOP_LEVEL_FILES.filter((file) => existsSync(join(source, file)));
  for (const dir of TOP_LEVEL_DIRS) if (existsSync(join(source, dir))) listFiles(source, dir, files);
  const hash = createHash("sha256");
  for (const file of files.sort()) {
    hash.update(`${file}\0`);
    hash.update(readFileSync(join(source, file)));
    hash.update("\0");
  }
  return hash.digest("hex").slice(0, 16);
}

function run(command: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, NODE_ENV: "production" }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} ${args.join(" ")} failed (exit ${code}):\n${output}`))));
  });
}

/** Keeps the newest few builds. */
function prune(keep: string): void {
  const builds = readdirSync(BUILD_ROOT)
    .map((name) => join(BUILD_ROOT, name))
    .filter((path) => path !== keep && existsSync(join(path, "build", "server", "index.js")))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  for (const old of builds.slice(2)) rmSync(old, { recursive: true, force: true });
}

export interface PreparedBuild {
  /** The directory to run `remix-serve build/server/index.js` in. */
  dir: string;
  reused: boolean;
  source: string;
}

/**
 * A reused build runs with this checkout's node_modules: the one it was built beside may be another clone's, since
 * deleted (two clean clones of the same sources share one build), which left every suite with "Cannot find module
 * 'tsx'". The link is replaced by a rename, so a suite starting at the same moment never sees it missing.
 */
function linkNodeModules(dir: string): void {
  const wanted = realpathSync(join(REPO_ROOT, "node_modules"));
  const link = join(dir, "node_modules");
  let current: string | null = null;
  try {
    current = realpathSync(link);
  } catch {
    // Broken: its target is gone.
  }
  if (current === wanted) return;
  const fresh = `${link}.relink-${process.pid}`;
  rmSync(fresh, { force: true });
  symlinkSync(wanted, fresh, "dir");
  renameSync(fresh, link);
}

export async function prepareBuild(): Promise<PreparedBuild> {
  const source = process.env.BROWSER_TEST_SOURCE ?? REPO_ROOT;
  const dir = join(BUILD_ROOT, sourceHash(source));
  if (process.env.BROWSER_TEST_REBUILD !== "1" && existsSync(join(dir, "build", "server", "index.js"))) {
    linkNodeModules(dir);
    return { dir, reused: true, source };
  }
  mkdirSync(BUILD_ROOT, { recursive: true });
  const staging = `${dir}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging);
  try {
    for (const file of TOP_LEVEL_FILES) if (existsSync(join(source, file))) cpSync(join(source, file), join(staging, file));
    for (const folder of TOP_LEVEL_DIRS) {
      if (!existsSync(join(source, folder))) continue;
      cpSync(join(source, folder), join(staging, folder), {
        recursive: true,
        filter: (path) => !SKIP.has(relative(source, path)),
      });
    }
    // db.server.ts finds the Prisma clients in app/generated by walking up from the server build.
    cpSync(join(REPO_ROOT, "app", "generated"), join(staging, "app", "generated"), { recursive: true });
    symlinkSync(join(REPO_ROOT, "node_modules"), join(staging, "node_modules"), "dir");
    await run(join(REPO_ROOT, "node_modules", ".bin", "remix"), ["vite:build", "--logLevel", "warn"], staging);
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(
      `Could not build the app from ${source} for the browser tests ` +
        `(BROWSER_TEST_SOURCE=<dir> builds another checkout).\n${(error as Error).message}`,
    );
  }
  prune(dir);
  return { dir, reused: false, source };
}
