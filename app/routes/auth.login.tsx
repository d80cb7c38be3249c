import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { LoginErrorType } from "@shopify/shopify-app-remix/server";
import { login } from "~/shopify.server";

/**
 * /auth/login: where the library sends a request for the app that names no shop (and where a
 * merchant opening the app's URL outside Shopify admin lands). `login` answers a GET without
 * `?shop=` with no errors (show the form), and redirects a valid shop to Shopify's install and
 * sign-in page. `authenticate.admin` must not run here: on this path it throws (a 500).
 */
type LoginErrors = { shop?: string };

function loginErrors(result: Awaited<ReturnType<typeof login>>): LoginErrors {
  if (result.shop === LoginErrorType.MissingShop) return { shop: "Enter your shop's domain, e.g. my-store.myshopify.com." };
  if (result.shop === LoginErrorType.InvalidShop) return { shop: "That is not a shop domain: enter your shop's myshopify.com domain, e.g. my-store.myshopify.com." };
  return {};
}

export const loader = async ({ request }: LoaderFunctionArgs) => ({ errors: loginErrors(await login(request)) });

export const action = async ({ request }: ActionFunctionArgs) => ({ errors: loginErrors(await login(request)) });

export default function Login() {
  const loaded = useLoaderData<typeof loader>();
  const acted = useActionData<typeof action>();
  const errors = acted?.errors ?? loaded.errors;
  return (
    <main style={{ fontFamily: "Inter, system-ui, sans-serif", maxWidth: 420, margin: "4rem auto", padding: "0 1rem" }}>
      <h1 style={{ fontSize: "1.25rem" }}>Log in to Attentive Events</h1>
      <Form method="post">
        <label htmlFor="shop" style={{ display: "block", marginBottom: 4 }}>
          Shop domain
        </label>
        <input id="shop" name="shop" type="text" autoComplete="on" placeholder="my-store.myshopify.com" style={{ width: "100%" }} />
        {errors.shop ? (
          <p role="alert" style={{ color: "#8e1f0b" }}>
            {errors.shop}
          </p>
        ) : null}
        <button type="submit" style={{ marginTop: 12 }}>
          Log in
        </button>
      </Form>
    </main>
  );
}
