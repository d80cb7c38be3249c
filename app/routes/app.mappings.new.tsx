import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { useActionData, useLoaderData } from "@remix-run/react";
import { adminContext } from "~/admin/context.server";
import { editorAction, editorSources, type EditorForm } from "~/admin/mapping-editor.server";
import { TOPIC_OPTION_GROUPS } from "~/components/format";
import { MappingEditor } from "~/components/MappingEditor";

const BLANK: EditorForm = {
  topic: "orders/fulfilled",
  eventType: "",
  enabled: true,
  when: "",
  properties: [{ key: "orderName", template: "{{ name }}" }],
  user: { email: "", phone: "", clientUserId: "" },
};

export const meta = () => [{ title: "New mapping · Mappings · Attentive events" }];

export const loader = async ({ request }: LoaderFunctionArgs) => {
  const context = await adminContext(request);
  return { initial: BLANK, ...(await editorSources(context, "orders/fulfilled")) };
};

export const action = async ({ request }: ActionFunctionArgs) => editorAction(await adminContext(request), request, null);

export default function NewMapping() {
  const { initial, paths, hasLatest } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  return (
    <MappingEditor
      title="New mapping"
      initial={initial}
      topicOptions={TOPIC_OPTION_GROUPS}
      paths={paths}
      hasLatest={hasLatest}
      saveErrors={result && result.intent === "save" && !result.ok ? result.errors : null}
      savedNotice={false}
      offerTopicDefaults
    />
  );
}
