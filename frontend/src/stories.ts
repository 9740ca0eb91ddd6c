// A slide's charts: one `chart` + `query`, or a `charts` list laid out on a grid. Pure, unit-tested.
import type { ChartBlock, ChartSpec, ChartWidth, Slide } from "./api";
import { chartRef } from "./studio/filters";

/** Columns a width takes on the slide's 12-column grid (narrow screens stack them: see style.css). */
export const SPANS: Record<ChartWidth, number> = {
  quarter: 3,
  third: 4,
  half: 6,
  "two-thirds": 8,
  "three-quarters": 9,
  full: 12,
};

export interface StoryChart {
  /** Unique on the page: the readiness marker counts charts by it; filters name the chart by it. */
  key: string;
  title: string;
  chart: ChartSpec;
  query: unknown;
  width: ChartWidth;
}

/** A `width` hint as given in the front config; anything unknown falls back to `fallback`. */
export function chartWidth(width: unknown, fallback: ChartWidth): ChartWidth {
  return typeof width === "string" && Object.hasOwn(SPANS, width) ? (width as ChartWidth) : fallback;
}

/**
 * The charts a slide shows, in order: its `charts` list when it has one (half width by
 * default: two a row), else its single `chart` (full width). Items without a chart or a
 * data request are skipped: there would be nothing to render.
 */
export function storyCharts(slide: Slide): StoryChart[] {
  if (Array.isArray(slide.charts)) {
    return slide.charts.flatMap((block, index) =>
      block && block.chart && block.query
        ? [
            {
              key: chartRef(slide.id, block.id, index),
              title: block.title ?? "",
              chart: block.chart,
              query: block.query,
              width: chartWidth(block.width, "half"),
            },
          ]
        : [],
    );
  }
  if (slide.chart && slide.query) {
    return [{ key: chartRef(slide.id, undefined, 0), title: "", chart: slide.chart, query: slide.query, width: "full" }];
  }
  return [];
}

/** One chart as the story editor shows it: its place, spec, data request and grid hints. */
export interface ChartEdit {
  /** The place in the slide's `charts` list; 0 for a slide's single `chart`. */
  index: number;
  chart: unknown;
  query: unknown;
  /** Only for a `charts` list: "" removes the title, undefined keeps it. */
  title?: string;
  /** Only for a `charts` list: "" removes the hint (half width), undefined keeps it. */
  width?: ChartWidth | "";
}

/**
 * Every chart of a slide for the editor, incomplete ones included; a slide without any
 * chart yet gets one empty chart to fill in.
 */
export function editableCharts(slide: Slide): ChartEdit[] {
  if (Array.isArray(slide.charts)) {
    return slide.charts.map((block, index) => ({
      index,
      chart: block?.chart ?? {},
      query: block?.query ?? [],
      title: block?.title ?? "",
      // An unknown hint shows as the default, and saving drops it.
      width: Object.hasOwn(SPANS, String(block?.width)) ? block.width : "",
    }));
  }
  return [{ index: 0, chart: slide.chart ?? {}, query: slide.query ?? [] }];
}

/**
 * The slide with edited charts: `charts[index]` for a multi-chart slide (the item's other
 * fields kept; indexes past the end are appended), `chart` and `query` for a single-chart one.
 */
export function withChartEdits(slide: Slide, edits: ChartEdit[]): Slide {
  if (!Array.isArray(slide.charts)) {
    const edit = edits.find((e) => e.index === 0);
    return edit ? { ...slide, chart: edit.chart as ChartSpec, query: edit.query } : slide;
  }
  const charts = slide.charts.map((block, index): ChartBlock => {
    const edit = edits.find((e) => e.index === index);
    if (!edit) return block;
    const next: ChartBlock = { ...block, chart: edit.chart as ChartSpec, query: edit.query };
    if (edit.title === "") delete next.title;
    else if (edit.title !== undefined) next.title = edit.title;
    if (edit.width === "") delete next.width;
    else if (edit.width !== undefined) next.width = edit.width;
    return next;
  });
  // Edits past the end are charts the builder added.
  for (const edit of [...edits].sort((a, b) => a.index - b.index)) {
    if (edit.index < slide.charts.length) continue;
    const added: ChartBlock = { chart: edit.chart as ChartSpec, query: edit.query };
    if (edit.title) added.title = edit.title;
    if (edit.width) added.width = edit.width;
    charts.push(added);
  }
  return { ...slide, charts };
}

/** Every slide in reading order: each chapter, then its stories (depth first); orphans as chapters. */
export function readingOrder(slides: Slide[]): Slide[] {
  const ids = new Set(slides.map((s) => s.id));
  const out: Slide[] = [];
  const seen = new Set<string>();
  const visit = (slide: Slide) => {
    if (seen.has(slide.id)) return;
    seen.add(slide.id);
    out.push(slide);
    for (const child of slides) if (child.parent_id === slide.id) visit(child);
  };
  for (const top of slides) if (!top.parent_id || !ids.has(top.parent_id)) visit(top);
  return out;
}

/** The slides before and after `id` in reading order (null at either end, or for an unknown id). */
export function neighbours(slides: Slide[], id: string): { previous: Slide | null; next: Slide | null } {
  const order = readingOrder(slides);
  const at = order.findIndex((s) => s.id === id);
  if (at < 0) return { previous: null, next: null };
  return { previous: order[at - 1] ?? null, next: order[at + 1] ?? null };
}
