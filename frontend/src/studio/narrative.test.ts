import { describe, expect, it } from "vitest";
import { insertVariable, narrativeVariables, renderNarrative } from "./narrative";

describe("narratives", () => {
  it("fills filter values and named values, formatted", () => {
    const parts = renderNarrative("Revenue in {{ country }} grew by {{growth}} % ({{ period.start }}).", {
      filters: { country: "France", period: { start: "2024-01-01", end: null } },
      values: { growth: { value: 12.345, format: { decimals: 1 } } },
      locale: "en",
    });
    expect(parts.map((p) => p.text).join("")).toBe("Revenue in France grew by 12.3 % (2024-01-01).");
    expect(parts.filter((p) => p.variable).map((p) => p.variable)).toEqual(["country", "growth", "period.start"]);
  });

  it("keeps an unknown placeholder visible, marks it, and shows a pending value as loading", () => {
    const parts = renderNarrative("{{ nope }} and {{ total }}", { filters: {}, values: { total: undefined } });
    expect(parts[0]).toEqual({ text: "{{ nope }}", variable: "nope", missing: true });
    expect(parts[2]).toEqual({ text: "…", variable: "total" });
  });

  it("never reads markup: text stays text", () => {
    const parts = renderNarrative("<b>{{ x }}</b>", { filters: { x: "<img src=x>" }, values: {} });
    expect(parts.map((p) => p.text)).toEqual(["<b>", "<img src=x>", "</b>"]);
  });

  it("lists the variables used and inserts one at the cursor", () => {
    expect(narrativeVariables("{{ a }} {{ b.c }} {{ a }}")).toEqual(["a", "b.c"]);
    expect(insertVariable("Sales in", 8, "country")).toEqual({ text: "Sales in {{ country }}", cursor: 22 });
    expect(insertVariable("in grew", 2, "x").text).toBe("in {{ x }} grew");
  });
});
