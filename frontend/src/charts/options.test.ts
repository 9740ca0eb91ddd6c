import { describe, expect, it } from "vitest";
import type { DataResult } from "../api";
import { buildOption, kpi } from "./options";
import { formatNumber } from "./format";
import { majorsDiffer } from "../version";

const result: DataResult = {
  data: [
    { country: "France", channel: "web", revenue: 10 },
    { country: "France", channel: "store", revenue: 5 },
    { country: "Spain", channel: "web", revenue: 7 },
  ],
  columns: [
    { name: "country", type: "string" },
    { name: "channel", type: "string" },
    { name: "revenue", type: "integer" },
  ],
  total: 3,
  truncated: false,
};

describe("buildOption", () => {
  it("makes a grouped bar chart with one series per value of the series column", () => {
    const option = buildOption({ type: "bar", x: "country", y: ["revenue"], series: "channel" }, result) as any;
    expect(option.xAxis.data).toEqual(["France", "Spain"]);
    expect(option.series.map((s: any) => s.name)).toEqual(["web", "store"]);
    expect(option.series[0].data).toEqual([10, 7]);
    expect(option.series[1].data).toEqual([5, null]);
    expect(option.series[0].stack).toBeUndefined();
  });

  it("stacks, turns horizontal and fills areas", () => {
    const stacked = buildOption({ type: "bar", x: "country", y: ["revenue"], stacked: true, horizontal: true }, result) as any;
    expect(stacked.series[0].stack).toBe("total");
    expect(stacked.yAxis.type).toBe("category");
    const area = buildOption({ type: "area", x: "country", y: ["revenue"] }, result) as any;
    expect(area.series[0].type).toBe("line");
    expect(area.series[0].areaStyle).toBeDefined();
  });

  it("makes pies and donuts from label and value", () => {
    const donut = buildOption({ type: "donut", label: "channel", value: "revenue" }, result) as any;
    expect(donut.series[0].radius).toEqual(["45%", "70%"]);
    expect(donut.series[0].data[0]).toEqual({ name: "web", value: 10 });
  });

  it("computes waterfall offsets", () => {
    const wf = buildOption(
      { type: "waterfall", x: "step", y: ["delta"] },
      { ...result, data: [{ step: "a", delta: 10 }, { step: "b", delta: -4 }, { step: "c", delta: 3 }] },
    ) as any;
    expect(wf.xAxis.data).toEqual(["a", "b", "c", "Total"]);
    expect(wf.series[0].data).toEqual([0, 6, 6, 0]);
    expect(wf.series[1].data).toEqual([10, "-", 3, "-"]);
    expect(wf.series[2].data).toEqual(["-", 4, "-", "-"]);
    // The total they come to, as a last bar of its own colour.
    expect(wf.series[3].data).toEqual(["-", "-", "-", 9]);
    expect(wf.series[1].itemStyle.color).not.toBe(wf.series[2].itemStyle.color);
    expect(wf.tooltip.formatter([{ dataIndex: 1, axisValue: "b" }])).toBe("b: -4");
    expect(wf.tooltip.formatter([{ dataIndex: 3, axisValue: "Total" }])).toBe("Total: 9");
  });

  it("sorts leaderboards", () => {
    const lb = buildOption({ type: "leaderboard", x: "country", y: ["revenue"] }, result) as any;
    expect(lb.yAxis.data).toEqual(["France", "Spain", "France"]);
    expect(lb.series[0].data).toEqual([5, 7, 10]);
  });
});

describe("kpi and formats", () => {
  it("gives the value and the trend", () => {
    const k = kpi({ type: "kpi", value: "now", trend: "before" }, { ...result, data: [{ now: 120, before: 100 }] });
    expect(k.value).toBe(120);
    expect(k.trend).toBeCloseTo(0.2);
  });

  it("formats numbers with units, prefixes and percents", () => {
    expect(formatNumber(1234.5, { decimals: 1, unit: "€" })).toBe("1,234.5\u00a0€");
    // One percent style per locale, as Intl writes it.
    expect(formatNumber(0.25, { percent: true, decimals: 0 })).toBe("25%");
    expect(formatNumber(0.25, { percent: true, decimals: 0 }, "fr")).toBe("25\u00a0%");
    expect(formatNumber(null)).toBe("–");
  });

  it("warns only when major versions differ", () => {
    expect(majorsDiffer("0.1.0", "v0.3.2")).toBe(false);
    expect(majorsDiffer("1.0.0", "2.0.0")).toBe(true);
  });
});

