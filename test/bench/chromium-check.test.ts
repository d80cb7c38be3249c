import { describe, expect, it } from "vitest";
import { checkChromium } from "../browser/harness-core";

describe("checkChromium (the browser tests' and the bench's admin scenario's first step)", () => {
  it("says how to install Chromium, or where to point CHROMIUM_PATH, when there is none", () => {
    expect(() => checkChromium("/nonexistent/chromium")).toThrow(/No Chromium at \/nonexistent\/chromium.*apt-get install -y chromium.*CHROMIUM_PATH/s);
  });

  it("lets a run go on when the browser is there", () => {
    expect(() => checkChromium(process.execPath)).not.toThrow();
  });
});
