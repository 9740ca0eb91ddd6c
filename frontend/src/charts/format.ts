import type { NumberFormat } from "../api";

export function formatNumber(value: unknown, format: NumberFormat = {}, locale = "en"): string {
  if (value === null || value === undefined || value === "") return "–";
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(n)) return String(value);
  const scaled = format.percent ? n * 100 : n;
  const options: Intl.NumberFormatOptions = {
    // Compact figures keep one decimal (1.2M) unless told otherwise.
    maximumFractionDigits: format.decimals ?? (format.compact ? 1 : Math.abs(scaled) < 10 ? 2 : 0),
    minimumFractionDigits: format.decimals ?? 0,
  };
  if (format.compact) options.notation = "compact";
  const text = new Intl.NumberFormat(format.locale || locale, options).format(scaled);
  return `${format.prefix ?? ""}${text}${format.percent ? " %" : ""}${format.unit ? ` ${format.unit}` : ""}`;
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
