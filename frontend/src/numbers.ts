// How every number reads: axes, labels, tooltips, tables and KPIs share these rules. Pure,
// unit-tested (numbers.test.ts), locale-aware through Intl.
//
// - A *label*, a *KPI* and an *axis* are compact ("2.35M €"), with enough significant digits
//   that two different values never read the same (an axis: every tick distinct).
// - A *tooltip* and a *table* cell are exact: the whole number, grouped, with its decimals.
// - Years and identifiers are never grouped ("2023", not "2,023").
// - Percentages follow the locale's style ("29.3%" in English, "29,3 %" in French).
import type { NumberFormat } from "./api";

export type Purpose = "axis" | "label" | "kpi" | "tooltip" | "table";

const EMPTY = "–";
// Compact values keep 3 significant digits unless more are needed to tell values apart.
const COMPACT_DIGITS = 3;
// Exact values show up to 2 decimals unless the format says how many (or the value is tiny).
const EXACT_DECIMALS = 2;

function toNumber(value: unknown): number | null {
  if (value === null || value === undefined || value === "" || typeof value === "boolean") return null;
  const n = typeof value === "number" ? value : Number(value);
  return Number.isFinite(n) ? n : null;
}

function isCompact(purpose: Purpose, format: NumberFormat): boolean {
  if (purpose === "tooltip" || purpose === "table") return false;
  // An axis is compact unless the format asks for exact numbers explicitly.
  return format.compact ?? purpose === "axis";
}

function numberOptions(n: number, purpose: Purpose, format: NumberFormat, digits: number): Intl.NumberFormatOptions {
  const options: Intl.NumberFormatOptions = {};
  if (format.percent) options.style = "percent";
  if (isCompact(purpose, format) && Math.abs(percentScaled(n, format)) >= 1000) {
    options.notation = "compact";
    options.maximumSignificantDigits = digits;
    return options;
  }
  if (format.decimals !== undefined) {
    options.minimumFractionDigits = format.decimals;
    options.maximumFractionDigits = format.decimals;
    return options;
  }
  const scaled = Math.abs(percentScaled(n, format));
  if (scaled !== 0 && scaled < 1) {
    // 0.000123 would read "0" with 2 decimals: keep its significant digits instead.
    options.maximumSignificantDigits = Math.max(digits, 2);
    return options;
  }
  options.maximumFractionDigits = isCompact(purpose, format) ? Math.max(0, digits - integerDigits(scaled)) : EXACT_DECIMALS;
  return options;
}

function percentScaled(n: number, format: NumberFormat): number {
  return format.percent ? n * 100 : n;
}

function integerDigits(n: number): number {
  return n < 1 ? 1 : Math.floor(Math.log10(n)) + 1;
}

function withUnit(text: string, format: NumberFormat): string {
  return `${format.prefix ?? ""}${text}${format.unit ? `\u00a0${format.unit}` : ""}`;
}

/** `value` as it reads for `purpose` in `locale` ("–" for no value). */
export function formatNumber(
  value: unknown,
  format: NumberFormat = {},
  locale = "en",
  purpose: Purpose = "label",
  digits = COMPACT_DIGITS,
): string {
  const n = toNumber(value);
  if (n === null) return value === null || value === undefined || value === "" ? EMPTY : String(value);
  const text = new Intl.NumberFormat(locale, numberOptions(n, purpose, format, digits)).format(n);
  return withUnit(text, format);
}

/**
 * A formatter for an axis whose ticks are `ticks`: compact, with the fewest significant
 * digits (3 at least) that keep every distinct tick distinct — 0 / 500K / 1M / 1.5M / 2M /
 * 2.5M, never 0 / 500K / 1M / 2M / 2M / 3M.
 */
export function axisFormatter(ticks: number[], format: NumberFormat = {}, locale = "en"): (value: number) => string {
  const distinct = [...new Set(ticks.filter(Number.isFinite))];
  let digits = COMPACT_DIGITS;
  for (; digits < 15; digits++) {
    const texts = new Set(distinct.map((t) => formatNumber(t, format, locale, "axis", digits)));
    if (texts.size === distinct.length) break;
  }
  return (value: number) => formatNumber(value, format, locale, "axis", digits);
}

/**
 * An axis formatter for data whose values are `values`: the ticks ECharts will draw are
 * estimated as it picks them (about five "nice" steps from 0 or the minimum to the maximum),
 * and the formatter keeps them distinct.
 */
