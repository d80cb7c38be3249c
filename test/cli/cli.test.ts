import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CliError, runCommand } from "~/cli/commands";
import { db } from "~/db.server";
import { readEnv } from "~/env.server";
import { catalogMappings, defaultMappings } from "~/mapping/defaults";
import { MAX_IMPORT_FILE_BYTES, MAX_MAPPINGS_PER_SHOP } from "~/mapping/limits";
import { MAPPABLE_TOPICS } from "~/topics/catalog";
import { secretBoxFromEnv } from "~/secrets/secret-box.server";
import { startAttentiveStandIn, type AttentiveStandIn } from "../stand-ins/attentive";
import { SPEC_EXAMPLE_MAPPING } from "../support/mappings";
import { TEST_ATTENTIVE_KEY } from "../support/pipeline";

const SHOP = "cli-shop.myshopify.com";
let standIn: AttentiveStandIn;
let output: string[];
const dir = mkdtempSync(join(tmpdir(), "cli-test-"));

async function cli(...argv: string[]) {
  output = [];
  await runCommand(argv, {
    prisma: db(),
    env: readEnv({ ...process.env, ATTENTIVE_API_URL: standIn.graphqlUrl, ATTENTIVE_TIMEOUT_MS: "1000" }),
    secretBox: () => secretBoxFromEnv(),
    out: (line) => output.push(line),
    runWorker: async () => undefined,
  });
  return output.join("\n");
}

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

const validFile = { mappings: [SPEC_EXAMPLE_MAPPING] };

beforeAll(async () => {
  standIn = await startAttentiveStandIn({ apiKeys: [TEST_ATTENTIVE_KEY], companyName: "Acme Texts" });
});
afterAll(() => standIn.close());
beforeEach(async () => {
  await db().mapping.deleteMany();
  await db().shop.deleteMany();
});

describe("shops connect", () => {
  it("verifies the key with Attentive and stores it encrypted", async () => {
    const out = await cli("shops", "connect", SHOP, "--api-key", TEST_ATTENTIVE_KEY);
    expect(out).toContain("Acme Texts");
    expect(out).not.toContain(TEST_ATTENTIVE_KEY);
    const shop = await db().shop.findUniqueOrThrow({ where: { domain: SHOP } });
    expect(secretBoxFromEnv().open(shop.attentiveKeyCipher!)).toBe(TEST_ATTENTIVE_KEY);
  });

  it("refuses a key Attentive rejects, without saving it or echoing it", async () => {
    const error = await cli("shops", "connect", SHOP, "--api-key", "wrong-key-123").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).toMatch(/not saved/);
    expect((error as CliError).message).not.toContain("wrong-key-123");
    expect(await db().shop.findUnique({ where: { domain: SHOP } })).toBeNull();
  });

  it("stores an unverified key with --skip-verify", async () => {
    await cli("shops", "connect", SHOP, "--api-key", "offline-key-9999", "--skip-verify");
    expect((await db().shop.findUniqueOrThrow({ where: { domain: SHOP } })).attentiveKeyLast4).toBe("9999");
  });

  it("does not echo an API key typed after a misspelt command", async () => {
    const error = await cli("shop", "connect", SHOP, "--api-key", "typo-key-4242").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).toMatch(/Unknown command "shop connect"/);
    expect((error as CliError).message).not.toContain("typo-key-4242");
  });

  it("names a bad shop domain", async () => {
    await expect(cli("shops", "connect", "not a shop", "--api-key", "k")).rejects.toThrow(/myshopify\.com/);
  });
});

