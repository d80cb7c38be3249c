/**
 * Admin route calls signed the way the embedded app's requests are: a session token
 * (Bearer) for the test app, for a shop that has its offline session stored.
 */
import { Session } from "@shopify/shopify-api";
import { RequestType, setUpValidRequest } from "@shopify/shopify-api/test-helpers";
import { sessionStorage } from "~/shopify.server";

export const APP_ORIGIN = "https://app.example.test";

export async function storeOfflineSession(shop: string): Promise<void> {
  await sessionStorage.storeSession(
    new Session({ id: `offline_${shop}`, shop, state: "state", isOnline: false, accessToken: `shpat_${shop.split(".")[0]}`, scope: "read_orders" }),
  );
}

export async function adminRequest(shop: string, path: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<Request> {
  const body = init.form ? new URLSearchParams(init.form) : undefined;
  const request = new Request(`${APP_ORIGIN}${path}`, {
    method: init.method ?? (body ? "POST" : "GET"),
    ...(body ? { body, headers: { "content-type": "application/x-www-form-urlencoded" } } : {}),
  });
  return setUpValidRequest(
    { type: RequestType.Bearer, store: shop.replace(".myshopify.com", ""), apiKey: process.env.SHOPIFY_API_KEY!, apiSecretKey: process.env.SHOPIFY_API_SECRET! },
    request,
  );
}

/** Runs a loader or action and gives back its status and JSON body, whether it returned or threw a Response. */
export async function call(
  handler: (args: { request: Request; params: Record<string, string>; context: Record<string, never> }) => unknown,
  request: Request,
  params: Record<string, string> = {},
): Promise<{ status: number; body: unknown; headers: Headers }> {
  let result: unknown;
  try {
    result = await handler({ request, params, context: {} });
  } catch (thrown) {
    result = thrown;
  }
  if (result instanceof Response) {
    const text = await result.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // plain text body
    }
    return { status: result.status, body, headers: result.headers };
  }
  return { status: 200, body: JSON.parse(JSON.stringify(result)), headers: new Headers() };
}
