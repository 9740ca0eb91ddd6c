import { describe, expect, it } from "vitest";
import type { Column } from "../api";
import {
  CHART_TYPES,
  emptyRoles,
  missingColumns,
  paletteOf,
  PALETTES,
  requestDomain,
  ROLES,
  withDomain,
  withPalette,
  withRole,
  withType,
} from "./builder";
import { THUMBNAILS } from "./options";

const columns: Column[] = [
  { name: "month", type: "date" },
  { name: "country", type: "string" },
  { name: "revenue", type: "double" },
  { name: "units", type: "integer" },
];

describe("chart types", () => {
  it("has roles and a thumbnail for every type of the gallery", () => {
    for (const type of CHART_TYPES) {
      expect(ROLES[type], type).toBeDefined();
      expect(THUMBNAILS[type], type).toBeTruthy();
    }
  });
});

describe("withType", () => {
  it("fills required roles from the columns: a category for x, numbers for y", () => {
    expect(withType({ type: "bar" }, "bar", columns)).toEqual({ type: "bar", x: "month", y: ["revenue"] });
    expect(withType({ type: "bar" }, "scatter", columns)).toEqual({ type: "scatter", x: "revenue", y: ["units"] });
  });

  it("carries mappings across types: x becomes a pie's label, y its value, and back", () => {
    const bar = { type: "bar", x: "country", y: ["revenue", "units"], series: "month", stacked: true, xTitle: "Country" };
    const pie = withType(bar, "pie", columns);
    expect(pie).toEqual({ type: "pie", label: "country", value: "revenue", xTitle: "Country" });
    expect(withType(pie, "line", columns)).toEqual({ type: "line", x: "country", y: ["revenue"], xTitle: "Country" });
    expect(withType(bar, "kpi", columns)).toEqual({ type: "kpi", value: "revenue", xTitle: "Country" });
  });

  it("keeps one y on single-measure types", () => {
    expect(withType({ type: "bar", x: "country", y: ["units", "revenue"] }, "leaderboard", columns).y).toEqual(["units"]);
  });
});

describe("roles and checks", () => {
  it("sets and clears roles", () => {
    const spec = withRole(withRole({ type: "bar" }, "y", ["revenue", ""]), "x", ["country"]);
    expect(spec).toEqual({ type: "bar", y: ["revenue"], x: "country" });
    expect(withRole(spec, "x", [])).toEqual({ type: "bar", y: ["revenue"] });
    expect(emptyRoles({ type: "bar", y: ["revenue"] })).toEqual(["x"]);
  });

  it("names each missing column with its role", () => {
    const spec = { type: "bar", x: "country", y: ["revenue", "margin"], series: "region", sort: { by: "rank" } };
    expect(missingColumns(spec, columns)).toEqual([
      { role: "y", column: "margin" },
      { role: "series", column: "region" },
      { role: "sort", column: "rank" },
    ]);
    expect(missingColumns(spec, [])).toEqual([]);
  });
});

describe("palettes and domains", () => {
  it("recognises palettes and removes colours for the default", () => {
    const warm = withPalette({ type: "bar", colors: ["#000"] }, "warm");
    expect(warm.colors).toEqual(PALETTES.warm);
    expect(paletteOf(warm)).toBe("warm");
    expect(paletteOf({ type: "bar", colors: ["#123456"] })).toBeNull();
    expect(withPalette(warm, "default")).toEqual({ type: "bar" });
  });

  it("reads and replaces the domain of pipelines and Mongo queries", () => {
    const pipeline = [{ name: "domain", domain: "sales" }, { name: "top", rank_on: "revenue", sort: "desc", limit: 3 }];
    expect(requestDomain(pipeline)).toBe("sales");
    expect(withDomain(pipeline, "costs")).toEqual([{ name: "domain", domain: "costs" }, pipeline[1]]);
    expect(requestDomain({ domain: "sales", country: "France" })).toBe("sales");
    expect(withDomain({ domain: "sales", country: "France" }, "costs")).toEqual({ domain: "costs", country: "France" });
    expect(withDomain([], "costs")).toEqual([{ name: "domain", domain: "costs" }]);
    expect(requestDomain([{ $match: { domain: "x" } }])).toBe("x");
  });
});
