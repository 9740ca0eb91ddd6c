// Chart specs (front config) + rows → ECharts options. Pure, unit-tested.
import type { ChartSpec, DataResult, NumberFormat } from "../api";
import { axisFormatterFor } from "../numbers";
import { formatDate, formatNumber } from "./format";

export type Option = Record<string, unknown>;

/**
 * The default series colours: colour-blind safe (Okabe–Ito's blue, vermillion and green, then
 * darker tones), each at least 3:1 against the chart's background (WCAG 1.4.11), every pair
 * apart under deuteranopia and protanopia (palettes.test.ts checks both).
 */
export const PALETTE = ["#0072b2", "#d55e00", "#009e73", "#4f46e5", "#b91c1c", "#3b82f6", "#1e293b", "#6b7280"];
/** A heatmap's scale: one hue from light to dark, so its order reads by lightness alone (in any
 * colour vision, and in grey); its darkest end stands 3:1 from the panel. */
export const HEAT_SCALE = ["#eaf2fb", "#a8cbe8", "#4f93c9", "#1c5f9e", "#0b3463"];

/** A waterfall's steps up and down, and its total: told apart without red–green vision too. */
export const WATERFALL = { up: "#059669", down: "#b91c1c", total: PALETTE[0] };

export const ECHART_TYPES = new Set([
  "bar", "line", "area", "pie", "donut", "scatter", "heatmap", "gauge", "waterfall", "leaderboard",
]);

function column(rows: Record<string, unknown>[], name: string | undefined): unknown[] {
  return name ? rows.map((r) => r[name]) : [];
}

// The spec being drawn: category labels read its date format and locale (set by buildOption).
let dateFormat: { date?: NumberFormat["date"]; locale: string } = { locale: "en" };

function categories(values: unknown[]): string[] {
  return values.map((v) =>
    v === null || v === undefined ? "–" : dateFormat.date ? formatDate(v, dateFormat.date, dateFormat.locale) : String(v),
  );
}

/** A value axis whose ticks read compact and never alike (0 / 500K / 1M / 1.5M, not 1M / 2M / 2M). */
function valueAxis(spec: ChartSpec, title: string | undefined, values: unknown[]): Option {
  const format = { ...spec.format, unit: undefined, compact: spec.format?.compact ?? true };
  return {
    type: "value",
    ...axisTitle(title, "value"),
    axisLabel: { formatter: axisFormatterFor(values, format, spec.format?.locale || dateFormat.locale) },
  };
}

/** Tooltips give the exact value, in the chart's locale. */
function exact(spec: ChartSpec): (v: number) => string {
  return (v: number) => formatNumber(v, spec.format, dateFormat.locale, "tooltip");
}

function axisTitle(title: string | undefined, kind: "value" | "category"): Option {
  return title ? { name: title, nameLocation: "middle", nameGap: kind === "value" ? 44 : 32, nameTextStyle: { fontWeight: 600 } } : {};
}

/** The legend the spec asks for: hidden, or at a side (`fallback` when the spec says nothing). */
export function legendOption(spec: ChartSpec, fallback: "top" | "bottom" | "left" | "right" | null): Option | undefined {
  if (spec.legend?.show === false) return undefined;
  const position = spec.legend?.position ?? (spec.legend?.show ? "top" : fallback);
  if (!position) return undefined;
  const vertical = position === "left" || position === "right";
  return { type: "scroll", orient: vertical ? "vertical" : "horizontal", [position]: 0, ...(vertical ? { top: "middle" } : {}) };
}

/** Room for a legend at a side, and for axis titles. */
function grid(spec: ChartSpec, legend: Option | undefined): Option {
  const g: Record<string, number | boolean> = { left: 12, right: 24, top: 36, bottom: 12, containLabel: true };
  if (legend?.orient === "vertical") g[legend.left !== undefined ? "left" : "right"] = 120;
  if (legend && legend.bottom !== undefined) g.bottom = 36;
  if (legend === undefined) g.top = 16;
  if (spec.xTitle) g.bottom = Number(g.bottom) + 24;
  if (spec.yTitle) g.left = Number(g.left) + 24;
  return g;
}

