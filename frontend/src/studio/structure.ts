// An app's structure as the studio edits it: chapters and stories (a tree kept in the flat
// `slides` list), the charts of a story, the story templates and the simple data requests of
// the forms. Every function returns a new config. Pure, unit-tested.
import type { ChartBlock, ChartSpec, ChartWidth, DomainInfo, FrontConfig, Slide } from "../api";
import { chartRef } from "./filters";

/** A deep copy of JSON (structuredClone refuses Vue's reactive proxies). */
function copy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export interface TreeNode {
  slide: Slide;
  children: TreeNode[];
}

/** The slides as a tree, in file order (a slide whose parent is unknown is a chapter). */
export function slideTree(slides: Slide[]): TreeNode[] {
  const ids = new Set(slides.map((s) => s.id));
  const nodes = new Map(slides.map((s) => [s.id, { slide: s, children: [] as TreeNode[] }]));
  const roots: TreeNode[] = [];
  for (const s of slides) {
    const node = nodes.get(s.id)!;
    if (s.parent_id && ids.has(s.parent_id) && s.parent_id !== s.id) nodes.get(s.parent_id)!.children.push(node);
    else roots.push(node);
  }
  return roots;
}

/** The tree back to a flat list: each slide followed by its descendants, levels and parents set. */
export function flatten(tree: TreeNode[], parent: string | null = null, level = 1): Slide[] {
  return tree.flatMap((node) => {
    const slide: Slide = { ...node.slide, level };
    if (parent) slide.parent_id = parent;
    else delete slide.parent_id;
    return [slide, ...flatten(node.children, node.slide.id, level + 1)];
  });
}

function find(tree: TreeNode[], id: string): { list: TreeNode[]; index: number } | null {
  for (const [index, node] of tree.entries()) {
    if (node.slide.id === id) return { list: tree, index };
    const inside = find(node.children, id);
    if (inside) return inside;
  }
  return null;
}

function contains(node: TreeNode, id: string): boolean {
  return node.slide.id === id || node.children.some((c) => contains(c, id));
}

export type Drop = "before" | "after" | "inside";

/**
 * Slides after a drag and drop: `id` (with its stories) moved before or after `target`, among
 * the target's siblings, or `inside` it as its last story. A slide dropped on itself or its
 * own stories does not move.
 */
export function moveSlide(slides: Slide[], id: string, target: string, where: Drop): Slide[] {
  if (id === target) return slides;
  const tree = copy(slideTree(slides));
  const from = find(tree, id);
  if (!from || contains(from.list[from.index], target)) return slides;
  const [node] = from.list.splice(from.index, 1);
  const to = find(tree, target);
  if (!to) return slides;
  if (where === "inside") to.list[to.index].children.push(node);
  else to.list.splice(to.index + (where === "after" ? 1 : 0), 0, node);
  return flatten(tree);
}

/** Slides with `id` moved one place up (-1) or down (+1) among its siblings. */
export function shiftSlide(slides: Slide[], id: string, delta: -1 | 1): Slide[] {
  const tree = copy(slideTree(slides));
  const at = find(tree, id);
  if (!at) return slides;
  const next = at.index + delta;
  if (next < 0 || next >= at.list.length) return slides;
  [at.list[at.index], at.list[next]] = [at.list[next], at.list[at.index]];
  return flatten(tree);
}

/** A slide and its descendants' ids. */
export function subtreeIds(slides: Slide[], id: string): string[] {
  const at = find(slideTree(slides), id);
  if (!at) return [];
  const ids: string[] = [];
  const walk = (node: TreeNode) => {
    ids.push(node.slide.id);
    node.children.forEach(walk);
  };
  walk(at.list[at.index]);
  return ids;
}

/** The config without a slide and its stories, nor the filters' and home's references to them. */
export function removeSlide(config: FrontConfig, id: string): FrontConfig {
  const gone = new Set(subtreeIds(config.slides ?? [], id));
  const next: FrontConfig = { ...config, slides: (config.slides ?? []).filter((s) => !gone.has(s.id)) };
  if (config.requesters) {
    next.requesters = config.requesters.map((r) => {
      const copy = { ...r };
      if (r.stories) {
        copy.stories = r.stories.filter((s) => !gone.has(s));
        // Limited to removed stories only: it shows nowhere rather than everywhere.
        if (!copy.stories.length) copy.stories = [];
      }
      if (r.charts) copy.charts = r.charts.filter((c) => !gone.has(c.split("/")[0]));
      return copy;
    });
  }
  if (config.home?.stories) next.home = { ...config.home, stories: config.home.stories.filter((t) => !gone.has(t.story)) };
  return next;
}

export function renameSlide(slides: Slide[], id: string, title: string): Slide[] {
  return slides.map((s) => (s.id === id ? { ...s, title } : s));
}