describe("mappings import / export", () => {
  it("replaces the shop's mappings and exports the same format", async () => {
    await cli("shops", "connect", SHOP, "--api-key", "k-0000", "--skip-verify");
    expect(await db().mapping.count({ where: { shop: SHOP } })).toBe(defaultMappings().length);
    await cli("mappings", "import", SHOP, file("valid.json", validFile));
    const exported = JSON.parse(await cli("mappings", "export", SHOP)) as unknown;
    expect(exported).toEqual(validFile);
  });

  it("accepts a mapping for every catalog topic (every default the catalog offers)", async () => {
    await cli("shops", "connect", SHOP, "--api-key", "k-0000", "--skip-verify");
    const everyTopic = { mappings: catalogMappings() };
    expect(new Set(everyTopic.mappings.map((mapping) => mapping.topic))).toEqual(new Set(MAPPABLE_TOPICS));
    await cli("mappings", "import", SHOP, file("every-topic.json", everyTopic));
    expect(JSON.parse(await cli("mappings", "export", SHOP))).toEqual(everyTopic);
  });

  it("refuses a topic outside the catalog, listing the topics it can map, and changes nothing", async () => {
    await cli("shops", "connect", SHOP, "--api-key", "k-0000", "--skip-verify");
    const before = await cli("mappings", "export", SHOP);
    for (const topic of ["orders/updated", "returns/process", "Orders/Create", ""]) {
      const unknown = { mappings: [{ ...SPEC_EXAMPLE_MAPPING, topic }] };
      const error = await cli("mappings", "import", SHOP, file("unknown-topic.json", unknown)).catch((e: unknown) => e);
      expect(error, topic).toBeInstanceOf(CliError);
      expect((error as CliError).message).toContain(
        `${JSON.stringify(topic)} is not a topic this app can map. Set topic to one of: ${MAPPABLE_TOPICS.join(", ")}.`,
      );
      expect(await cli("mappings", "export", SHOP)).toBe(before);
    }
  });

  it("changes nothing on an invalid file and names the mapping and field", async () => {
    await cli("shops", "connect", SHOP, "--api-key", "k-0000", "--skip-verify");
    const before = await cli("mappings", "export", SHOP);
    const bad = { mappings: [validFile.mappings[0], { ...validFile.mappings[0], eventType: "Order (Shipped)" }] };
    const error = await cli("mappings", "import", SHOP, file("bad.json", bad)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).toMatch(/Mapping 2 \("Order \(Shipped\)"\)/);
    expect((error as CliError).message).toMatch(/eventType/);
    expect((error as CliError).message).toMatch(/parenthesis/);
    expect(await cli("mappings", "export", SHOP)).toBe(before);

    await expect(cli("mappings", "import", SHOP, file("broken.json", "{ not json"))).rejects.toThrow(/not valid JSON/);
  });

  it("refuses a file over 1 MiB on its size, before reading or parsing it, and changes nothing", async () => {
    await cli("shops", "connect", SHOP, "--api-key", "k-0000", "--skip-verify");
    const before = await cli("mappings", "export", SHOP);
    // Valid JSON up to the limit, broken past it: a parser would report the syntax.
    const opening = `{"mappings": [${JSON.stringify(SPEC_EXAMPLE_MAPPING)}`;
    const big = file("big.json", `${opening}${" ".repeat(MAX_IMPORT_FILE_BYTES - opening.length)}{ not json`);
    const error = await cli("mappings", "import", SHOP, big).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).toMatch(/too large: the limit is 1 MiB \(1,048,576 bytes\) and this one is 1,048,5\d\d bytes/);
    expect((error as CliError).message).toMatch(/Nothing was changed\.$/);
    expect((error as CliError).message).not.toMatch(/JSON/);
    expect(await cli("mappings", "export", SHOP)).toBe(before);
  });

  it("stops reading a file without a size (a device) one byte past the limit", async () => {
    await expect(cli("mappings", "import", SHOP, "/dev/zero")).rejects.toThrow(/too large: the limit is 1 MiB \(1,048,576 bytes\) and this one is larger than that/);
  });

  it(`refuses ${MAX_MAPPINGS_PER_SHOP + 1} mappings and changes nothing`, async () => {
    await cli("shops", "connect", SHOP, "--api-key", "k-0000", "--skip-verify");
    const before = await cli("mappings", "export", SHOP);
    const many = { mappings: Array.from({ length: MAX_MAPPINGS_PER_SHOP + 1 }, (_, i) => ({ ...SPEC_EXAMPLE_MAPPING, eventType: `Event ${i}` })) };
    await expect(cli("mappings", "import", SHOP, file("many.json", many))).rejects.toThrow(
      new RegExp(`The file has ${MAX_MAPPINGS_PER_SHOP + 1} mappings; a shop can have at most ${MAX_MAPPINGS_PER_SHOP}`),
    );
    expect(await cli("mappings", "export", SHOP)).toBe(before);
  });
});

describe("deliveries", () => {
  it("rejects an unknown status and a retry without a target", async () => {
    await expect(cli("deliveries", "list", SHOP, "--status", "lost")).rejects.toThrow(/pending, sending, delivered, failed, skipped/);
    await expect(cli("deliveries", "retry", SHOP)).rejects.toThrow(/--id .* or --failed/);
  });
});

describe("the command line process", () => {
  it("prints one line and exits non-zero on bad input, never a stack trace", async () => {
    const run = promisify(execFile);
    const result = await run("npx", ["tsx", "app/cli/main.ts", "deliveries", "list", "nope"], {
      env: { ...process.env },
    }).catch((error: { code: number; stderr: string }) => error);
    expect("code" in result && result.code).toBe(2);
    const stderr = (result as { stderr: string }).stderr.trim();
    expect(stderr.split("\n")).toHaveLength(1);
    expect(stderr).toMatch(/^error: "nope" is not a shop domain/);
    expect(stderr).not.toMatch(/\bat .*\.ts:\d+/);
  });
});
