import { describe, expect, it } from "vitest";
import type { Slide } from "./api";
import { chartWidth, editableCharts, storyCharts, withChartEdits } from "./stories";

const query = [{ name: "domain", domain: "sales" }];
const single: Slide = { id: "one", title: "One", chart: { type: "bar", x: "product" }, query };
const multi: Slide = {
  id: "dash",
  title: "Dashboard",
  charts: [
    { title: "Revenue", chart: { type: "kpi", value: "revenue" }, query, width: "third" },
    { chart: { type: "line" }, query },
    { title: "No request", chart: { type: "bar" } } as never,
    { title: "Table", chart: { type: "table" }, query, width: "wide" as never },
  ],
};

describe("storyCharts", () => {
  it("keeps a single chart, full width", () => {
    expect(storyCharts(single)).toEqual([{ key: "one/0", title: "", chart: single.chart, query, width: "full" }]);
  });

  it("lists every chart of a charts list with its title and width, half by default", () => {
    const charts = storyCharts(multi);
    expect(charts.map((c) => [c.key, c.title, c.chart.type, c.width])).toEqual([
      ["dash/0", "Revenue", "kpi", "third"],
      ["dash/1", "", "line", "half"],
      // The item without a data request has nothing to render; an unknown width is half.
      ["dash/3", "Table", "table", "half"],
    ]);
  });

  it("prefers charts over chart, and shows nothing for a slide without a chart", () => {
    expect(storyCharts({ ...multi, chart: { type: "pie" }, query }).length).toBe(3);
    expect(storyCharts({ id: "chapter" })).toEqual([]);
    expect(storyCharts({ id: "empty", charts: [] })).toEqual([]);
  });

  it("gives keys unique to the slide, so another story's charts never count", () => {
    const keys = [...storyCharts(single), ...storyCharts(multi)].map((c) => c.key);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe("chartWidth", () => {
  it("accepts the named widths only", () => {
    expect(chartWidth("quarter", "half")).toBe("quarter");
    expect(chartWidth("two-thirds", "half")).toBe("two-thirds");
    expect(chartWidth(6, "half")).toBe("half");
    expect(chartWidth("toString", "full")).toBe("full");
    expect(chartWidth(undefined, "full")).toBe("full");
  });
});

describe("story editor edits", () => {
  it("edits a single chart's spec and request", () => {
    const [edit] = editableCharts(single);
    expect(edit).toEqual({ index: 0, chart: single.chart, query });
    const saved = withChartEdits(single, [{ ...edit, chart: { type: "line" }, query: [] }]);
    expect(saved).toEqual({ ...single, chart: { type: "line" }, query: [] });
  });

  it("offers an empty chart on a slide without one", () => {
    expect(editableCharts({ id: "chapter" })).toEqual([{ index: 0, chart: {}, query: [] }]);
  });

  it("lists every chart of a charts list, incomplete ones too", () => {
    expect(editableCharts(multi).map((e) => [e.index, e.title, e.width])).toEqual([
      [0, "Revenue", "third"],
      [1, "", ""],
      [2, "No request", ""],
      [3, "Table", ""],
    ]);
  });

  it("changes only the edited chart of a charts list, keeping its other fields", () => {
    const withExtra: Slide = { ...multi, charts: [{ ...multi.charts![0], note: "kept" } as never, ...multi.charts!.slice(1)] };
    const saved = withChartEdits(withExtra, [{ index: 0, chart: { type: "gauge" }, query: [], title: "Rate", width: "quarter" }]);
    expect(saved.charts![0]).toEqual({ title: "Rate", chart: { type: "gauge" }, query: [], width: "quarter", note: "kept" });
    expect(saved.charts!.slice(1)).toEqual(multi.charts!.slice(1));
    expect(saved.chart).toBeUndefined();
    expect(multi.charts![0].chart.type).toBe("kpi"); // the original is untouched
  });

  it("removes a cleared title or width and keeps them when not given", () => {
    const cleared = withChartEdits(multi, [{ index: 0, chart: { type: "kpi" }, query, title: "", width: "" }]);
    expect(cleared.charts![0]).toEqual({ chart: { type: "kpi" }, query });
    const kept = withChartEdits(multi, [{ index: 0, chart: { type: "kpi" }, query }]);
    expect(kept.charts![0]).toEqual({ title: "Revenue", chart: { type: "kpi" }, query, width: "third" });
  });

  it("appends charts added past the end, in order", () => {
    const saved = withChartEdits(multi, [
      { index: 5, chart: { type: "pie" }, query, title: "", width: "" },
      { index: 4, chart: { type: "donut" }, query, title: "Mix", width: "full" },
    ]);
    expect(saved.charts!.slice(4)).toEqual([
      { chart: { type: "donut" }, query, title: "Mix", width: "full" },
      { chart: { type: "pie" }, query },
    ]);
  });
});
