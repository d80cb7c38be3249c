/**
 * The production server (app/serve.ts) installs Remix's fetch polyfill before the app runs, and with it an
 * Attentive that hung killed the process: the client's timeout aborted a request the polyfill cannot cancel
 * ("Cannot cancel a stream that already has a reader", thrown where nothing could catch it). This file installs
 * the polyfill exactly as serve.ts does (vitest's forks pool keeps it to this file) and runs the hostile cases.
 */
import { installGlobals } from "@remix-run/node";
import { describe, expect, it } from "vitest";
import { fakeAdminApi } from "../stand-ins/shopify-admin";
import { describeDeadlines } from "./deadline-cases";

// The setup file's Admin API fake (MSW) patches node:http and fetch for every file; the production server has no
// such layer between the polyfill and the network, and this file makes no Admin API call.
fakeAdminApi.close();
const nodeFetch = globalThis.fetch;
installGlobals({ nativeFetch: false });

describe("with Remix's fetch polyfill installed", () => {
  it("is the polyfill, not Node's own fetch", () => {
    expect(globalThis.fetch).not.toBe(nodeFetch);
  });
});

describeDeadlines("Remix's fetch polyfill");