export function axisFormatterFor(values: unknown[], format: NumberFormat = {}, locale = "en"): (value: number) => string {
  const numbers = values.map(toNumber).filter((v): v is number => v !== null);
  if (!numbers.length) return (value: number) => formatNumber(value, format, locale, "axis");
  const low = Math.min(0, ...numbers);
  const high = Math.max(0, ...numbers);
  const step = niceStep((high - low) / 5);
  const ticks: number[] = [];
  if (step > 0) for (let t = Math.floor(low / step) * step; t <= high + step / 2 && ticks.length < 50; t += step) ticks.push(t);
  return axisFormatter(ticks.length ? ticks : numbers, format, locale);
}

/** 1, 2, 2.5 or 5 times a power of ten, as chart libraries step their axes. */
export function niceStep(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) return 0;
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  const nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 2.5 ? 2.5 : fraction <= 5 ? 5 : 10;
  // Rounded to the power's digits: 0.1 + 0.2 must stay 0.3.
  return Number((nice * power).toPrecision(12));
}

/**
 * Labels for a series of values shown side by side (bar labels, a table of KPIs): compact
 * when the format says so, with enough digits that different values read differently.
 */
export function distinctLabels(values: number[], format: NumberFormat = {}, locale = "en"): string[] {
  const distinct = new Set(values);
  for (let digits = COMPACT_DIGITS; digits < 15; digits++) {
    const texts = values.map((v) => formatNumber(v, format, locale, "label", digits));
    const byText = new Map<string, Set<number>>();
    values.forEach((v, i) => byText.set(texts[i], (byText.get(texts[i]) ?? new Set()).add(v)));
    if ([...byText.values()].every((s) => s.size === 1) || byText.size === distinct.size) return texts;
  }
  return values.map((v) => formatNumber(v, format, locale, "tooltip"));
}

const ID_NAME = /(^|[_\s-])(id|code|zip|postcode|postal|siren|siret)$|^id[_\s-]|(^|[_\s-])ids?$/i;
const YEAR_NAME = /(^|[_\s-])(year|yr|annee|année)s?$/i;

/**
 * Whether a column holds years or identifiers: its numbers are written without grouping
 * ("2023", "75001"). Read from its name, and for a year from its values (whole numbers
 * between 1000 and 2999).
 */
export function isIdentifierColumn(name: string, values: unknown[] = []): boolean {
  if (ID_NAME.test(name)) return true;
  if (!YEAR_NAME.test(name)) return false;
  const numbers = values.map(toNumber).filter((v): v is number => v !== null);
  return numbers.every((v) => Number.isInteger(v) && v >= 1000 && v <= 2999);
}

/** A table cell: exact, and ungrouped for years and identifiers. */
export function formatCell(value: unknown, format: NumberFormat = {}, locale = "en", identifier = false): string {
  const n = toNumber(value);
  if (n === null || typeof value === "string" && !/^\s*-?[\d.]+(e[+-]?\d+)?\s*$/i.test(value)) {
    return value === null || value === undefined || value === "" ? EMPTY : String(value);
  }
  if (identifier) return String(n);
  return formatNumber(n, format, locale, "table");
}

/**
 * The decimals a table column's numbers all get, so they line up ("109,091.40" under
 * "25,238.59", never "109,091.4"): the most any of them has, up to the exact format's 2;
 * undefined when the column is whole numbers or percentages (their own rule applies).
 */
export function columnDecimals(values: unknown[], format: NumberFormat = {}): number | undefined {
  if (format.decimals !== undefined || format.percent) return undefined;
  let most = 0;
  for (const value of values) {
    const n = toNumber(value);
    if (n === null || Number.isInteger(n) || Math.abs(n) < 1) continue;
    const rounded = Number(n.toFixed(EXACT_DECIMALS));
    const fraction = String(rounded).split(".")[1] ?? "";
    most = Math.max(most, fraction.length);
    if (most === EXACT_DECIMALS) break;
  }
  return most > 0 ? most : undefined;
}

/** A column header with its unit: "revenue (€)", "share (%)". */
export function columnHeader(label: string, format: NumberFormat = {}): string {
  const unit = format.percent ? "%" : format.unit;
  return unit ? `${label} (${unit})` : label;
}
