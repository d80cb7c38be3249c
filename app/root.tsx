import { Links, Meta, Outlet, Scripts, ScrollRestoration } from "@remix-run/react";

/** Every document has a title (WCAG 2.4.2); each admin page names itself first, then the app. */
export const meta = () => [{ title: "Attentive events" }];

export default function App() {
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width,initial-scale=1" />
        <link rel="preconnect" href="https://cdn.shopify.com/" />
        <link rel="stylesheet" href="https://cdn.shopify.com/static/fonts/inter/v4/styles.css" />
        <Meta />
        <Links />
      </head>
      <body>
        <Outlet />
        <ScrollRestoration />
        <Scripts />
      </body>
    </html>
  );
}
