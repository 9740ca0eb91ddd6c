// Chart specs (front config) + rows → ECharts options. Pure, unit-tested.
import type { ChartSpec, DataResult } from "../api";
import { formatNumber } from "./format";

export type Option = Record<string, unknown>;

export const PALETTE = ["#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16"];

export const ECHART_TYPES = new Set([
  "bar", "line", "area", "pie", "donut", "scatter", "heatmap", "gauge", "waterfall", "leaderboard",
]);

function column(rows: Record<string, unknown>[], name: string | undefined): unknown[] {
  return name ? rows.map((r) => r[name]) : [];
}

function categories(values: unknown[]): string[] {
  return values.map((v) => (v === null || v === undefined ? "–" : String(v)));
}

function valueAxis(spec: ChartSpec): Option {
  return { type: "value", axisLabel: { formatter: (v: number) => formatNumber(v, { ...spec.format, unit: undefined, compact: true }) } };
}

function base(spec: ChartSpec): Option {
  return {
    color: spec.colors?.length ? spec.colors : PALETTE,
    tooltip: { trigger: "axis", valueFormatter: (v: number) => formatNumber(v, spec.format) },
    grid: { left: 12, right: 24, top: 36, bottom: 12, containLabel: true },
    animationDuration: 300,
  };
}

/** Series grouped by a `series` column: one series per distinct value, aligned on x. */
function pivotSeries(rows: Record<string, unknown>[], x: string, y: string, by: string): { xs: string[]; series: Map<string, (number | null)[]> } {
  const xs = [...new Set(categories(column(rows, x)))];
  const series = new Map<string, (number | null)[]>();
  for (const row of rows) {
    const key = String(row[by] ?? "–");
    if (!series.has(key)) series.set(key, xs.map(() => null));
    series.get(key)![xs.indexOf(String(row[x] ?? "–"))] = row[y] as number;
  }
  return { xs, series };
}

