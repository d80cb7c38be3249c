/**
 * A fake of Shopify's Admin GraphQL API (MSW, intercepting the app's real fetch to
 * https://<shop>/admin/api/<version>/graphql.json). It answers by operation name and
 * records anything it was not told about in `unexpected`, so a test cannot pass by
 * accident through an unexpected call.
 *
 * shopify-api keeps a reference to fetch from when it is first imported, so the
 * interception is installed by a vitest setup file (test/setup/admin-api.ts) before
 * any app module loads; tests set `operations` and read `calls`.
 */
import { http, HttpResponse } from "msw";
import { setupServer } from "msw/node";

export interface AdminCall {
  shop: string;
  apiVersion: string;
  operationName: string;
  /** The whole GraphQL document sent. */
  query: string;
  variables: Record<string, unknown>;
  accessToken: string | null;
}

export type AdminAnswer = { status?: number; body: unknown };
export type OperationHandler = (variables: Record<string, unknown>, call: AdminCall) => AdminAnswer;
/** A slow or hanging Admin API (this fake only): `signal` aborts when the app gives up the request. */
export type LateOperationHandler = (variables: Record<string, unknown>, call: AdminCall, signal: AbortSignal) => Promise<AdminAnswer>;

function createFakeAdminApi() {
  const calls: AdminCall[] = [];
  const unexpected: string[] = [];
  let operations: Record<string, OperationHandler> = {};
  let late: Record<string, LateOperationHandler> = {};
  const server = setupServer(
    http.post("https://:shop/admin/api/:version/graphql.json", async ({ request, params }) => {
      const payload = (await request.json()) as { query?: string; variables?: Record<string, unknown> };
      const operationName = /(?:query|mutation)\s+(\w+)/.exec(payload.query ?? "")?.[1] ?? "(anonymous)";
      const call: AdminCall = {
        shop: String(params.shop),
        apiVersion: String(params.version),
        operationName,
        query: payload.query ?? "",
        variables: payload.variables ?? {},
        accessToken: request.headers.get("x-shopify-access-token"),
      };
      calls.push(call);
      const handler = operations[operationName];
      const lateHandler = late[operationName];
      if (!handler && !lateHandler) {
        unexpected.push(`Admin API operation ${operationName} is not faked`);
        return HttpResponse.json({ errors: [{ message: `unexpected operation ${operationName}` }] }, { status: 500 });
      }
      const answer = handler ? handler(call.variables, call) : await lateHandler!(call.variables, call, request.signal);
      return HttpResponse.json(answer.body as Record<string, unknown>, { status: answer.status ?? 200 });
    }),
  );
  return {
    calls,
    unexpected,
    /** Answers for the named operations; everything else is unexpected. */
    answer(handlers: Record<string, OperationHandler>) {
      operations = handlers;
      late = {};
    },
    /** Answers that come late or never (aborted when the app gives up): replaces every answer. */
    answerLate(handlers: Record<string, LateOperationHandler>) {
      operations = {};
      late = handlers;
    },
    reset() {
      calls.length = 0;
      unexpected.length = 0;
      operations = {};
      late = {};
    },
    listen() {
      server.listen({
        onUnhandledRequest(request) {
          const { hostname } = new URL(request.url);
          // Local stand-ins (Attentive) are real HTTP servers on loopback.
          if (hostname === "127.0.0.1" || hostname === "localhost") return;
          unexpected.push(`unexpected request ${request.method} ${request.url}`);
        },
      });
    },
    close: () => server.close(),
  };
}

export const fakeAdminApi = createFakeAdminApi();
