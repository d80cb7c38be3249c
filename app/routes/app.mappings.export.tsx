import type { LoaderFunctionArgs } from "@remix-run/node";
import { adminContext } from "~/admin/context.server";
import { formatMappingFile } from "~/mapping/mapping-file";
import { definitionOf, listMappings } from "~/models/Mapping.server";

// The shop's mappings in the mapping file format (docs/mapping-format.md), fetched by the list page's Export.
export const loader = async ({ request }: LoaderFunctionArgs) => {
  const { shop, prisma } = await adminContext(request);
  const mappings = await listMappings(prisma, shop);
  return new Response(formatMappingFile(mappings.map(definitionOf)), {
    headers: {
      "content-type": "application/json; charset=utf-8",
      "content-disposition": `attachment; filename="${shop.replace(".myshopify.com", "")}-mappings.json"`,
    },
  });
};
