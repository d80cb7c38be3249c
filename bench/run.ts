/**
 * `npm run bench [-- --quick] [-- --only ingest,render]`: builds the app as the demo does, runs every scenario
 * against the production build and the local Attentive stand-in on loopback, writes
 * bench/results/<date>.json and prints the table of goals (markdown) on stdout. Progress goes to stderr.
 */
import { BENCH_BUILD_DIRECTORY } from "./lib/paths";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { BIN, ROOT, RUN_ID, SCRATCH, log, run } from "./lib/common";
import { markdownTable, type ScenarioContext } from "./lib/report";
import { adminVitalsScenario } from "./scenarios/admin-vitals";
import { backfillScenario } from "./scenarios/backfill";
import { deliveryScenario } from "./scenarios/delivery";
import { endToEndScenario } from "./scenarios/end-to-end";
import { growthScenario } from "./scenarios/growth";
import { inlinePeerScenario } from "./scenarios/inline-peer";
import { ingestScenario } from "./scenarios/ingest";
import { pgCostScenario } from "./scenarios/pg-cost";
import { renderScenario } from "./scenarios/render";
import { scaleOutScenario } from "./scenarios/scale-out";
import { checkChromium } from "../test/browser/harness-core";

const SCENARIOS = ["ingest", "inline", "e2e", "delivery", "render", "growth", "scaleout", "backfill", "admin", "pg-cost"] as const;
type ScenarioName = (typeof SCENARIOS)[number];

async function main() {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      "skip-build": { type: "boolean", default: false },
      "no-postgres": { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
      profile: { type: "boolean", default: false },
    },
  });
  const only = values.only ? values.only.split(",").map((name) => name.trim()) : [...SCENARIOS];
  const unknown = only.filter((name) => !(SCENARIOS as readonly string[]).includes(name));
  if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(", ")}; known: ${SCENARIOS.join(", ")}`);
  const selected = (name: ScenarioName) => only.includes(name);
  // Found out now, not after the other scenarios' quarter of an hour.
  if (selected("admin")) {
    try {
      checkChromium();
    } catch (error) {
      throw new Error(`${(error as Error).message} Or leave the admin scenario out: --only ${SCENARIOS.filter((name) => name !== "admin").join(",")}.`);
    }
  }
  const quick = values.quick;
  const providers = values["no-postgres"] ? (["sqlite"] as const) : (["sqlite", "postgresql"] as const);
  if (values.profile) {
    process.env.BENCH_PROFILE_DIR = join(ROOT, "bench", "results", "profiles", RUN_ID);
    mkdirSync(process.env.BENCH_PROFILE_DIR, { recursive: true });
    log(`CPU profiles of the app and worker processes go to ${process.env.BENCH_PROFILE_DIR}`);
  }
  const started = Date.now();
  const ctx: ScenarioContext = { quick, durationS: quick ? 2 : 10, goals: [], raw: {} };
  const failures: string[] = [];

  if (!values["skip-build"]) {
    log("building the app (remix vite:build, as the demo does, into the benchmark's own directory)");
    await run(join(BIN, "remix"), ["vite:build", "--logLevel", "warn"], { ...process.env, NODE_ENV: "production", REMIX_BUILD_DIRECTORY: BENCH_BUILD_DIRECTORY }, "the build");
  }

  const scenarios: Array<[ScenarioName, () => Promise<void>]> = [
    ["render", () => renderScenario(ctx)],
    // --quick: ingest on SQLite only (PostgreSQL is exercised by growth's queries and scale-out).
    ["ingest", () => ingestScenario(ctx, quick ? ["sqlite"] : [...providers])],
    ["inline", () => inlinePeerScenario(ctx)],
    ["e2e", () => endToEndScenario(ctx)],
    // --quick: delivery on SQLite only, like ingest.
    ["delivery", () => deliveryScenario(ctx, quick ? ["sqlite"] : [...providers])],
    ["growth", () => growthScenario(ctx, [...providers])],
    ["scaleout", () => scaleOutScenario(ctx, !values["no-postgres"])],
    ["backfill", () => backfillScenario(ctx)],
    ["admin", () => adminVitalsScenario(ctx)],
    ["pg-cost", () => pgCostScenario(ctx, !values["no-postgres"])],
  ];
  for (const [name, scenario] of scenarios) {
    if (!selected(name)) continue;
    const t0 = Date.now();
    try {
      await scenario();
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      failures.push(`${name}: ${message}`);
      ctx.goals.push({ scenario: name, measure: "scenario crashed", ours: message.split("\n")[0] ?? "", reference: "", goal: "runs", met: false });
      log(`${name} FAILED: ${message}`);
    }
    log(`${name} took ${Math.round((Date.now() - t0) / 1000)} s`);
  }

  const totalS = Math.round((Date.now() - started) / 1000);
  // The admin pages' vitals (Chromium, 8 pages, 3 or 10 loads each) add about 80 s quick and 4 min in full.
  const limitS = quick ? 200 : 1_200;
  ctx.goals.push({ scenario: "Suite", measure: `wall time${quick ? " (--quick)" : ""}`, ours: `${totalS} s`, reference: "", goal: `< ${limitS} s`, met: totalS < limitS });

  const resultsDir = join(ROOT, "bench", "results");
  mkdirSync(resultsDir, { recursive: true });
  const date = new Date().toISOString().slice(0, 10);
  // A full run is bench/results/<date>.json; --quick and --only runs get their own names and never replace it.
  const partial = values.only ? `-only-${only.join("-")}` : "";
  const file = join(resultsDir, `${date}${quick ? "-quick" : ""}${partial}.json`);
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "", memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version };
  writeFileSync(file, `${JSON.stringify({ runId: RUN_ID, date: new Date().toISOString(), quick, machine, totalSeconds: totalS, goals: ctx.goals, raw: ctx.raw, failures }, null, 2)}\n`);

  console.log(`\n## Benchmark ${new Date().toISOString()}${quick ? " (--quick)" : ""}: ${machine.cpus} cores, Node ${machine.node}\n`);
  console.log(markdownTable(ctx.goals));
  console.log(`\nRaw figures: ${relative(ROOT, file)}`);
  if (!values.keep) rmSync(SCRATCH, { recursive: true, force: true });
  else log(`scratch kept in ${SCRATCH}`);
  // The suite measures; missed goals are findings, not failures. Only a crashed scenario fails the run.
  process.exitCode = failures.length > 0 ? 1 : 0;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
