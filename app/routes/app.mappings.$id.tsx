import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { useActionData, useLoaderData, useSearchParams } from "@remix-run/react";
import { adminContext, notFound } from "~/admin/context.server";
import { editorAction, editorSources, formFromDefinition } from "~/admin/mapping-editor.server";
import { TOPIC_OPTION_GROUPS } from "~/components/format";
import { MappingEditor } from "~/components/MappingEditor";
import { definitionOf, findMapping } from "~/models/Mapping.server";

export const loader = async ({ request, params }: LoaderFunctionArgs) => {
  const context = await adminContext(request);
  const mapping = await findMapping(context.prisma, context.shop, params.id ?? "");
  if (!mapping) throw notFound("Mapping");
  const definition = definitionOf(mapping);
  return { id: mapping.id, initial: formFromDefinition(definition), ...(await editorSources(context, mapping.topic, definition)) };
};

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `${data?.initial.eventType || "Mapping"} · Mappings · Attentive events` }];

export const action = async ({ request, params }: ActionFunctionArgs) => {
  const context = await adminContext(request);
  const id = params.id ?? "";
  if (!(await findMapping(context.prisma, context.shop, id))) throw notFound("Mapping");
  return editorAction(context, request, id);
};

export default function EditMapping() {
  const { id, initial, paths, hasLatest, initialPreview } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const [params] = useSearchParams();
  return (
    <MappingEditor
      // A saved mapping comes back as the new starting point: start the form afresh from it.
      key={`${id}:${JSON.stringify(initial)}`}
      title={initial.eventType || "Mapping"}
      initial={initial}
      topicOptions={TOPIC_OPTION_GROUPS}
      paths={paths}
      hasLatest={hasLatest}
      initialPreview={initialPreview}
      saveErrors={result && result.intent === "save" && !result.ok ? result.errors : null}
      savedNotice={params.get("saved") === "1"}
    />
  );
}
