import { db } from "~/db.server";

// For load balancers and the demo: 200 when the app can reach its database.
export const loader = async () => {
  try {
    await db().$queryRawUnsafe("SELECT 1");
    return new Response("ok", { status: 200, headers: { "cache-control": "no-store" } });
  } catch {
    return new Response("database unavailable", { status: 503, headers: { "cache-control": "no-store" } });
  }
};
