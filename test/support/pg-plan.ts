/** PostgreSQL's plans as `EXPLAIN (ANALYZE, FORMAT JSON)` and auto_explain give them, for tests that hold a plan's reads. */
export interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Actual Rows"?: number;
  "Actual Loops"?: number;
  "Rows Removed by Filter"?: number;
  "Rows Removed by Index Recheck"?: number;
  "Subplan Name"?: string;
  Plans?: PlanNode[];
}

/** Every node of a plan, with the CTE or subplan it is in. */
export function nodes(node: PlanNode, within = ""): Array<PlanNode & { within: string }> {
  const here = node["Subplan Name"] ?? within;
  return [{ ...node, within: here }, ...(node.Plans ?? []).flatMap((child) => nodes(child, here))];
}

/** Each scan of `table` in a plan: its kind and how many times it ran. */
export function scansOf(plan: PlanNode, table: string): Array<{ type: string; loops: number }> {
  return nodes(plan)
    .filter((node) => node["Relation Name"] === table && node["Node Type"].includes("Scan"))
    .map((node) => ({ type: node["Node Type"], loops: node["Actual Loops"] ?? 0 }));
}

/** The rows a plan's scans of `table` read: those they returned, and those their filters dropped, over every loop. */
export function rowsRead(plan: PlanNode, table: string): number {
  return nodes(plan)
    .filter((node) => node["Relation Name"] === table && node["Node Type"].includes("Scan"))
    .reduce(
      (sum, node) =>
        sum + ((node["Actual Rows"] ?? 0) + (node["Rows Removed by Filter"] ?? 0) + (node["Rows Removed by Index Recheck"] ?? 0)) * (node["Actual Loops"] ?? 0),
      0,
    );
}