describe("builder settings in buildOption", () => {
  it("sorts rows, titles axes and places or hides the legend", () => {
    const option = buildOption(
      {
        type: "bar",
        x: "country",
        y: ["revenue"],
        series: "channel",
        sort: { by: "revenue", order: "desc" },
        xTitle: "Country",
        yTitle: "Revenue",
        legend: { position: "bottom" },
      },
      result,
    ) as any;
    expect(option.xAxis.name).toBe("Country");
    expect(option.yAxis.name).toBe("Revenue");
    expect(option.legend.bottom).toBe(0);
    // Sorted by revenue descending: France (10) first, Spain (7) second.
    expect(option.xAxis.data).toEqual(["France", "Spain"]);
    const hidden = buildOption({ type: "bar", x: "country", y: ["revenue"], series: "channel", legend: { show: false } }, result) as any;
    expect(hidden.legend).toBeUndefined();
    const asc = buildOption({ type: "bar", x: "country", y: ["revenue"], sort: { by: "revenue" } }, result) as any;
    expect(asc.series[0].data).toEqual([5, 7, 10]);
  });

  it("formats date categories and numbers in a locale", () => {
    const dates: DataResult = {
      data: [{ month: "2024-01-01", v: 1234.5 }, { month: "2024-02-01", v: 2 }],
      columns: [{ name: "month", type: "date" }, { name: "v", type: "double" }],
      total: 2,
      truncated: false,
    };
    const option = buildOption({ type: "line", x: "month", y: ["v"], format: { date: "month", locale: "fr" } }, dates) as any;
    expect(option.xAxis.data).toEqual(["janv. 2024", "févr. 2024"]);
    expect(option.tooltip.valueFormatter(1234.5)).toBe(formatNumber(1234.5, { locale: "fr" }, "en", "tooltip"));
    expect(formatNumber(1234.5, { decimals: 1, locale: "fr" })).toBe("1\u202f234,5");
    expect(formatNumber(1234567, { compact: true })).toBe("1.23M");
    // Ticks of the value axis never read alike.
    const ticks = [0, 500_000, 1_000_000, 1_500_000, 2_000_000, 2_500_000];
    const bars = buildOption({ type: "bar", x: "c", y: ["v"] }, { ...dates, data: [{ c: "a", v: 2_600_000 }], columns: [{ name: "c", type: "text" }, { name: "v", type: "double" }] }) as any;
    expect(ticks.map(bars.yAxis.axisLabel.formatter)).toEqual(["0", "500K", "1M", "1.5M", "2M", "2.5M"]);
  });

  it("colours, sizes and labels scatter points", () => {
    const option = buildOption({ type: "scatter", x: "revenue", y: ["revenue"], color: "channel", size: "revenue", label: "country" }, result) as any;
    expect(option.series.map((s: any) => s.name)).toEqual(["web", "store"]);
    expect(option.series[0].data[0]).toEqual([10, 10, 10, "France"]);
    expect(option.series[0].symbolSize([0, 0, 10])).toBe(32);
    expect(option.series[1].symbolSize([0, 0, 0])).toBe(6);
  });
});

describe("what a click picks", () => {
  it("gives the raw value behind each category", async () => {
    const { buildChart } = await import("./options");
    const data: DataResult = {
      data: [{ month: "2024-01-01", v: 3 }, { month: "2024-02-01", v: 5 }],
      columns: [{ name: "month", type: "date" }, { name: "v", type: "float" }],
      total: 2,
      truncated: false,
    };
    const bar = buildChart({ type: "bar", x: "month", y: ["v"], format: { date: "month" } }, data);
    expect((bar.option.xAxis as { data: string[] }).data).toEqual(["Jan 2024", "Feb 2024"]);
    expect(bar.pick).toEqual({ column: "month", values: ["2024-01-01", "2024-02-01"], labels: ["Jan 2024", "Feb 2024"] });
    const pie = buildChart({ type: "pie", label: "month", value: "v" }, data);
    expect(pie.pick?.column).toBe("month");
    expect(buildChart({ type: "gauge", value: "v" }, data).pick).toBeNull();
    const top = buildChart({ type: "leaderboard", x: "month", y: ["v"] }, data);
    expect(top.pick?.values).toEqual(["2024-01-01", "2024-02-01"]); // drawn bottom-up: smallest first
    expect(top.pick?.labels).toEqual(["2024-01-01", "2024-02-01"]); // no date format: as they are
  });
});