export function buildOption(spec: ChartSpec, result: DataResult): Option {
  const rows = result.data;
  const x = spec.x ?? result.columns[0]?.name;
  const ys = spec.y?.length ? spec.y : result.columns.slice(1).map((c) => c.name);
  const kind = spec.type;
  if (kind === "pie" || kind === "donut") {
    const label = spec.label ?? x;
    const value = spec.value ?? ys[0];
    return {
      ...base(spec),
      tooltip: { trigger: "item", valueFormatter: (v: number) => formatNumber(v, spec.format) },
      legend: { bottom: 0, type: "scroll" },
      series: [
        {
          type: "pie",
          radius: kind === "donut" ? ["45%", "70%"] : "70%",
          data: rows.map((r) => ({ name: String(r[label!] ?? "–"), value: r[value!] })),
          label: { formatter: "{b}: {d}%" },
        },
      ],
    };
  }
  if (kind === "gauge") {
    const value = Number(rows[0]?.[spec.value ?? ys[0]] ?? 0);
    return {
      ...base(spec),
      series: [
        {
          type: "gauge",
          max: spec.max ?? Math.max(100, Math.ceil(value * 1.2)),
          progress: { show: true, width: 14 },
          detail: { formatter: () => formatNumber(value, spec.format), fontSize: 22 },
          data: [{ value }],
        },
      ],
    };
  }
  if (kind === "scatter") {
    return {
      ...base(spec),
      tooltip: { trigger: "item" },
      xAxis: { type: "value", name: x, scale: true },
      yAxis: { type: "value", name: ys[0], scale: true },
      series: [{ type: "scatter", symbolSize: 8, data: rows.map((r) => [r[x!], r[ys[0]]]) }],
    };
  }
  if (kind === "heatmap") {
    const seriesCol = spec.series ?? result.columns[1]?.name;
    const value = spec.value ?? ys[ys.length - 1];
    const xs = [...new Set(categories(column(rows, x)))];
    const yCats = [...new Set(categories(column(rows, seriesCol)))];
    const values = rows.map((r) => Number(r[value] ?? 0));
    return {
      ...base(spec),
      tooltip: { position: "top" },
      xAxis: { type: "category", data: xs },
      yAxis: { type: "category", data: yCats },
      visualMap: { min: Math.min(...values, 0), max: Math.max(...values, 1), calculable: true, orient: "horizontal", left: "center", bottom: 0 },
      grid: { left: 12, right: 24, top: 24, bottom: 60, containLabel: true },
      series: [
        {
          type: "heatmap",
          data: rows.map((r) => [xs.indexOf(String(r[x!] ?? "–")), yCats.indexOf(String(r[seriesCol!] ?? "–")), r[value]]),
        },
      ],
    };
  }
  if (kind === "waterfall") {
    const xs = categories(column(rows, x));
    const deltas = rows.map((r) => Number(r[ys[0]] ?? 0));
    let running = 0;
    const offsets: number[] = [];
    const ups: (number | string)[] = [];
    const downs: (number | string)[] = [];
    for (const d of deltas) {
      offsets.push(d >= 0 ? running : running + d);
      ups.push(d >= 0 ? d : "-");
      downs.push(d < 0 ? -d : "-");
      running += d;
    }
    return {
      ...base(spec),
      xAxis: { type: "category", data: xs },
      yAxis: valueAxis(spec),
      series: [
        { type: "bar", stack: "w", itemStyle: { color: "transparent" }, emphasis: { disabled: true }, data: offsets, tooltip: { show: false } },
        { type: "bar", stack: "w", name: "+", itemStyle: { color: "#10b981" }, data: ups },
        { type: "bar", stack: "w", name: "−", itemStyle: { color: "#ef4444" }, data: downs },
      ],
    };
  }
  if (kind === "leaderboard") {
    const sorted = [...rows].sort((a, b) => Number(b[ys[0]] ?? 0) - Number(a[ys[0]] ?? 0)).slice(0, 10).reverse();
    return {
      ...base(spec),
      xAxis: valueAxis(spec),
      yAxis: { type: "category", data: categories(column(sorted, x)) },
      series: [{ type: "bar", data: column(sorted, ys[0]), label: { show: true, position: "right", formatter: (p: { value: number }) => formatNumber(p.value, { ...spec.format, compact: true }) } }],
    };
  }
  // bar, line, area
  const type = kind === "area" ? "line" : kind === "line" ? "line" : "bar";
  let xs: string[];
  let series: Option[];
  if (spec.series) {
    const pivot = pivotSeries(rows, x!, ys[0], spec.series);
    xs = pivot.xs;
    series = [...pivot.series.entries()].map(([name, data]) => ({ name, type, data }));
  } else {
    xs = categories(column(rows, x));
    series = ys.map((name) => ({ name, type, data: column(rows, name) }));
  }
  for (const s of series) {
    if (spec.stacked) s.stack = "total";
    if (kind === "area") s.areaStyle = { opacity: 0.25 };
    if (type === "line") s.showSymbol = xs.length <= 36;
  }
  // Every label when they fit; rotated when there are many.
  const category = { type: "category", data: xs, axisLabel: { interval: 0, hideOverlap: true, rotate: xs.length > 8 ? 35 : 0 } };
  return {
    ...base(spec),
    legend: series.length > 1 ? { top: 0, type: "scroll" } : undefined,
    xAxis: spec.horizontal ? valueAxis(spec) : category,
    yAxis: spec.horizontal ? category : valueAxis(spec),
    series,
  };
}

/** KPI: the value of the first row, and the trend against a second column when given. */
export function kpi(spec: ChartSpec, result: DataResult): { value: unknown; trend: number | null } {
  const row = result.data[0] ?? {};
  const value = row[spec.value ?? result.columns[0]?.name ?? ""];
  if (!spec.trend) return { value, trend: null };
  const previous = Number(row[spec.trend]);
  const current = Number(value);
  return { value, trend: previous ? (current - previous) / Math.abs(previous) : null };
}
