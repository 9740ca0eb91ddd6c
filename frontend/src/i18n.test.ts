import { describe, expect, it } from "vitest";
import { dictionaries, locale, t } from "./i18n";

describe("strings", () => {
  it("French says everything English says, with the same placeholders", () => {
    const { en, fr } = dictionaries;
    expect(Object.keys(fr).sort()).toEqual(Object.keys(en).sort());
    const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const key of Object.keys(en)) expect([key, placeholders(fr[key])]).toEqual([key, placeholders(en[key])]);
  });

  it("fills placeholders in the chosen language", () => {
    locale.value = "fr";
    expect(t("upload.progress", { sent: "1 Mo", total: "2 Mo" })).toBe("1 Mo sur 2 Mo");
    locale.value = "en";
    expect(t("upload.line", { n: 3 })).toBe("Line 3");
  });
});
