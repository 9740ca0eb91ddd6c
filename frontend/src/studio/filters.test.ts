import { describe, expect, it } from "vitest";
import type { FrontConfig, Requester } from "../api";
import { chartRequest, filterCondition, initialValue, requestersOn, valueText, withFilters, type RequesterValue } from "./filters";
import shared from "./filterCases.json";
import demo from "../../../src/toucan/demo/front_config.json";
import { storyCharts } from "../stories";

const country: Requester = { id: "country", label: "Country", type: "dropdown", options: ["France", "Spain"], filter_column: "country" };
const many: Requester = { id: "many", label: "Many", type: "multiselect", options: ["a", "b"], filter_column: "c", stories: ["s2"] };
const period: Requester = { id: "period", label: "Period", type: "daterange", filter_column: "day", charts: ["s1/x"] };
const QUERY = [{ name: "domain", domain: "sales" }, { name: "top", limit: 3 }];

describe("filters", () => {
  it("shows on the stories it is limited to, and on the home only when not limited", () => {
    const config: FrontConfig = { requesters: [country, many] };
    expect(requestersOn(config, { id: "s1" }).map((r) => r.id)).toEqual(["country"]);
    expect(requestersOn(config, { id: "s2" }).map((r) => r.id)).toEqual(["country", "many"]);
    expect(requestersOn(config, { id: "s2", requesters: ["many"] }).map((r) => r.id)).toEqual(["many"]);
    expect(requestersOn(config, null).map((r) => r.id)).toEqual(["country"]);
  });

  it("starts from the default, else the first option or nothing", () => {
    expect(initialValue(country, ["France"])).toBe("France");
    expect(initialValue({ ...country, default: "Spain" }, ["France"])).toBe("Spain");
    expect(initialValue(many)).toEqual([]);
    expect(initialValue({ ...period, default: { start: "2024-01-01", end: null } })).toEqual({ start: "2024-01-01", end: null });
    expect(initialValue({ id: "q", label: "", type: "search" })).toBe("");
  });

  it("writes one condition per type, with the variable, and none for an empty value", () => {
    expect(filterCondition(country, "Spain")).toEqual({ column: "country", operator: "eq", value: "{{ country }}" });
    expect(filterCondition(many, ["a"])).toEqual({ column: "c", operator: "in", value: "{{ many }}" });
    expect(filterCondition(many, [])).toBeNull();
    expect(filterCondition(period, { start: "2024-01-01", end: null })).toEqual({ column: "day", operator: "from", value: "{{ period.start }}" });
    expect(filterCondition(period, { start: "2024-01-01", end: "2024-02-01" })).toEqual({
      and: [
        { column: "day", operator: "from", value: "{{ period.start }}" },
        { column: "day", operator: "until", value: "{{ period.end }}" },
      ],
    });
    expect(filterCondition({ id: "q", label: "", type: "search", filter_column: "name" }, "ab")).toEqual({
      column: "name",
      operator: "matches",
      value: "(?i){{ q__pattern }}",
    });
    expect(filterCondition({ ...country, filter_column: undefined }, "Spain")).toBeNull();
  });

  it("puts filter steps right after the domain step, and leaves other requests alone", () => {
    const c = { column: "x", operator: "eq", value: 1 };
    expect(withFilters(QUERY, [c])).toEqual([QUERY[0], { name: "filter", condition: c }, QUERY[1]]);
    expect(withFilters({ domain: "sales" }, [c])).toEqual({ domain: "sales" });
    expect(withFilters(QUERY, [])).toBe(QUERY);
  });

  it("gives each chart the values of the filters applying to it, and the defaults of the others", () => {
    const all = [country, period];
    const values = { country: "Spain", period: { start: "2024-01-01", end: null } };
    const applied = chartRequest(QUERY, all, all, values, "s1/x", { country: ["France", "Spain"] });
    expect(applied.variables).toEqual(values);
    expect((applied.query as unknown[]).length).toBe(4);
    const other = chartRequest(QUERY, all, all, values, "s1/y", { country: ["France", "Spain"] });
    expect(other.variables).toEqual({ country: "Spain", period: { start: null, end: null } });
    expect(other.query).toEqual([QUERY[0], { name: "filter", condition: filterCondition(country, "Spain") }, QUERY[1]]);
    // Not shown on the page: the starting value, no step.
    const hidden = chartRequest(QUERY, all, [], values, "s1/x", { country: ["France", "Spain"] });
    expect(hidden).toEqual({ query: QUERY, variables: { country: "France", period: { start: null, end: null } } });
  });

  it("sends a search's text as a literal pattern beside the text itself", async () => {
    const { searchPattern } = await import("./filters");
    expect(searchPattern("a+b (c) [d] 1.5$")).toBe("a\\+b \\(c\\) \\[d\\] 1\\.5\\$");
    const q: Requester = { id: "q", label: "Q", type: "search", filter_column: "name" };
    const sent = chartRequest(QUERY, [q], [q], { q: "a+b" }, "s/0");
    expect(sent.variables).toEqual({ q: "a+b", q__pattern: "a\\+b" });
    expect(chartRequest(QUERY, [q], [q], { q: "" }, "s/0").variables).toEqual({ q: "" });
  });

  it("writes values as text", () => {
    expect(valueText(["a", "b"])).toBe("a, b");
    expect(valueText({ start: "2024-01-01", end: null })).toBe("2024-01-01 – …");
    expect(valueText(null)).toBe("");
  });
});

