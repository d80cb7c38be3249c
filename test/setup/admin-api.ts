import { afterAll } from "vitest";
import { fakeAdminApi } from "../stand-ins/shopify-admin";

// Before any app module captures fetch (see test/stand-ins/shopify-admin.ts).
fakeAdminApi.listen();
afterAll(() => fakeAdminApi.close());