function base(spec: ChartSpec): Option {
  return {
    color: spec.colors?.length ? spec.colors : PALETTE,
    // confine: a tooltip stays inside its chart (a phone's narrow screen); a tap shows it.
    tooltip: { trigger: "axis", valueFormatter: exact(spec), confine: true },
    grid: grid(spec, undefined),
    animationDuration: 300,
  };
}

/** Rows in the order the spec's `sort` asks (numbers as numbers, the rest as text); a copy. */
export function sortRows(rows: Record<string, unknown>[], sort: ChartSpec["sort"]): Record<string, unknown>[] {
  if (!sort?.by) return rows;
  const sign = sort.order === "desc" ? -1 : 1;
  const by = sort.by;
  return [...rows].sort((a, b) => {
    const x = a[by];
    const y = b[by];
    if (x === y) return 0;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    if (typeof x === "number" && typeof y === "number") return (x - y) * sign;
    return String(x).localeCompare(String(y)) * sign;
  });
}

/** Series grouped by a `series` column: one series per distinct value, aligned on x. */
function pivotSeries(rows: Record<string, unknown>[], x: string, y: string, by: string): { xs: string[]; series: Map<string, (number | null)[]> } {
  const labels = categories(column(rows, x));
  const xs = [...new Set(labels)];
  const place = new Map(xs.map((v, i) => [v, i]));
  const series = new Map<string, (number | null)[]>();
  for (const [i, row] of rows.entries()) {
    const key = categories([row[by]])[0];
    if (!series.has(key)) series.set(key, xs.map(() => null));
    series.get(key)![place.get(labels[i])!] = row[y] as number;
  }
  return { xs, series };
}

/**
 * What a click on a category picks: the column and, per category index, its raw value (the
 * axis shows formatted labels). Read by the chart panel, never passed to ECharts.
 */
export interface Pick {
  column: string;
  values: unknown[];
  /** What the chart shows for each value (its axis labels): the keyboard's list of categories. */
  labels: string[];
}

/** The raw value behind each distinct label of `column`, in the labels' order. */
function rawByLabel(rows: Record<string, unknown>[], name: string): unknown[] {
  const seen = new Map<string, unknown>();
  for (const row of rows) {
    const label = categories([row[name]])[0];
    if (!seen.has(label)) seen.set(label, row[name]);
  }
  return [...seen.values()];
}

/** The ECharts option and what a click on a category picks. */
export function buildChart(spec: ChartSpec, result: DataResult, locale = "en"): { option: Option; pick: Pick | null } {
  const option = buildOption(spec, result, locale);
  const picked = (column: string, values: unknown[]) => ({ option, pick: { column, values, labels: categories(values) } });
  const rows = sortRows(result.data, spec.sort);
  const x = spec.x ?? result.columns[0]?.name;
  const ys = spec.y?.length ? spec.y : result.columns.slice(1).map((c) => c.name);
  if (!x) return { option, pick: null };
  switch (spec.type) {
    case "pie":
    case "donut": {
      const label = spec.label ?? x;
      return picked(label, rows.map((r) => r[label]));
    }
    case "leaderboard": {
      const sorted = [...rows].sort((a, b) => Number(b[ys[0]] ?? 0) - Number(a[ys[0]] ?? 0)).slice(0, 10).reverse();
      return picked(x, sorted.map((r) => r[x]));
    }
    case "bar":
    case "line":
    case "area":
      return picked(x, spec.series ? rawByLabel(rows, x) : rows.map((r) => r[x]));
    default:
      return { option, pick: null };
  }
}

