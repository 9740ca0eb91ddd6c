// What a viewer does to a story beyond its filters — drill down a chart's hierarchy, click a
// bar or a slice to filter the story's other charts — and the page's state as a link. Pure,
// unit-tested (interaction.test.ts); the story page applies it to each chart's request.
import type { ChartSpec } from "./api";
import { withFilters } from "./studio/filters";

/** A category a viewer clicked: the other charts of the story show its rows only. */
export interface Selection {
  column: string;
  value: string | number | boolean;
  /** The chart it was clicked in (that one keeps showing every category). */
  from: string;
}

/** Per chart (its key), the values chosen at each level of its `drill` hierarchy. */
export type DrillPaths = Record<string, (string | number | boolean)[]>;

type Step = Record<string, unknown>;

/** The column a drilled chart shows at `path`'s depth (its last level at most). */
export function drillColumn(drill: string[], path: unknown[]): string {
  return drill[Math.min(path.length, drill.length - 1)];
}

/** Whether a click on this chart goes one level down (else it cross-filters). */
export function canDrill(spec: ChartSpec, path: unknown[] = []): boolean {
  return Array.isArray(spec.drill) && spec.drill.length > 1 && path.length < spec.drill.length - 1;
}

/** The spec drawn at a drill depth: its category column is the level's. */
export function drilledSpec(spec: ChartSpec, path: unknown[] = []): ChartSpec {
  if (!spec.drill?.length) return spec;
  const column = drillColumn(spec.drill, path);
  const levels = new Set(spec.drill);
  const swap = (name: string | undefined) => (name !== undefined && levels.has(name) ? column : name);
  return { ...spec, x: swap(spec.x), label: swap(spec.label) };
}

/**
 * A chart's request at a drill depth: the rows of the chosen parents only, grouped by the
 * level's column instead of the hierarchy's first. Aggregations, sorts and top-N groups that
 * name a level of the hierarchy name the shown level.
 */
export function drilledQuery(query: unknown, drill: string[] | undefined, path: unknown[] = []): unknown {
  if (!drill?.length || !Array.isArray(query)) return query;
  const column = drillColumn(drill, path);
  const levels = new Set(drill);
  const swap = (name: unknown) => (typeof name === "string" && levels.has(name) ? column : name);
  const rewritten = query.map((raw) => {
    if (!raw || typeof raw !== "object") return raw;
    const step = raw as Step;
    const out: Step = { ...step };
    if (Array.isArray(step.on)) out.on = [...new Set(step.on.map(swap))];
    if (Array.isArray(step.groups)) out.groups = [...new Set(step.groups.map(swap))];
    if (step.name === "sort" && Array.isArray(step.columns)) {
      out.columns = step.columns.map((c) => (c && typeof c === "object" ? { ...(c as Step), column: swap((c as Step).column) } : c));
    }
    return out;
  });
  const conditions = path.slice(0, drill.length - 1).map((value, i) => ({ column: drill[i], operator: "eq", value }));
  return withFilters(rewritten, conditions);
}

/** The domain a pipeline reads first, if it starts with a `domain` step. */
export function queryDomain(query: unknown): string | null {
  if (!Array.isArray(query) || !query.length) return null;
  const first = query[0] as Step | null;
  return first && first.name === "domain" && typeof first.domain === "string" ? first.domain : null;
}

/**
 * A chart's request with the story's selection: filtered on the clicked category when its
 * domain has that column (`columns`: the domain's), unchanged for the chart it was clicked in.
 */
export function crossFiltered(query: unknown, selection: Selection | null, key: string, columns: string[] | undefined): unknown {
  if (!selection || selection.from === key || !columns?.includes(selection.column)) return query;
  return withFilters(query, [{ column: selection.column, operator: "eq", value: selection.value }]);
}

// --- the page's state as a link -------------------------------------------------------------

/**
 * A value in a link: text as it is when it reads back as text, anything else (numbers, lists,
 * ranges, text that looks like JSON) as JSON — so every value reads back exactly.
 */
export function encodeValue(value: unknown): string {
  if (typeof value === "string") {
    try {
      JSON.parse(value);
    } catch {
      return value;
    }
    return JSON.stringify(value);
  }
  return JSON.stringify(value ?? null);
}

export function decodeValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export interface ViewState {
  filters: Record<string, unknown>;
  selection: Selection | null;
  drills: DrillPaths;
}

/** The query string of a view: `f.<filter>`, `sel.*`, `drill.<chart>`. */
export function stateQuery(state: ViewState): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [id, value] of Object.entries(state.filters)) out[`f.${id}`] = encodeValue(value);
  if (state.selection) {
    out["sel.column"] = state.selection.column;
    out["sel.value"] = encodeValue(state.selection.value);
    out["sel.from"] = state.selection.from;
  }
  for (const [key, path] of Object.entries(state.drills)) if (path.length) out[`drill.${key}`] = JSON.stringify(path);
  return out;
}

/** A view read back from a query string (unknown keys are ignored; malformed parts dropped). */
export function readState(query: Record<string, unknown>): ViewState {
  const state: ViewState = { filters: {}, selection: null, drills: {} };
  const text = (v: unknown) => (Array.isArray(v) ? v[0] : v);
  for (const [key, raw] of Object.entries(query)) {
    const value = text(raw);
    if (typeof value !== "string") continue;
    if (key.startsWith("f.") && key.length > 2) state.filters[key.slice(2)] = decodeValue(value);
    else if (key.startsWith("drill.") && key.length > 6) {
      const path = decodeValue(value);
      if (Array.isArray(path) && path.every((p) => ["string", "number", "boolean"].includes(typeof p))) {
        state.drills[key.slice(6)] = path as (string | number | boolean)[];
      }
    }
  }
  const column = text(query["sel.column"]);
  const value = text(query["sel.value"]);
  const from = text(query["sel.from"]);
  if (typeof column === "string" && column && typeof value === "string" && typeof from === "string") {
    const decoded = decodeValue(value);
    if (["string", "number", "boolean"].includes(typeof decoded)) {
      state.selection = { column, value: decoded as string | number | boolean, from };
    }
  }
  return state;
}
