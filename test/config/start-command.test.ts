/**
 * `npm start` and the command the demo, the bench and the test harnesses start the production server with
 * (app/cli/serve-command.ts) run it with the same V8 heap flags, so what is measured is what ships.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI_NODE_FLAGS, cliCommand, DEFAULT_HEAP_MB, heapFlags, productionServerCommand } from "~/cli/serve-command";

const scripts = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { scripts: { start: string; cli: string } }).scripts;
const startScript = scripts.start;

/** The start script's words as sh would expand them with `env`, for the `${NAME:-default}` forms it uses. */
function expanded(env: Record<string, string>): string[] {
  return startScript.replace(/\$\{(\w+):-([^}]*)\}/g, (_, name: string, fallback: string) => env[name] || fallback).split(/\s+/);
}

describe("the production server's command", () => {
  it("passes npm start's heap flags, with and without APP_HEAP_MB", () => {
    for (const env of [{}, { APP_HEAP_MB: "512" }] as Array<Record<string, string>>) {
      const words = expanded(env);
      expect(words[0]).toBe("node");
      const flags = words.slice(1, words.indexOf("--import"));
      expect(flags).toEqual(heapFlags(env));
      expect(productionServerCommand(process.cwd(), "build/server/index.js", env).args.slice(0, flags.length)).toEqual(flags);
    }
    expect(heapFlags({})).toContain(`--max-old-space-size=${DEFAULT_HEAP_MB}`);
  });

  it("runs npm run cli (and so the standalone worker) with the flags the bench and the tests start it with", () => {
    const words = scripts.cli.split(/\s+/);
    expect(words[0]).toBe("node");
    expect(words.slice(1, words.indexOf("--import"))).toEqual(CLI_NODE_FLAGS);
    expect(words.slice(words.indexOf("--import") + 1)).toEqual(["tsx", "app/cli/main.ts"]);
    const command = cliCommand(process.cwd(), ["worker"]);
    expect(command.args.slice(0, CLI_NODE_FLAGS.length)).toEqual(CLI_NODE_FLAGS);
    expect(command.args.slice(-2)).toEqual([join(process.cwd(), "app", "cli", "main.ts"), "worker"]);
    expect(CLI_NODE_FLAGS).toContain("--single-threaded-gc");
    expect(CLI_NODE_FLAGS).toContain("--max-semi-space-size=32");
  });

  it("refuses an APP_HEAP_MB that is not a size it can run in, saying what to set", () => {
    for (const value of ["abc", "12", "1.5"]) {
      expect(() => heapFlags({ APP_HEAP_MB: value })).toThrow(/APP_HEAP_MB must be a whole number of megabytes, at least 64/);
    }
  });
});
