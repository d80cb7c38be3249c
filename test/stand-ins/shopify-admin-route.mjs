/*
 * Loaded into the browser tests' app server with `node --import` (see shopify-admin-server.ts): requests to a shop's
 * Admin API (https://<shop>.myshopify.com/admin/…) go to the loopback stand-in named by SHOPIFY_ADMIN_STAND_IN_URL,
 * as /<shop>/admin/…. It runs before the app, so shopify-api keeps this fetch when it captures the global one.
 */
const target = process.env.SHOPIFY_ADMIN_STAND_IN_URL;
if (target) {
  const original = globalThis.fetch;
  globalThis.fetch = function fetchThroughStandIn(input, init) {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (!url.hostname.endsWith(".myshopify.com")) return original(input, init);
    const rerouted = new URL(`/${url.hostname}${url.pathname}${url.search}`, target);
    return original(input instanceof Request ? new Request(rerouted, input) : rerouted, init);
  };
}
