import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * How `npm start` runs the production server (app/serve.ts), as one Node process (not
 * through npm or tsx's CLI, so that a signal sent to it reaches the server itself).
 */
export function productionServerCommand(root: string, buildEntry: string): { command: string; args: string[] } {
  const tsxLoader = createRequire(join(root, "package.json")).resolve("tsx");
  return { command: process.execPath, args: ["--import", pathToFileURL(tsxLoader).href, join(root, "app", "serve.ts"), buildEntry] };
}
