/** Goals, results and the markdown table. */

export interface Goal {
  scenario: string;
  measure: string;
  ours: string;
  reference: string;
  goal: string;
  /** null: reported, no goal attached. */
  met: boolean | null;
}

export interface ScenarioContext {
  quick: boolean;
  /** Seconds per measured load run. */
  durationS: number;
  goals: Goal[];
  /** Raw figures, written to the JSON file under the scenario's name. */
  raw: Record<string, unknown>;
}

export function goal(ctx: ScenarioContext, entry: Goal) {
  ctx.goals.push(entry);
}

export const ms = (value: number) => (Number.isFinite(value) ? `${value < 10 ? value.toFixed(1) : Math.round(value)} ms` : "—");
export const perSec = (value: number) => (Number.isFinite(value) ? `${Math.round(value).toLocaleString("en-US")}/s` : "—");

export function markdownTable(goals: Goal[]): string {
  const lines = [
    "| Scenario | Measure | Ours | Reference (same run) | Goal | Met |",
    "|---|---|---|---|---|---|",
    ...goals.map(
      (g) =>
        `| ${g.scenario} | ${g.measure} | ${g.ours} | ${g.reference || "—"} | ${g.goal || "—"} | ${g.met === null ? "—" : g.met ? "yes" : "**no**"} |`,
    ),
  ];
  return lines.join("\n");
}
