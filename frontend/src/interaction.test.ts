import { describe, expect, it } from "vitest";
import {
  canDrill,
  crossFiltered,
  decodeValue,
  drilledQuery,
  drilledSpec,
  encodeValue,
  queryDomain,
  readState,
  stateQuery,
} from "./interaction";

const byRegion = [
  { name: "domain", domain: "sales" },
  { name: "aggregate", on: ["region"], aggregations: [{ columns: ["revenue"], aggfunction: "sum", newcolumns: ["revenue"] }] },
  { name: "sort", columns: [{ column: "region", order: "asc" }] },
];
const drill = ["region", "country", "city"];

describe("drill-down", () => {
  it("groups by the level's column, on the chosen parents' rows", () => {
    expect(drilledQuery(byRegion, drill, [])).toEqual(byRegion);
    expect(drilledQuery(byRegion, drill, ["EMEA"])).toEqual([
      { name: "domain", domain: "sales" },
      { name: "filter", condition: { column: "region", operator: "eq", value: "EMEA" } },
      { ...byRegion[1], on: ["country"] },
      { name: "sort", columns: [{ column: "country", order: "asc" }] },
    ]);
    const cities = drilledQuery(byRegion, drill, ["EMEA", "France"]) as Record<string, unknown>[];
    expect(cities.slice(1, 3).map((s) => s.condition)).toEqual([
      { column: "region", operator: "eq", value: "EMEA" },
      { column: "country", operator: "eq", value: "France" },
    ]);
    expect(cities[3].on).toEqual(["city"]);
  });

  it("stops at the last level and leaves other requests alone", () => {
    expect(canDrill({ type: "bar", drill }, ["EMEA", "France"])).toBe(false);
    expect(canDrill({ type: "bar", drill }, ["EMEA"])).toBe(true);
    expect(canDrill({ type: "bar" }, [])).toBe(false);
    expect(drilledQuery({ domain: "sales" }, drill, ["EMEA"])).toEqual({ domain: "sales" });
    expect(drilledSpec({ type: "bar", x: "region", y: ["revenue"], drill }, ["EMEA"]).x).toBe("country");
    expect(drilledSpec({ type: "pie", label: "region", value: "revenue", drill }, ["EMEA", "France"]).label).toBe("city");
  });
});

describe("cross-filtering", () => {
  const selection = { column: "country", value: "France", from: "story/0" };

  it("filters the other charts whose domain has the column", () => {
    const query = [{ name: "domain", domain: "sales" }];
    expect(crossFiltered(query, selection, "story/1", ["country", "revenue"])).toEqual([
      { name: "domain", domain: "sales" },
      { name: "filter", condition: { column: "country", operator: "eq", value: "France" } },
    ]);
    expect(crossFiltered(query, selection, "story/0", ["country"])).toBe(query); // the clicked chart
    expect(crossFiltered(query, selection, "story/1", ["region"])).toBe(query); // no such column
    expect(crossFiltered(query, null, "story/1", ["country"])).toBe(query);
    expect(queryDomain(query)).toBe("sales");
    expect(queryDomain({ domain: "sales" })).toBeNull();
  });
});

describe("a view as a link", () => {
  it("reads back exactly what it wrote", () => {
    for (const value of ["France", "2024", 2024, ["France", "Spain"], { start: "2024-01-01", end: null }, "{x", true, null]) {
      expect(decodeValue(encodeValue(value))).toEqual(value);
    }
    expect(encodeValue("France")).toBe("France"); // plain text stays readable
  });

  it("keeps filters, the selection and drill paths", () => {
    const state = {
      filters: { country: "Spain", years: [2023, 2024] },
      selection: { column: "channel", value: "Web", from: "s/1" },
      drills: { "s/0": ["EMEA"], "s/2": [] },
    };
    const query = stateQuery(state);
    expect(query).toEqual({
      "f.country": "Spain",
      "f.years": "[2023,2024]",
      "sel.column": "channel",
      "sel.value": "Web",
      "sel.from": "s/1",
      "drill.s/0": '["EMEA"]',
    });
    expect(readState(query)).toEqual({ ...state, drills: { "s/0": ["EMEA"] } });
  });

  it("drops what it cannot read", () => {
    expect(readState({ "drill.x": "{not a path", "sel.column": "c", "f.": "x", other: "1" })).toEqual({
      filters: {},
      selection: null,
      drills: {},
    });
    expect(readState({ "drill.x": '[{"a":1}]' }).drills).toEqual({});
  });
});