export function buildOption(spec: ChartSpec, result: DataResult, locale = "en"): Option {
  dateFormat = { date: spec.format?.date, locale: spec.format?.locale || locale };
  const rows = sortRows(result.data, spec.sort);
  const x = spec.x ?? result.columns[0]?.name;
  const ys = spec.y?.length ? spec.y : result.columns.slice(1).map((c) => c.name);
  const kind = spec.type;
  if (kind === "pie" || kind === "donut") {
    const label = spec.label ?? x;
    const value = spec.value ?? ys[0];
    return {
      ...base(spec),
      tooltip: { trigger: "item", valueFormatter: exact(spec), confine: true },
      legend: legendOption(spec, "bottom"),
      series: [
        {
          type: "pie",
          radius: kind === "donut" ? ["45%", "70%"] : "70%",
          data: rows.map((r) => ({ name: categories([r[label!]])[0], value: r[value!] })),
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
          detail: { formatter: () => formatNumber(value, spec.format, dateFormat.locale, "kpi"), fontSize: 22 },
          data: [{ value }],
        },
      ],
    };
  }
  if (kind === "scatter") {
    // Points sized by `size` (6 to 32 px), one series per value of `color`, labelled by `label`.
    const sizes = spec.size ? rows.map((r) => Number(r[spec.size!] ?? 0)) : [];
    const low = Math.min(...sizes, 0);
    const high = Math.max(...sizes, 1);
    const point = (r: Record<string, unknown>) => [r[x!], r[ys[0]], spec.size ? r[spec.size] : null, spec.label ? r[spec.label] : null];
    const symbolSize = spec.size ? (p: unknown[]) => 6 + (26 * (Number(p[2] ?? 0) - low)) / (high - low || 1) : 8;
    const groups = new Map<string, Record<string, unknown>[]>();
    for (const r of rows) {
      const key = spec.color ? categories([r[spec.color]])[0] : (ys[0] ?? "");
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key)!.push(r);
    }
    const legend = spec.color ? legendOption(spec, "top") : undefined;
    return {
      ...base(spec),
      grid: grid(spec, legend),
      legend,
      tooltip: { trigger: "item", confine: true },
      xAxis: { type: "value", scale: true, ...axisTitle(spec.xTitle ?? x, "category") },
      yAxis: { type: "value", scale: true, ...axisTitle(spec.yTitle ?? ys[0], "value") },
      series: [...groups.entries()].map(([name, group]) => ({
        name,
        type: "scatter",
        symbolSize,
        data: group.map(point),
        label: spec.label ? { show: true, position: "top", formatter: (p: { value: unknown[] }) => String(p.value[3] ?? "") } : undefined,
      })),
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
      tooltip: { position: "top", confine: true },
      // Every row and column named (a phone shrinks the text rather than skip labels).
      xAxis: { type: "category", data: xs, ...axisTitle(spec.xTitle, "category"), axisLabel: { interval: 0, hideOverlap: true, rotate: xs.length > 6 ? 35 : 0 } },
      yAxis: { type: "category", data: yCats, ...axisTitle(spec.yTitle, "category"), axisLabel: { interval: 0, fontSize: yCats.length > 8 ? 10 : 12 } },
      visualMap: { min: Math.min(...values, 0), max: Math.max(...values, 1), calculable: true, orient: "horizontal", left: "center", bottom: 0, inRange: { color: HEAT_SCALE } },
      grid: { left: 12, right: 24, top: 24, bottom: 60, containLabel: true },
      series: [
        {
          type: "heatmap",
          data: rows.map((r) => [xs.indexOf(categories([r[x!]])[0]), yCats.indexOf(categories([r[seriesCol!]])[0]), r[value]]),
        },
      ],
    };
  }
  if (kind === "waterfall") {
    // Steps up in green, down in red, and the total they come to as a last, full bar.
    const xs = [...categories(column(rows, x)), spec.totalLabel ?? "Total"];
    const deltas = rows.map((r) => Number(r[ys[0]] ?? 0));
    let running = 0;
    const offsets: (number | string)[] = [];
    const ups: (number | string)[] = [];
    const downs: (number | string)[] = [];
    const tops: number[] = [0];
    for (const d of deltas) {
      offsets.push(d >= 0 ? running : running + d);
      ups.push(d >= 0 ? d : "-");
      downs.push(d < 0 ? -d : "-");
      running += d;
      tops.push(running);
    }
    offsets.push(running >= 0 ? 0 : running);
    ups.push("-");
    downs.push("-");
    const total = xs.map((_, i) => (i === xs.length - 1 ? Math.abs(running) : "-"));
    const exactValue = exact(spec);
    return {
      ...base(spec),
      // One line per step: its change (or the total), never the invisible offset.
      tooltip: {
        trigger: "axis",
        confine: true,
        formatter: (items: { dataIndex: number; axisValue: string }[]) => {
          const i = items[0]?.dataIndex ?? 0;
          const value = i < deltas.length ? deltas[i] : running;
          return `${items[0]?.axisValue ?? ""}: ${i < deltas.length && value > 0 ? "+" : ""}${exactValue(value)}`;
        },
      },
      grid: grid(spec, undefined),
      xAxis: { type: "category", data: xs, ...axisTitle(spec.xTitle, "category") },
      yAxis: valueAxis(spec, spec.yTitle, tops),
      series: [
        { type: "bar", stack: "w", itemStyle: { color: "transparent" }, emphasis: { disabled: true }, data: offsets, tooltip: { show: false } },
        { type: "bar", stack: "w", name: "+", itemStyle: { color: WATERFALL.up }, data: ups },
        { type: "bar", stack: "w", name: "−", itemStyle: { color: WATERFALL.down }, data: downs },
        { type: "bar", stack: "w", name: spec.totalLabel ?? "Total", itemStyle: { color: WATERFALL.total }, data: total },
      ],
    };
  }
  if (kind === "leaderboard") {
    const sorted = [...rows].sort((a, b) => Number(b[ys[0]] ?? 0) - Number(a[ys[0]] ?? 0)).slice(0, 10).reverse();
    return {
      ...base(spec),
      grid: grid(spec, undefined),
      xAxis: valueAxis(spec, spec.yTitle, column(sorted, ys[0])),
      yAxis: { type: "category", data: categories(column(sorted, x)), ...axisTitle(spec.xTitle, "category") },
      series: [
        {
          type: "bar",
          data: column(sorted, ys[0]),
          label: { show: true, position: "right", formatter: (p: { value: number }) => formatNumber(p.value, { ...spec.format, compact: spec.format?.compact ?? true }, dateFormat.locale) },
        },
      ],
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
    // Thousands of points: drawn downsampled (lines) or in one batch (bars), as ECharts advises.
    if (type === "line" && xs.length > 1000) s.sampling = "lttb";
    if (type === "bar" && xs.length > 1000) s.large = true;
  }
  // Every label when they fit (rotated when there are many); past 60, ECharts picks which.
  const category = {
    type: "category",
    data: xs,
    ...axisTitle(spec.xTitle, "category"),
    axisLabel: { interval: xs.length <= 60 ? 0 : "auto", hideOverlap: true, rotate: xs.length > 8 ? 35 : 0 },
  };
  const legend = legendOption(spec, series.length > 1 ? "top" : null);
  return {
    ...base(spec),
    grid: grid(spec, legend),
    legend,
    xAxis: spec.horizontal ? valueAxis(spec, spec.yTitle, axisValues(series, spec.stacked)) : category,
    yAxis: spec.horizontal ? category : valueAxis(spec, spec.yTitle, axisValues(series, spec.stacked)),
    series,
  };
}

