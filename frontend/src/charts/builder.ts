// The chart builder's logic: which roles each chart type has, how columns fill them, and
// which named columns the data lacks. Pure, unit-tested (builder.test.ts).
import type { ChartSpec, Column } from "../api";
import { PALETTE } from "./options";

export type RoleKey = "x" | "y" | "series" | "color" | "size" | "label" | "value" | "trend" | "columns";

export interface Role {
  key: RoleKey;
  /** y and columns: several columns. */
  multiple?: boolean;
  /** Must be chosen to draw something. */
  required?: boolean;
  /** What the role wants: numbers, or anything (categories, dates). */
  wants: "number" | "any";
}

export const CHART_TYPES = [
  "bar", "line", "area", "pie", "donut", "scatter", "heatmap", "leaderboard", "waterfall", "gauge", "kpi", "table",
] as const;

const r = (key: RoleKey, wants: Role["wants"], extra: Partial<Role> = {}): Role => ({ key, wants, ...extra });

/** The roles of each chart type, in the order the form shows them. */
export const ROLES: Record<string, Role[]> = {
  bar: [r("x", "any", { required: true }), r("y", "number", { multiple: true, required: true }), r("series", "any")],
  line: [r("x", "any", { required: true }), r("y", "number", { multiple: true, required: true }), r("series", "any")],
  area: [r("x", "any", { required: true }), r("y", "number", { multiple: true, required: true }), r("series", "any")],
  pie: [r("label", "any", { required: true }), r("value", "number", { required: true })],
  donut: [r("label", "any", { required: true }), r("value", "number", { required: true })],
  scatter: [
    r("x", "number", { required: true }),
    r("y", "number", { required: true }),
    r("color", "any"),
    r("size", "number"),
    r("label", "any"),
  ],
  heatmap: [r("x", "any", { required: true }), r("series", "any", { required: true }), r("value", "number", { required: true })],
  leaderboard: [r("x", "any", { required: true }), r("y", "number", { required: true })],
  waterfall: [r("x", "any", { required: true }), r("y", "number", { required: true })],
  gauge: [r("value", "number", { required: true })],
  kpi: [r("value", "number", { required: true }), r("trend", "number")],
  table: [r("columns", "any", { multiple: true })],
};

/** Which optional settings a type has in the form. */
export function typeHas(type: string): { axes: boolean; legend: boolean; stack: boolean; sort: boolean; max: boolean } {
  const cartesian = ["bar", "line", "area", "scatter", "heatmap", "leaderboard", "waterfall"].includes(type);
  return {
    axes: cartesian,
    legend: ["bar", "line", "area", "pie", "donut", "scatter"].includes(type),
    stack: ["bar", "line", "area"].includes(type),
    sort: !["gauge", "kpi", "leaderboard"].includes(type),
    max: type === "gauge",
  };
}

const NUMERIC = /^(integer|int|bigint|smallint|tinyint|hugeint|float|double|decimal|number|numeric|real)/i;
const TEMPORAL = /^(date|timestamp|datetime|time)/i;

export function isNumeric(column: Column): boolean {
  return NUMERIC.test(column.type);
}

export function isTemporal(column: Column): boolean {
  return TEMPORAL.test(column.type);
}

/** The columns a role can take: numbers for a numeric role, every column otherwise. */
export function columnsFor(role: Role, columns: Column[]): Column[] {
  return role.wants === "number" ? columns.filter(isNumeric) : columns;
}

/** The role's columns in a spec, as a list (empty when not set). */
export function roleValue(spec: ChartSpec, key: RoleKey): string[] {
  const value = (spec as unknown as Record<string, unknown>)[key];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string" && v !== "");
  return typeof value === "string" && value ? [value] : [];
}

/** The spec with a role set (a list for y and columns, one column otherwise; [] or "" removes it). */
export function withRole(spec: ChartSpec, key: RoleKey, columns: string[]): ChartSpec {
  const next = { ...spec } as Record<string, unknown>;
  const values = columns.filter((c) => c);
  if (key === "y" || key === "columns") {
    if (values.length) next[key] = values;
    else delete next[key];
  } else if (values[0]) next[key] = values[0];
  else delete next[key];
  return next as unknown as ChartSpec;
}

/**
 * The spec as another type: roles the new type shares are kept, the others dropped, and
 * required roles left empty are filled from the columns (a category for x/label, numbers
 * for y/value), so that a click in the gallery draws a chart at once.
 */
export function withType(spec: ChartSpec, type: string, columns: Column[]): ChartSpec {
  const roles = ROLES[type] ?? [];
  const wanted = new Set(roles.map((role) => role.key));
  // A single y on pies and KPIs is their value, and x their label: carried across.
  const carried: Partial<Record<RoleKey, string[]>> = {
    value: roleValue(spec, "value").length ? roleValue(spec, "value") : roleValue(spec, "y").slice(0, 1),
    label: roleValue(spec, "label").length ? roleValue(spec, "label") : roleValue(spec, "x"),
    x: roleValue(spec, "x").length ? roleValue(spec, "x") : roleValue(spec, "label"),
    y: roleValue(spec, "y").length ? roleValue(spec, "y") : roleValue(spec, "value"),
  };
  let next: ChartSpec = { type };
  for (const [key, value] of Object.entries(spec)) {
    if (key === "type" || ALL_ROLES.includes(key as RoleKey)) continue;
    (next as unknown as Record<string, unknown>)[key] = value;
  }
  const used = new Set<string>();
  for (const role of roles) {
    let value = carried[role.key] ?? roleValue(spec, role.key);
    if (!role.multiple) value = value.slice(0, 1);
    if (role.key === "y" && ["scatter", "leaderboard", "waterfall"].includes(type)) value = value.slice(0, 1);
    const known = value.filter((v) => columns.some((c) => c.name === v) || !columns.length);
    if (!known.length && role.required) {
      const pick = pickColumn(role, columns, used);
      if (pick) known.push(pick);
    }
    known.forEach((v) => used.add(v));
    next = withRole(next, role.key, known);
  }
  if (!typeHas(type).stack) {
    delete next.stacked;
    delete next.horizontal;
  }
  if (!wanted.has("series") && next.legend && !typeHas(type).legend) delete next.legend;
  return next;
}

