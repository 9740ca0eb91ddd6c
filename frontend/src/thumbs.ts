// Story thumbnails: a chart's option made small (no axes text, legend or tooltip: a shape to
// recognise, not numbers to read), and the data behind them fetched once per request. Pure
// apart from the cache, unit-tested.
import type { DataResult, Stage } from "./api";
import { api } from "./api";

type Option = Record<string, unknown>;

const QUIET_AXIS = { axisLabel: { show: false }, axisTick: { show: false }, splitLine: { show: false }, name: "", nameGap: 0 };

function quietAxis(axis: unknown): unknown {
  if (Array.isArray(axis)) return axis.map(quietAxis);
  if (!axis || typeof axis !== "object") return axis;
  return { ...(axis as Option), ...QUIET_AXIS };
}

function quietSeries(series: unknown): unknown {
  if (!series || typeof series !== "object") return series;
  const s: Option = { ...(series as Option), label: { show: false }, labelLine: { show: false }, silent: true };
  delete s.markLine;
  delete s.markPoint;
  if (s.type === "pie") s.radius = Array.isArray(s.radius) ? ["45%", "85%"] : "85%";
  if (s.type === "gauge") {
    Object.assign(s, { detail: { show: false }, axisLabel: { show: false }, axisTick: { show: false }, splitLine: { show: false }, pointer: { show: false }, title: { show: false } });
    s.progress = { show: true, width: 8 };
    s.axisLine = { lineStyle: { width: 8 } };
  }
  if (s.type === "line") s.symbol = "none";
  return s;
}

/** A full chart's ECharts option as a thumbnail: the same series and colours, nothing to read. */
export function miniOption(option: Option): Option {
  const mini: Option = { ...option, animation: false, tooltip: { show: false }, grid: { left: 4, right: 4, top: 6, bottom: 6, containLabel: false } };
  delete mini.legend;
  delete mini.title;
  delete mini.toolbox;
  delete mini.dataZoom;
  if ("xAxis" in mini) mini.xAxis = quietAxis(mini.xAxis);
  if ("yAxis" in mini) mini.yAxis = quietAxis(mini.yAxis);
  if (mini.visualMap && typeof mini.visualMap === "object") mini.visualMap = { ...(mini.visualMap as Option), show: false };
  if (Array.isArray(mini.series)) mini.series = mini.series.map(quietSeries);
  else if (mini.series) mini.series = quietSeries(mini.series);
  return mini;
}

/** The first rows and columns of a table, for a table's thumbnail. */
export function miniTable(result: DataResult, columns?: string[], rows = 4, cols = 3): { header: string[]; rows: unknown[][] } {
  const names = (columns?.length ? columns : result.columns.map((c) => c.name)).slice(0, cols);
  return { header: names, rows: result.data.slice(0, rows).map((r) => names.map((n) => r[n])) };
}

const cache = new Map<string, Promise<DataResult>>();
/** Rows enough for a thumbnail's shape. */
export const THUMB_LIMIT = 2000;

/**
 * The data of a thumbnail: one request per app, query and variables while the page lives, in
 * production; staging (a builder changing data and design) asks each time.
 */
export function thumbData(app: string, stage: Stage, query: unknown, variables: Record<string, unknown>): Promise<DataResult> {
  if (stage !== "production") return api.data(app, stage, query, variables, THUMB_LIMIT);
  const key = JSON.stringify([app, stage, query, variables]);
  let answer = cache.get(key);
  if (!answer) {
    answer = api.data(app, stage, query, variables, THUMB_LIMIT);
    cache.set(key, answer);
    // A failure is not kept: the next view asks again.
    answer.catch(() => cache.delete(key));
  }
  return answer;
}
