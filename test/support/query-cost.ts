/**
 * The requested cost Shopify's Admin GraphQL API would charge a query, estimated by its published rules (rate-limits
 * page): a scalar or enum costs 0, an object 1, a connection 2 plus `first` times what one node costs. A list field
 * sized by `first` (Order.fulfillments, Order.refunds) is counted as `first` objects, an upper bound. Shopify refuses
 * a query whose requested cost exceeds 1,000 before running it, whatever the shop's plan.
 */
import { Kind, parse, type FieldNode, type SelectionSetNode } from "graphql";

export const MAX_SINGLE_QUERY_COST = 1_000;

/** Above any real page size: a size passed in a variable is counted as the most Shopify allows. */
const VARIABLE_SIZE = 250;

function sizeOf(field: FieldNode): number | null {
  const argument = field.arguments?.find((candidate) => candidate.name.value === "first" || candidate.name.value === "last");
  if (!argument) return null;
  if (argument.value.kind === Kind.INT) return Number(argument.value.value);
  return VARIABLE_SIZE;
}

function fieldsOf(selectionSet: SelectionSetNode | undefined): FieldNode[] {
  if (!selectionSet) return [];
  return selectionSet.selections.map((selection) => {
    if (selection.kind !== Kind.FIELD) throw new Error("fragments are not estimated; write the fields out");
    return selection;
  });
}

function selectionCost(selectionSet: SelectionSetNode | undefined): number {
  return fieldsOf(selectionSet).reduce((sum, field) => sum + fieldCost(field), 0);
}

function fieldCost(field: FieldNode): number {
  if (!field.selectionSet) return 0;
  const size = sizeOf(field);
  const children = fieldsOf(field.selectionSet);
  const nodes = children.find((child) => child.name.value === "nodes");
  const edges = children.find((child) => child.name.value === "edges");
  if (size !== null && (nodes || edges)) {
    const node = nodes ?? fieldsOf(edges!.selectionSet).find((child) => child.name.value === "node");
    return 2 + size * (1 + selectionCost(node?.selectionSet));
  }
  const one = 1 + selectionCost(field.selectionSet);
  return size === null ? one : size * one;
}

export function requestedQueryCost(document: string): number {
  const parsed = parse(document);
  let total = 0;
  for (const definition of parsed.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) throw new Error("only operations are estimated");
    total += selectionCost(definition.selectionSet);
  }
  return total;
}
