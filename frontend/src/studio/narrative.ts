// A story's narrative: text with `{{ name }}` placeholders, filled from the filters' values and
// from named values (a data request + column). Rendered as text parts, never as HTML. Pure, unit-tested.
import type { NumberFormat } from "../api";
import { formatNumber } from "../charts/format";
import { valueText } from "./filters";

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*\}\}/g;

export interface NarrativePart {
  text: string;
  /** The variable this part shows; `missing` when nothing of that name exists. */
  variable?: string;
  missing?: boolean;
}

/** What a narrative knows: filter values by id, named values (numbers are formatted). */
export interface NarrativeScope {
  filters: Record<string, unknown>;
  values: Record<string, { value: unknown; format?: NumberFormat } | undefined>;
  locale?: string;
  /** Shown for a named value still loading. */
  pending?: string;
}

function lookup(path: string, scope: NarrativeScope): { found: boolean; text: string } {
  const [head, ...rest] = path.split(".");
  if (head in scope.values) {
    const named = scope.values[head];
    if (!named) return { found: true, text: scope.pending ?? "…" };
    const v = named.value;
    const numeric = typeof v === "number" || (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v)));
    return { found: true, text: numeric ? formatNumber(v, named.format ?? {}, scope.locale) : valueText(v) };
  }
  if (head in scope.filters) {
    let v: unknown = scope.filters[head];
    for (const key of rest) v = v && typeof v === "object" ? (v as Record<string, unknown>)[key] : undefined;
    return { found: true, text: valueText(v) };
  }
  return { found: false, text: "" };
}

export function renderNarrative(text: string, scope: NarrativeScope): NarrativePart[] {
  const parts: NarrativePart[] = [];
  let last = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    const at = match.index ?? 0;
    if (at > last) parts.push({ text: text.slice(last, at) });
    const { found, text: shown } = lookup(match[1], scope);
    parts.push(found ? { text: shown, variable: match[1] } : { text: match[0], variable: match[1], missing: true });
    last = at + match[0].length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}

/** The names a narrative uses, in order, once each. */
export function narrativeVariables(text: string): string[] {
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]))];
}

/** `text` with `{{ name }}` put at the cursor (`at`), spaced from the words around it. */
export function insertVariable(text: string, at: number, name: string): { text: string; cursor: number } {
  const before = text.slice(0, at);
  const after = text.slice(at);
  const token = `${before && !/\s$/.test(before) ? " " : ""}{{ ${name} }}${after && !/^\s/.test(after) ? " " : ""}`;
  return { text: before + token + after, cursor: before.length + token.length };
}