/** The values an axis spans: each point, or each category's sum when the series are stacked. */
function axisValues(series: Option[], stacked?: boolean): unknown[] {
  const data = series.map((s) => (s.data as unknown[]) ?? []);
  if (!stacked) return data.flat();
  const length = Math.max(0, ...data.map((d) => d.length));
  return Array.from({ length }, (_, i) => data.reduce((sum, d) => sum + (Number(d[i]) || 0), 0));
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

// --- the chart builder's gallery: a small SVG per type (24×16 viewBox, currentColor) --------

const A = PALETTE[0];
const B = PALETTE[1];
const G = "#94a3b8";
export const THUMBNAILS: Record<string, string> = {
  bar: `<rect x="3" y="8" width="4" height="7" fill="${A}"/><rect x="10" y="4" width="4" height="11" fill="${A}"/><rect x="17" y="6" width="4" height="9" fill="${A}"/>`,
  line: `<polyline points="2,13 8,8 14,10 22,3" fill="none" stroke="${A}" stroke-width="2"/>`,
  area: `<polygon points="2,15 2,11 8,7 14,9 22,3 22,15" fill="${A}" opacity="0.35"/><polyline points="2,11 8,7 14,9 22,3" fill="none" stroke="${A}" stroke-width="1.5"/>`,
  pie: `<circle cx="12" cy="8" r="7" fill="${B}"/><path d="M12 8 L12 1 A7 7 0 0 1 18.6 10.3 Z" fill="${A}"/>`,
  donut: `<circle cx="12" cy="8" r="6" fill="none" stroke="${B}" stroke-width="3"/><path d="M12 2 A6 6 0 0 1 17.7 10" fill="none" stroke="${A}" stroke-width="3"/>`,
  scatter: `<circle cx="5" cy="11" r="1.6" fill="${A}"/><circle cx="9" cy="7" r="2.4" fill="${B}"/><circle cx="14" cy="9" r="1.4" fill="${A}"/><circle cx="19" cy="4" r="2" fill="${B}"/>`,
  heatmap: `<rect x="3" y="2" width="6" height="6" fill="${A}"/><rect x="9" y="2" width="6" height="6" fill="${A}" opacity="0.4"/><rect x="15" y="2" width="6" height="6" fill="${A}" opacity="0.7"/><rect x="3" y="8" width="6" height="6" fill="${A}" opacity="0.2"/><rect x="9" y="8" width="6" height="6" fill="${A}" opacity="0.9"/><rect x="15" y="8" width="6" height="6" fill="${A}" opacity="0.5"/>`,
  gauge: `<path d="M4 14 A8 8 0 0 1 20 14" fill="none" stroke="${G}" stroke-width="3"/><path d="M4 14 A8 8 0 0 1 15 6.8" fill="none" stroke="${A}" stroke-width="3"/>`,
  waterfall: `<rect x="2" y="4" width="4" height="10" fill="${WATERFALL.up}"/><rect x="7" y="4" width="4" height="4" fill="${WATERFALL.down}"/><rect x="12" y="2" width="4" height="6" fill="${WATERFALL.up}"/><rect x="17" y="2" width="4" height="12" fill="${A}"/>`,
  leaderboard: `<rect x="2" y="2" width="19" height="3" fill="${A}"/><rect x="2" y="6.5" width="14" height="3" fill="${A}"/><rect x="2" y="11" width="8" height="3" fill="${A}"/>`,
  kpi: `<text x="12" y="11" text-anchor="middle" font-size="9" font-weight="700" fill="${A}">42</text><path d="M17 13 l2 -3 l2 3 z" fill="${WATERFALL.up}"/>`,
  table: `<rect x="2" y="2" width="20" height="12" fill="none" stroke="${G}"/><line x1="2" y1="6" x2="22" y2="6" stroke="${G}"/><line x1="2" y1="10" x2="22" y2="10" stroke="${G}"/><line x1="9" y1="2" x2="9" y2="14" stroke="${G}"/>`,
};

/** The `<svg>` of a type's thumbnail (a constant of this module: safe for v-html). */
export function thumbnail(type: string): string {
  return `<svg viewBox="0 0 24 16" width="48" height="32" aria-hidden="true">${THUMBNAILS[type] ?? THUMBNAILS.bar}</svg>`;
}
