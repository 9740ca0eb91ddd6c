// Filters (requesters) on the viewer side: where each shows, its starting value, the variables
// and the filter step each chart gets. Pure, unit-tested.
import type { DateRangeValue, FrontConfig, Requester, Slide } from "../api";

export type RequesterValue = string | number | boolean | (string | number | boolean)[] | DateRangeValue | null;

export const REQUESTER_TYPES = ["dropdown", "multiselect", "date", "daterange", "search"] as const;

/** The filters shown on a story (on the home: those not limited to some stories). */
export function requestersOn(config: FrontConfig, slide: Slide | null): Requester[] {
  return (config.requesters ?? []).filter((r) => {
    if (!slide) return !r.stories;
    if (r.stories && !r.stories.includes(slide.id)) return false;
    // A slide's own `requesters` list (older configs) limits it too.
    return !slide.requesters || slide.requesters.includes(r.id);
  });
}

/** How a filter names a chart: `story/chart id`, or `story/index` for a chart without an id. */
export function chartRef(slideId: string, blockId: string | undefined, index: number): string {
  return `${slideId}/${blockId ?? index}`;
}

export function appliesTo(r: Requester, ref: string): boolean {
  return !r.charts || r.charts.includes(ref);
}

/** The value a filter starts with: its default, else the first option (dropdown) or nothing. */
export function initialValue(r: Requester, options: unknown[] = []): RequesterValue {
  const d = r.default;
  switch (r.type) {
    case "multiselect":
      return Array.isArray(d) ? [...d] : [];
    case "daterange":
      return d && typeof d === "object" && !Array.isArray(d) ? { start: d.start ?? null, end: d.end ?? null } : { start: null, end: null };
    case "search":
      return typeof d === "string" ? d : "";
    case "date":
      return typeof d === "string" ? d : null;
    default:
      return d !== undefined && d !== null && !Array.isArray(d) && typeof d !== "object"
        ? d
        : ((options[0] as RequesterValue | undefined) ?? null);
  }
}

export function isEmpty(value: RequesterValue | undefined): boolean {
  if (value === null || value === undefined || value === "") return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === "object") return !value.start && !value.end;
  return false;
}

/**
 * The filter condition a chart gets for a filter with a `filter_column`, written with the
 * filter's variable (rendered by the backend); null when it filters nothing (no column, or
 * no value chosen: an empty multi-select or search shows everything).
 */
export function filterCondition(r: Requester, value: RequesterValue | undefined): Record<string, unknown> | null {
  const column = r.filter_column;
  if (!column || isEmpty(value)) return null;
  const v = `{{ ${r.id} }}`;
  switch (r.type) {
    case "multiselect":
      return { column, operator: "in", value: v };
    case "search":
      // The text as typed (see searchPattern), anywhere in the value, whatever the case.
      return { column, operator: "matches", value: `(?i){{ ${patternVariable(r.id)} }}` };
    case "date":
      return { and: [{ column, operator: "from", value: v }, { column, operator: "until", value: v }] };
    case "daterange": {
      const range = value as DateRangeValue;
      const bounds = [];
      if (range.start) bounds.push({ column, operator: "from", value: `{{ ${r.id}.start }}` });
      if (range.end) bounds.push({ column, operator: "until", value: `{{ ${r.id}.end }}` });
      return bounds.length === 1 ? bounds[0] : { and: bounds };
    }
    default:
      return { column, operator: "eq", value: v };
  }
}

/** The variable holding a search filter's text as a literal regular expression. */
export function patternVariable(id: string): string {
  return `${id}__pattern`;
}

/** Text matched literally: a "(" or "+" typed in a search is a character, not regex syntax. */
export function searchPattern(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A pipeline with filter steps right after its `domain` step; other requests are left as they are. */
export function withFilters(query: unknown, conditions: Record<string, unknown>[]): unknown {
  if (!conditions.length || !Array.isArray(query) || !query.length) return query;
  const first = query[0] as { name?: unknown } | null;
  if (!first || typeof first !== "object" || first.name !== "domain") return query;
  return [first, ...conditions.map((condition) => ({ name: "filter", condition })), ...query.slice(1)];
}

export interface ChartRequest {
  query: unknown;
  variables: Record<string, unknown>;
}

/**
 * What one chart sends to /data: every filter's variable — the chosen value for the filters
 * shown that apply to it, the starting value for the others, so a request naming a variable
 * never misses it — and its query with the shown, applying filters' steps.
 */
export function chartRequest(
  query: unknown,
  all: Requester[],
  shown: Requester[],
  values: Record<string, RequesterValue>,
  ref: string | null,
  options: Record<string, unknown[]> = {},
): ChartRequest {
  const variables: Record<string, unknown> = {};
  const conditions: Record<string, unknown>[] = [];
  for (const r of all) {
    const active = shown.includes(r) && (ref === null || appliesTo(r, ref));
    const value = active && r.id in values ? values[r.id] : initialValue(r, options[r.id]);
    variables[r.id] = value;
    if (active) {
      const condition = filterCondition(r, value);
      if (condition) conditions.push(condition);
      if (condition && r.type === "search") variables[patternVariable(r.id)] = searchPattern(String(value));
    }
  }
  return { query: withFilters(query, conditions), variables };
}

/** A filter's value as text, for a narrative or a chip. */
export function valueText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.map(String).join(", ");
  if (typeof value === "object") {
    const range = value as Partial<DateRangeValue>;
    if ("start" in range || "end" in range) return `${range.start ?? "…"} – ${range.end ?? "…"}`;
    return JSON.stringify(value);
  }
  return String(value);
}

/** The data request listing a column's distinct values, sorted: a filter's values. */
export function valuesQuery(domain: string, column: string): unknown[] {
  return [
    { name: "domain", domain },
    { name: "uniquegroups", on: [column] },
    { name: "sort", columns: [{ column, order: "asc" }] },
  ];
}

/** The form's domain and column back from a request `valuesQuery` wrote (the sort optional). */
export function parseValuesQuery(query: unknown): { domain: string; column: string } | null {
  if (!Array.isArray(query) || query.length < 2 || query.length > 3) return null;
  const [domain, groups, sort] = query as Record<string, unknown>[];
  if (domain?.name !== "domain" || typeof domain.domain !== "string") return null;
  if (groups?.name !== "uniquegroups" || !Array.isArray(groups.on) || groups.on.length !== 1) return null;
  const column = String(groups.on[0]);
  if (sort && (sort.name !== "sort" || JSON.stringify(sort.columns) !== JSON.stringify([{ column, order: "asc" }]))) return null;
  return { domain: domain.domain, column };
}

/** A variable name from a label, unique among `taken`. */
export function variableName(label: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  let base = label
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, 40);
  if (!base) base = "filter";
  if (/^[0-9]/.test(base)) base = `f_${base}`;
  let name = base;
  for (let n = 2; used.has(name); n += 1) name = `${base}_${n}`;
  return name;
}