const ALL_ROLES: RoleKey[] = ["x", "y", "series", "color", "size", "label", "value", "trend", "columns"];

function pickColumn(role: Role, columns: Column[], used: Set<string>): string | undefined {
  const free = columns.filter((c) => !used.has(c.name));
  if (role.wants === "number") return free.find(isNumeric)?.name;
  // Categories first for x, label and series: a date, then text, then anything.
  return (free.find(isTemporal) ?? free.find((c) => !isNumeric(c)) ?? free[0])?.name;
}

export interface MissingColumn {
  role: RoleKey | "sort";
  column: string;
}

/** The columns the spec names that the data does not have (none when the columns are not known yet). */
export function missingColumns(spec: ChartSpec, columns: Column[]): MissingColumn[] {
  if (!columns.length) return [];
  const known = new Set(columns.map((c) => c.name));
  const missing: MissingColumn[] = [];
  for (const role of ALL_ROLES) {
    for (const column of roleValue(spec, role)) if (!known.has(column)) missing.push({ role, column });
  }
  if (spec.sort?.by && !known.has(spec.sort.by)) missing.push({ role: "sort", column: spec.sort.by });
  return missing;
}

/** Required roles of the spec's type still empty. */
export function emptyRoles(spec: ChartSpec): RoleKey[] {
  return (ROLES[spec.type] ?? []).filter((role) => role.required && !roleValue(spec, role.key).length).map((role) => role.key);
}

/**
 * The palettes a builder picks from; the first is the stack's default. Each colour is at least
 * 3:1 against the chart's background and neighbours stay apart for colour-blind viewers
 * (palettes.test.ts).
 */
export const PALETTES: Record<string, string[]> = {
  default: PALETTE,
  ocean: ["#0c4a6e", "#4f46e5", "#0891b2", "#3730a3", "#0d9488", "#3b82f6", "#134e4a", "#0284c7"],
  warm: ["#9a3412", "#ec4899", "#ef4444", "#831843", "#c2410c", "#7f1d1d", "#ea580c", "#f43f5e"],
  forest: ["#14532d", "#4d7c0f", "#059669", "#365314", "#0d9488", "#15803d", "#134e4a", "#16a34a"],
  mono: ["#1e293b", "#64748b", "#44403c", "#0f172a", "#475569", "#292524", "#78716c", "#374151"],
  // Every colour at least 4.5:1, as text is.
  contrast: ["#000000", "#0072b2", "#7f1d1d", "#4f46e5", "#0f766e", "#3730a3", "#a16207", "#0c4a6e"],
};

/** The palette's name the spec's colours are (default when none; null for custom colours). */
export function paletteOf(spec: ChartSpec): string | null {
  if (!spec.colors?.length) return "default";
  const text = JSON.stringify(spec.colors);
  return Object.keys(PALETTES).find((name) => JSON.stringify(PALETTES[name]) === text) ?? null;
}

/** The spec with a palette (the default one removes `colors`). */
export function withPalette(spec: ChartSpec, name: string): ChartSpec {
  const next = { ...spec };
  if (name === "default" || !PALETTES[name]) delete next.colors;
  else next.colors = [...PALETTES[name]];
  return next;
}

/** The domain a data request reads first (a pipeline's `domain` step, or a Mongo query's `domain`). */
export function requestDomain(query: unknown): string {
  if (Array.isArray(query)) {
    const first = query[0] as Record<string, unknown> | undefined;
    if (first && typeof first === "object") {
      if (first.name === "domain" && typeof first.domain === "string") return first.domain;
      const match = first.$match as Record<string, unknown> | undefined;
      if (match && typeof match.domain === "string") return match.domain;
    }
    return "";
  }
  if (query && typeof query === "object" && typeof (query as Record<string, unknown>).domain === "string") {
    return (query as Record<string, string>).domain;
  }
  return "";
}

/** The data request reading `domain`: a pipeline's domain step replaced (its other steps kept), or a new pipeline. */
export function withDomain(query: unknown, domain: string): unknown {
  if (Array.isArray(query)) {
    const first = query[0] as Record<string, unknown> | undefined;
    if (first && first.name === "domain") return [{ ...first, domain }, ...query.slice(1)];
    if (first && first.$match && typeof first.$match === "object") {
      return [{ ...first, $match: { ...(first.$match as object), domain } }, ...query.slice(1)];
    }
    return [{ name: "domain", domain }, ...query];
  }
  if (query && typeof query === "object" && "domain" in (query as object)) return { ...(query as object), domain };
  return [{ name: "domain", domain }];
}