/** A new id from a title: lower-case words joined by '-', made unique among `taken`. */
export function newId(title: string, taken: Iterable<string>, fallback = "story"): string {
  const used = new Set(taken);
  const base =
    title
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 60) || fallback;
  let id = base;
  for (let n = 2; used.has(id); n += 1) id = `${base}-${n}`;
  return id;
}

export function addChapter(slides: Slide[], title: string): { slides: Slide[]; id: string } {
  const id = newId(title, slides.map((s) => s.id), "chapter");
  return { slides: [...slides, { id, level: 1, title }], id };
}

/** A story at the end of a chapter (or a new top-level slide when `chapter` is null). */
export function addStory(
  slides: Slide[],
  chapter: string | null,
  title: string,
  content: Partial<Slide> = {},
): { slides: Slide[]; id: string } {
  const id = newId(title, slides.map((s) => s.id));
  const story: Slide = { ...content, id, title };
  const tree = copy(slideTree(slides));
  const at = chapter ? find(tree, chapter) : null;
  if (at) at.list[at.index].children.push({ slide: story, children: [] });
  else tree.push({ slide: story, children: [] });
  return { slides: flatten(tree), id };
}

// --- the charts of a story ------------------------------------------------------------------

/**
 * The slide with a `charts` list whose items all have an id (a single `chart` becomes the
 * list's first item, full width), and the filters' chart references moved to those ids.
 */
export function withBlockIds(config: FrontConfig, slideId: string): FrontConfig {
  const slide = (config.slides ?? []).find((s) => s.id === slideId);
  if (!slide) return config;
  let blocks: ChartBlock[];
  const renamed = new Map<string, string>();
  if (Array.isArray(slide.charts)) blocks = slide.charts.map((b) => ({ ...b }));
  else if (slide.chart && slide.query) blocks = [{ chart: slide.chart, query: slide.query, width: "full" }];
  else blocks = [];
  const taken = new Set(blocks.map((b) => b.id).filter(Boolean) as string[]);
  blocks.forEach((block, index) => {
    if (block.id) return;
    let n = index + 1;
    while (taken.has(`chart-${n}`)) n += 1;
    block.id = `chart-${n}`;
    taken.add(block.id);
    renamed.set(chartRef(slideId, undefined, index), chartRef(slideId, block.id, index));
  });
  const next: Slide = { ...slide, charts: blocks };
  delete next.chart;
  delete next.query;
  const slides = (config.slides ?? []).map((s) => (s.id === slideId ? next : s));
  const requesters = config.requesters?.map((r) =>
    r.charts ? { ...r, charts: r.charts.map((c) => renamed.get(c) ?? c) } : r,
  );
  return { ...config, slides, ...(requesters ? { requesters } : {}) };
}

function editBlocks(config: FrontConfig, slideId: string, edit: (blocks: ChartBlock[]) => ChartBlock[]): FrontConfig {
  const withIds = withBlockIds(config, slideId);
  return {
    ...withIds,
    slides: (withIds.slides ?? []).map((s) => (s.id === slideId ? { ...s, charts: edit([...(s.charts ?? [])]) } : s)),
  };
}

export function moveBlock(config: FrontConfig, slideId: string, from: number, to: number): FrontConfig {
  return editBlocks(config, slideId, (blocks) => {
    if (from < 0 || from >= blocks.length || to < 0 || to >= blocks.length) return blocks;
    const [block] = blocks.splice(from, 1);
    blocks.splice(to, 0, block);
    return blocks;
  });
}

export function resizeBlock(config: FrontConfig, slideId: string, index: number, width: ChartWidth): FrontConfig {
  return editBlocks(config, slideId, (blocks) => blocks.map((b, i) => (i === index ? { ...b, width } : b)));
}

/** Without the chart, and without the filters' references to it. */
export function removeBlock(config: FrontConfig, slideId: string, index: number): FrontConfig {
  const next = editBlocks(config, slideId, (blocks) => blocks.filter((_, i) => i !== index));
  const removed = (withBlockIds(config, slideId).slides ?? []).find((s) => s.id === slideId)?.charts?.[index];
  if (!removed?.id) return next;
  const ref = chartRef(slideId, removed.id, index);
  return {
    ...next,
    requesters: next.requesters?.map((r) => (r.charts ? { ...r, charts: r.charts.filter((c) => c !== ref) } : r)),
  };
}

export function addBlock(config: FrontConfig, slideId: string, block: ChartBlock): FrontConfig {
  return withBlockIds(editBlocks(config, slideId, (blocks) => [...blocks, block]), slideId);
}

// --- templates and simple data requests ---------------------------------------------------------

export const AGGREGATIONS = ["sum", "avg", "min", "max", "count"] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

