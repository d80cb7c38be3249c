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
