import { describe, expect, it } from "vitest";
import raw from "./pipelineCatalog.test.json";
import {
  canonicalPipeline,
  classify,
  errorAt,
  formFields,
  moved,
  newStep,
  parseList,
  parseValue,
  queryError,
  stepError,
  stepMenu,
  summary,
  type FieldSpec,
  type StepCatalog,
} from "./pipeline";

// The catalog GET /pipeline-steps answers (tests/api/test_pipeline_steps.py checks this copy is current).
const catalog = raw as unknown as StepCatalog;
const info = (name: string) => catalog.steps.find((s) => s.name === name)!;
const fields = (name: string) => formFields(info(name).schema, (info(name).schema.$defs ?? {}) as never, name);
const byKey = (fs: FieldSpec[]) => Object.fromEntries(fs.map((f) => [f.key, f]));

describe("step forms from the JSON Schema", () => {
  it("gives every step type of the catalog a form whose every field has a control", () => {
    expect(catalog.steps.length).toBeGreaterThan(40);
    const walk = (fs: FieldSpec[], step: string): void => {
      for (const f of fs) {
        // JSON text is never the only way: no field falls back to it.
        expect([step, f.key, f.kind]).not.toEqual([step, f.key, "json"]);
        if (f.fields) walk(f.fields, step);
        if (f.items) walk(f.items, step);
      }
    };
    for (const s of catalog.steps) {
      const fs = fields(s.name);
      expect(fs.length, s.name).toBeGreaterThan(0);
      walk(fs, s.name);
    }
  });

  it("shows the canonical spelling of each field once, required ones marked", () => {
    const top = byKey(fields("top"));
    expect(Object.keys(top)).toEqual(["rank_on", "sort", "limit", "groups"]);
    expect(top.rank_on).toMatchObject({ kind: "column", required: true });
    expect(top.sort).toMatchObject({ kind: "enum", options: ["asc", "desc"], required: false, default: "desc" });
    expect(top.limit).toMatchObject({ kind: "number", integer: true, required: true });
    expect(top.groups.kind).toBe("columns");
  });

  it("draws parts, conditions, pairs, new names and nested pipelines with their own controls", () => {
    const aggregate = byKey(fields("aggregate"));
    expect(aggregate.aggregations.kind).toBe("objects");
    expect(byKey(aggregate.aggregations.fields!)).toMatchObject({
      columns: { kind: "columns", required: true },
      agg_function: { kind: "enum", required: true },
      new_columns: { kind: "names", required: false },
    });
    expect(aggregate.keep_original_granularity.kind).toBe("boolean");
    expect(byKey(fields("filter")).condition.kind).toBe("condition");
    expect(byKey(fields("formula"))).toMatchObject({ formula: { kind: "text" }, new_column: { kind: "name", required: true } });
    expect(byKey(fields("rename")).to_rename.items!.map((f) => f.kind)).toEqual(["column", "name"]);
    expect(byKey(fields("join")).right_pipeline.kind).toBe("pipeline");
    expect(byKey(fields("append")).pipelines.kind).toBe("pipelines");
    expect(byKey(fields("domain")).domain.kind).toBe("domain");
    expect(byKey(fields("sort")).columns.fields!.map((f) => f.key)).toEqual(["column", "order"]);
  });

  it("classifies plain schemas", () => {
    expect(classify({ type: "boolean" }, {}).kind).toBe("boolean");
    expect(classify({ anyOf: [{ type: "integer" }, { type: "null" }] }, {}).kind).toBe("number");
    expect(classify({ type: "array", items: { type: "string" } }, {}).kind).toBe("values");
    expect(classify({ type: "object", additionalProperties: true }, {}).kind).toBe("json");
  });
});

describe("new steps", () => {
  it("start with their required fields, filled with the first column or the default", () => {
    expect(newStep(info("filter"), ["country", "revenue"])).toEqual({
      name: "filter",
      condition: { column: "country", operator: "eq", value: "" },
    });
    expect(newStep(info("aggregate"), ["country"])).toEqual({
      name: "aggregate",
      aggregations: [{ columns: [], agg_function: "sum" }],
    });
    expect(newStep(info("sort"), ["country"])).toEqual({ name: "sort", columns: [{ column: "country" }] });
    expect(newStep(info("formula"))).toEqual({ name: "formula", formula: "", new_column: "" });
  });
});