/** One number of a domain: `aggregation` of `column` over all its rows. */
export function simpleQuery(domain: string, column: string, aggregation: Aggregation): unknown[] {
  return [
    { name: "domain", domain },
    { name: "aggregate", on: [], aggregations: [{ columns: [column], aggfunction: aggregation, newcolumns: [column] }] },
  ];
}

/** The form's fields back from a request `simpleQuery` wrote; null for any other request. */
export function parseSimpleQuery(query: unknown): { domain: string; column: string; aggregation: Aggregation } | null {
  if (!Array.isArray(query) || query.length !== 2) return null;
  const [domain, aggregate] = query as Record<string, unknown>[];
  if (domain?.name !== "domain" || typeof domain.domain !== "string") return null;
  if (aggregate?.name !== "aggregate" || !Array.isArray(aggregate.on) || aggregate.on.length) return null;
  const aggs = aggregate.aggregations as { columns?: unknown; aggfunction?: unknown; newcolumns?: unknown }[] | undefined;
  if (!Array.isArray(aggs) || aggs.length !== 1) return null;
  const [agg] = aggs;
  const columns = agg.columns as string[] | undefined;
  if (!Array.isArray(columns) || columns.length !== 1) return null;
  if (!AGGREGATIONS.includes(agg.aggfunction as Aggregation)) return null;
  if (JSON.stringify(agg.newcolumns) !== JSON.stringify(columns)) return null;
  return { domain: domain.domain, column: columns[0], aggregation: agg.aggfunction as Aggregation };
}

const NUMERIC = /^(integer|int|bigint|smallint|tinyint|hugeint|float|double|real|decimal|number|numeric)/i;
const TEXT = /^(string|text|varchar|char|object|category)/i;

export const isNumeric = (type: string) => NUMERIC.test(type);
export const isText = (type: string) => TEXT.test(type);

/** The domain a template uses, and its dimension (first text column) and measure (first numeric one). */
export function templateFields(domains: DomainInfo[]): { domain: string; dimension: string; second: string; measure: string } | null {
  const pick =
    domains.find((d) => d.columns.some((c) => isText(c.type)) && d.columns.some((c) => isNumeric(c.type))) ?? domains[0];
  if (!pick || !pick.columns.length) return null;
  const texts = pick.columns.filter((c) => isText(c.type));
  const numbers = pick.columns.filter((c) => isNumeric(c.type));
  const dimension = (texts[0] ?? pick.columns[0]).name;
  const measure = (numbers[0] ?? pick.columns.find((c) => c.name !== dimension) ?? pick.columns[0]).name;
  const second = (texts[1] ?? texts[0] ?? pick.columns[0]).name;
  return { domain: pick.name, dimension, second, measure };
}

export const TEMPLATE_TYPES = [
  "bar", "line", "area", "pie", "donut", "leaderboard", "waterfall", "scatter", "heatmap", "gauge", "kpi", "table",
] as const;

/** A chart of `type` over the app's data, ready to draw: its spec and data request. */
export function template(type: string, domains: DomainInfo[]): { chart: ChartSpec; query: unknown[] } | null {
  const f = templateFields(domains);
  if (!f) return null;
  const { domain, dimension, second, measure } = f;
  const sum = (on: string[]) => ({
    name: "aggregate",
    on,
    aggregations: [{ columns: [measure], aggfunction: "sum", newcolumns: [measure] }],
  });
  const byDimension = [
    { name: "domain", domain },
    sum([dimension]),
    { name: "sort", columns: [{ column: measure, order: "desc" }] },
  ];
  switch (type) {
    case "pie":
    case "donut":
      return { chart: { type, label: dimension, value: measure }, query: byDimension };
    case "scatter":
      return {
        chart: { type, x: measure, y: ["rows"] },
        query: [
          { name: "domain", domain },
          {
            name: "aggregate",
            on: [dimension],
            aggregations: [
              { columns: [measure], aggfunction: "sum", newcolumns: [measure] },
              { columns: [measure], aggfunction: "count", newcolumns: ["rows"] },
            ],
          },
        ],
      };
    case "heatmap":
      return {
        chart: { type, x: dimension, series: second, value: measure },
        query: [{ name: "domain", domain }, sum(dimension === second ? [dimension] : [dimension, second])],
      };
    case "gauge":
    case "kpi":
      return { chart: { type, value: measure }, query: simpleQuery(domain, measure, "sum") };
    case "table":
      return { chart: { type }, query: [{ name: "domain", domain }] };
    case "line":
    case "area":
      return {
        chart: { type, x: dimension, y: [measure] },
        query: [{ name: "domain", domain }, sum([dimension]), { name: "sort", columns: [{ column: dimension, order: "asc" }] }],
      };
    default:
      return { chart: { type, x: dimension, y: [measure] }, query: byDimension };
  }
}
