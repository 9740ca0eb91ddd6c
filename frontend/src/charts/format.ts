import type { NumberFormat } from "../api";
import { formatNumber as formatWith, type Purpose } from "../numbers";

/**
 * A number as it reads for `purpose` (see numbers.ts: compact labels, exact tooltips and
 * cells), in the format's locale or else `locale`.
 */
export function formatNumber(value: unknown, format: NumberFormat = {}, locale = "en", purpose: Purpose = "label"): string {
  return formatWith(value, format, format.locale || locale, purpose);
}

const DATE_PARTS: Record<NonNullable<NumberFormat["date"]>, Intl.DateTimeFormatOptions> = {
  day: { year: "numeric", month: "short", day: "numeric" },
  month: { year: "numeric", month: "short" },
  year: { year: "numeric" },
};

/** A date-like value (ISO text, epoch ms) as a day, month or year in `locale`; anything else as text. */
export function formatDate(value: unknown, date: NumberFormat["date"], locale = "en"): string {
  if (value === null || value === undefined || value === "") return "–";
  if (!date) return String(value);
  const parsed =
    typeof value === "number" ? new Date(value) : typeof value === "string" && /^\d{4}-\d{2}(-\d{2})?/.test(value) ? new Date(value) : null;
  if (!parsed || Number.isNaN(parsed.getTime())) return String(value);
  return new Intl.DateTimeFormat(locale, { ...DATE_PARTS[date], timeZone: "UTC" }).format(parsed);
}