describe("the filter form's helpers", () => {
  it("round-trips the values request and names variables", async () => {
    const { parseValuesQuery, valuesQuery, variableName } = await import("./filters");
    expect(parseValuesQuery(valuesQuery("sales", "country"))).toEqual({ domain: "sales", column: "country" });
    expect(parseValuesQuery(valuesQuery("sales", "country").slice(0, 2))).toEqual({ domain: "sales", column: "country" });
    expect(parseValuesQuery([{ name: "domain", domain: "sales" }])).toBeNull();
    expect(variableName("Pays d'origine", [])).toBe("pays_d_origine");
    expect(variableName("2024", [])).toBe("f_2024");
    expect(variableName("Country", ["country"])).toBe("country_2");
  });
});

// The same cases pin the Python twin of this rule (toucan.apps.viewer_requests), which the
// demo's filter test uses to send what this page sends.

describe("the page's requests, as the Python rule builds them", () => {
  const config = shared.config as unknown as FrontConfig;
  for (const c of shared.cases) {
    it(`builds every request of ${c.story ?? "the home"} as expected`, () => {
      const slide = (config.slides ?? []).find((s) => s.id === c.story) ?? null;
      const shown = requestersOn(config, slide);
      expect(shown.map((r) => r.id)).toEqual(c.shown);
      const keys = slide ? storyCharts(slide).map((s) => [s.key, s.query] as const) : (config.home?.kpis ?? []).map((k, i) => [`home/${i}`, k.query] as const);
      const built = Object.fromEntries(keys.map(([key, query]) => [key, chartRequest(query, config.requesters ?? [], shown, c.values as unknown as Record<string, RequesterValue>, key)]));
      expect(built).toEqual(c.requests);
    });
  }
});

describe("the demo's Country filter", () => {
  const config = demo as unknown as FrontConfig;
  const country = (config.requesters ?? []).find((r) => r.id === "country")!;
  const filtered = (query: unknown) => JSON.stringify((query as unknown[])[1]) === JSON.stringify({ name: "filter", condition: { column: "country", operator: "eq", value: "{{ country }}" } });

  it("filters every home KPI", () => {
    const shown = requestersOn(config, null);
    expect(shown).toContain(country);
    (config.home?.kpis ?? []).forEach((k, i) => expect(filtered(chartRequest(k.query, [country], shown, { country: "Japan" }, `home/${i}`).query)).toBe(true));
  });

  it("filters every chart of the stories it shows on, and does not show on the country and region comparisons", () => {
    const independent: string[] = [];
    for (const slide of config.slides ?? []) {
      const shown = requestersOn(config, slide);
      if (!shown.includes(country)) {
        independent.push(slide.id);
        continue;
      }
      for (const c of storyCharts(slide)) expect(filtered(chartRequest(c.query, [country], shown, { country: "Japan" }, c.key).query), c.key).toBe(true);
    }
    expect(independent).toEqual(["regions-area", "top-countries"]);
  });
});
