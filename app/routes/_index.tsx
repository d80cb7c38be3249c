import { type LoaderFunctionArgs, redirect } from "@remix-run/node";

// Shopify opens the app at its URL with shop/host parameters: hand them to the embedded app.
export const loader = async ({ request }: LoaderFunctionArgs) => {
  const url = new URL(request.url);
  return redirect(`/app${url.search}`);
};
