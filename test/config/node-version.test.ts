/**
 * Node older than 22 (package.json `engines`) stops `npm start` and the test suites at once with
 * one line saying what to do, instead of running and failing later (on Node 20, one JSON test
 * failed with a diff that did not say why). Checked with the machine's own older Node when it has one.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { nodeVersionProblem } from "~/node-version";

const root = fileURLToPath(new URL("../../", import.meta.url));

/** The machine's Node before `. .ci/node22.sh` puts 22 first on PATH, if it is older than 22. */
function olderNode(): string | null {
  for (const candidate of ["/usr/bin/node", "/usr/local/bin/node", "/bin/node"]) {
    const probe = spawnSync(candidate, ["-p", "process.versions.node"], { encoding: "utf8" });
    if (probe.status === 0 && Number(probe.stdout.split(".")[0]) < 22) return candidate;
  }
  return null;
}

const oldNode = olderNode();
const MESSAGE = /^This app needs Node 22 or newer, not Node \d+\.\d+\.\d+: run `\. \.ci\/node22\.sh` \(puts Node 22 on PATH\) or install Node 22\.\n$/;

function runWith(node: string, args: string[]) {
  // A clean environment: not this run's vitest variables, nor Node 22 first on PATH.
  return spawnSync(node, args, { cwd: root, encoding: "utf8", env: { NODE_ENV: "test", PATH: "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp" }, timeout: 60_000 });
}

describe("the Node version guard", () => {
  it("refuses what is older than 22 in one line, and lets 22 and later through", () => {
    expect(nodeVersionProblem("20.20.2")).toBe(
      "This app needs Node 22 or newer, not Node 20.20.2: run `. .ci/node22.sh` (puts Node 22 on PATH) or install Node 22.",
    );
    expect(`${nodeVersionProblem("18.0.0")}\n`).toMatch(MESSAGE);
    expect(nodeVersionProblem("21.99.0")).not.toBeNull();
    expect(nodeVersionProblem("22.0.0")).toBeNull();
    expect(nodeVersionProblem("24.1.0")).toBeNull();
  });

  it.skipIf(!oldNode)("stops `npm start` (app/serve.ts) on the machine's older Node before it loads anything", () => {
    const run = runWith(oldNode!, ["--import", "tsx", "app/serve.ts", "build/server/index.js"]);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(MESSAGE);
    expect(run.stdout).toBe("");
  });

  it.skipIf(!oldNode)("stops `npm test` on the machine's older Node before any test runs", () => {
    const run = runWith(oldNode!, ["node_modules/vitest/vitest.mjs", "run", "test/webhooks/route-topics.test.ts"]);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(MESSAGE);
    expect(`${run.stdout}${run.stderr}`).not.toMatch(/Test Files|passed|failed/);
  });
});
