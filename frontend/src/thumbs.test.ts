import { describe, expect, it } from "vitest";
import { miniOption, miniTable } from "./thumbs";
import { neighbours, readingOrder } from "./stories";

describe("thumbnails", () => {
  it("keeps a chart's series and colours, and drops what is there to read", () => {
    const full = {
      color: ["#123456"],
      legend: { bottom: 0 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: ["a", "b"], name: "Month" },
      yAxis: [{ type: "value", axisLabel: { formatter: "x" } }],
      series: [{ type: "line", data: [1, 2], label: { show: true }, markLine: { data: [] } }],
    };
    const mini = miniOption(full);
    expect(mini.legend).toBeUndefined();
    expect(mini.tooltip).toEqual({ show: false });
    expect(mini.color).toEqual(["#123456"]);
    expect(mini.xAxis).toMatchObject({ type: "category", data: ["a", "b"], name: "", axisLabel: { show: false } });
    expect((mini.yAxis as unknown[])[0]).toMatchObject({ type: "value", axisLabel: { show: false } });
    const [line] = mini.series as Record<string, unknown>[];
    expect(line).toMatchObject({ type: "line", data: [1, 2], label: { show: false }, symbol: "none" });
    expect(line.markLine).toBeUndefined();
    // The full option is not changed: the story's own chart still uses it.
    expect(full.legend).toEqual({ bottom: 0 });
    expect(full.series[0].label).toEqual({ show: true });
  });

  it("fills the box with a pie and hides a gauge's and a heatmap's texts", () => {
    const mini = miniOption({ series: [{ type: "pie", radius: ["45%", "70%"] }, { type: "gauge", detail: { formatter: "x" } }], visualMap: { min: 0, max: 3 } });
    const [pie, gauge] = mini.series as Record<string, unknown>[];
    expect(pie.radius).toEqual(["45%", "85%"]);
    expect(gauge.detail).toEqual({ show: false });
    expect(mini.visualMap).toEqual({ min: 0, max: 3, show: false });
  });

  it("takes a table's first rows and columns, the chosen columns first", () => {
    const result = { columns: ["a", "b", "c", "d"].map((name) => ({ name, type: "string" })), data: [1, 2, 3, 4, 5].map((i) => ({ a: i, b: i * 2, c: "x", d: "y" })) };
    expect(miniTable(result as never)).toEqual({ header: ["a", "b", "c"], rows: [1, 2, 3, 4].map((i) => [i, i * 2, "x"]) });
    expect(miniTable(result as never, ["d", "a"], 2)).toEqual({ header: ["d", "a"], rows: [["y", 1], ["y", 2]] });
  });
});

describe("previous and next story", () => {
  const slides = [
    { id: "c1" },
    { id: "c2" },
    { id: "s1", parent_id: "c1" },
    { id: "s3", parent_id: "c2" },
    { id: "s2", parent_id: "c1" },
    { id: "lost", parent_id: "gone" },
  ];
  it("reads each chapter, then its stories, in their order", () => {
    expect(readingOrder(slides).map((s) => s.id)).toEqual(["c1", "s1", "s2", "c2", "s3", "lost"]);
  });
  it("links across chapters, and nothing past either end", () => {
    expect(neighbours(slides, "s2")).toEqual({ previous: slides[2], next: slides[1] });
    expect(neighbours(slides, "c1").previous).toBeNull();
    expect(neighbours(slides, "lost").next).toBeNull();
    expect(neighbours(slides, "nope")).toEqual({ previous: null, next: null });
  });
});

describe("thumbnail data", () => {
  it("asks once per request in production, every time in staging", async () => {
    const { api } = await import("./api");
    const { thumbData } = await import("./thumbs");
    const calls: unknown[] = [];
    const original = api.data;
    api.data = ((...args: unknown[]) => {
      calls.push(args);
      return Promise.resolve({ columns: [], data: [] });
    }) as unknown as typeof api.data;
    try {
      await thumbData("a", "production", [{ name: "domain", domain: "d" }], { c: "x" });
      await thumbData("a", "production", [{ name: "domain", domain: "d" }], { c: "x" });
      expect(calls).toHaveLength(1);
      await thumbData("a", "production", [{ name: "domain", domain: "d" }], { c: "y" });
      expect(calls).toHaveLength(2);
      await thumbData("a", "staging", [{ name: "domain", domain: "d" }], { c: "x" });
      await thumbData("a", "staging", [{ name: "domain", domain: "d" }], { c: "x" });
      expect(calls).toHaveLength(4);
    } finally {
      api.data = original;
    }
  });
});
