/** Scenario 5: mapping render throughput on one core (bench/scenarios/render-child.ts in its own process). */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT, log, round } from "../lib/common";
import { goal, perSec, type ScenarioContext } from "../lib/report";

interface RenderFigures {
  renderOnly: number;
  parseAndRender: number;
  parseOnly: number;
  plainParse: number;
  parseRealSizeIds: number;
  pooled: number;
  mainUsBefore: number;
  mainUsWithText: number;
  mainUsWithCopy: number;
}

export async function renderScenario(ctx: ScenarioContext): Promise<void> {
  log("render: 10-property mapping on the 15 KB body");
  const seconds = ctx.quick ? 1 : 3;
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join("bench", "scenarios", "render-child.ts"), String(seconds)], {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: "production", ...(process.env.BENCH_PROFILE_DIR ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}` } : {}) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let text = "";
    child.stdout.on("data", (chunk: Buffer) => (text += chunk.toString()));
    child.on("exit", (code) => (code === 0 ? resolve(text) : reject(new Error(`render benchmark exited ${code}`))));
  });
  const figures = JSON.parse(output.trim().split("\n").pop() ?? "{}") as RenderFigures;
  ctx.raw.render = Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, round(v, k.startsWith("mainUs") ? 1 : 0)]));
  goal(ctx, {
    scenario: "5 Mapping render",
    measure: "renders/s, 10 properties, 15 KB body, one core",
    ours: perSec(figures.renderOnly),
    reference: `with the body parsed each time (as the worker does): ${perSec(figures.parseAndRender)}; parse alone ${perSec(figures.parseOnly)} (ids of 13 digits, as real ones: ${perSec(figures.parseRealSizeIds)}), JSON.parse ${perSec(figures.plainParse)}`,
    goal: ">= 20,000/s",
    met: figures.renderOnly >= 20_000,
  });
  goal(ctx, {
    scenario: "5b Render off the event loop",
    measure: "main-thread µs per delivery render (body parse + render hand-off), render threads, 32 in flight",
    ours: `${round(figures.mainUsWithText, 1)} µs (${perSec(figures.pooled)} through the pool)`,
    reference: `before (parse + render on the main thread): ${round(figures.mainUsBefore, 1)} µs; body sent as a parsed copy: ${round(figures.mainUsWithCopy, 1)} µs`,
    goal: "<= before",
    met: figures.mainUsWithText <= figures.mainUsBefore,
  });
}