describe("canonical spelling", () => {
  it("rewrites every other spelling, in parts and nested pipelines, and keeps the values", () => {
    const out = canonicalPipeline(
      [
        { name: "domain", domain: "sales" },
        { name: "top", rankOn: "revenue", limit: 3 },
        { name: "aggregate", on: ["c"], aggregations: [{ aggfunction: "sum", columns: ["r"], newcolumns: ["t"] }] },
        { name: "join", rightPipeline: [{ name: "domain", domain: "b" }, { name: "formula", newColumn: "x", formula: "1" }], on: [["c", "c"]] },
        { name: "filter", condition: { and: [{ column: "a", operator: "eq", value: 1 }] } },
        { name: "nosuchstep", fooBar: 1 },
      ],
      catalog,
    );
    expect(out).toEqual([
      { name: "domain", domain: "sales" },
      { name: "top", rank_on: "revenue", limit: 3 },
      { name: "aggregate", on: ["c"], aggregations: [{ agg_function: "sum", columns: ["r"], new_columns: ["t"] }] },
      { name: "join", right_pipeline: [{ name: "domain", domain: "b" }, { name: "formula", new_column: "x", formula: "1" }], on: [["c", "c"]] },
      { name: "filter", condition: { and: [{ column: "a", operator: "eq", value: 1 }] } },
      { name: "nosuchstep", fooBar: 1 },
    ]);
  });
});

describe("values, errors, order and the menu", () => {
  it("reads typed values by the column's type", () => {
    expect(parseValue("12", "integer")).toBe(12);
    expect(parseValue("12", "string")).toBe("12");
    expect(parseValue("1.5")).toBe(1.5);
    expect(parseValue("France")).toBe("France");
    expect(parseValue("true", "boolean")).toBe(true);
    expect(parseList("France, Spain ,", "string")).toEqual(["France", "Spain"]);
    expect(parseList("1, 2", "float")).toEqual([1, 2]);
  });

  it("places the API's 400 at its step and field", () => {
    const e = stepError({ step: 2, name: "aggregate", field: "aggregations", location: ["aggregations", 0, "columns"] }, "bad");
    expect(e).toEqual({ step: 2, field: "aggregations", location: ["aggregations", 0, "columns"], message: "bad" });
    expect(errorAt(e, 2, "aggregations")).toBe(true);
    expect(errorAt(e, 2, "aggregations", [0, "columns"])).toBe(true);
    expect(errorAt(e, 2, "aggregations", [1, "columns"])).toBe(false);
    expect(errorAt(e, 1, "aggregations")).toBe(false);
    expect(stepError({ step: [3, 1], field: "limit" }, "x")?.step).toBe(3); // a nested pipeline's step: its join
    expect(stepError({ column: "x" }, "x")).toBeNull();
  });

  it("moves steps but keeps the domain first", () => {
    expect(moved(["d", "a", "b", "c"], 3, 1)).toEqual(["d", "c", "a", "b"]);
    expect(moved(["d", "a", "b"], 1, 0)).toEqual(["d", "a", "b"]);
  });

  it("groups the menu by family and searches titles and descriptions", () => {
    const menu = stepMenu(catalog);
    expect(menu[0].name).toBe("rows");
    expect(menu.flatMap((f) => f.steps.map((s) => s.name))).not.toContain("domain");
    expect(stepMenu(catalog, "sum").flatMap((f) => f.steps.map((s) => s.name))).toContain("cumsum");
    expect(stepMenu(catalog, "zzzz")).toEqual([]);
  });

  it("sums a step up in a few words", () => {
    expect(summary({ name: "filter", condition: { column: "country", operator: "eq", value: "France" } })).toBe("country = France");
    expect(summary({ name: "sort", columns: [{ column: "revenue", order: "desc" }] })).toBe("revenue desc");
  });
});

describe("query errors", () => {
  it("are placed at the field holding the column the message quotes", () => {
    const step = { name: "aggregate", on: ["country"], aggregations: [{ columns: ["revenu"], agg_function: "sum" }] };
    const e = queryError(step, 2, 'The query failed: Binder Error: Referenced column "revenu" not found');
    expect(e).toMatchObject({ step: 2, field: "aggregations", location: ["aggregations", 0, "columns", 0] });
    expect(errorAt(e, 2, "aggregations", [0, "columns"])).toBe(true);
    expect(queryError(step, 2, "The query failed: something").field).toBeNull();
  });
});
