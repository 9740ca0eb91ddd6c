import { describe, expect, it } from "vitest";
import { pageTitle, setPageTitle, titleParts } from "./pageTitle";
import { initialLocale } from "./i18n";

describe("pageTitle", () => {
  it("names the page, most specific first, then the brand", () => {
    expect(pageTitle(["Revenue by product", "Demo — Sales"])).toBe("Revenue by product · Demo — Sales · Toucan");
    expect(pageTitle([])).toBe("Toucan");
    expect(pageTitle(["", null, undefined, "  ", "Apps"])).toBe("Apps · Toucan");
  });

  it("keeps what a page sets", () => {
    setPageTitle("Users", "", "Settings");
    expect(titleParts.value).toEqual(["Users", "Settings"]);
  });
});

describe("initialLocale", () => {
  it("prefers the stored choice, then the browser's language, then English", () => {
    expect(initialLocale("fr", "en-US")).toBe("fr");
    expect(initialLocale(null, "fr-CA")).toBe("fr");
    expect(initialLocale("de", "de-DE")).toBe("en");
    expect(initialLocale(null, undefined)).toBe("en");
    expect(initialLocale("xx", "FR")).toBe("fr");
  });
});
