import type { NumberFormat } from "../api";

export function formatNumber(value: unknown, format: NumberFormat = {}, locale = "en"): string {
  if (value === null || value === undefined || value === "") return "–";
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(n)) return String(value);
  const scaled = format.percent ? n * 100 : n;
  const options: Intl.NumberFormatOptions = {
    maximumFractionDigits: format.decimals ?? (Math.abs(scaled) < 10 ? 2 : 0),
    minimumFractionDigits: format.decimals ?? 0,
  };
  if (format.compact) options.notation = "compact";
  const text = new Intl.NumberFormat(locale, options).format(scaled);
  return `${format.prefix ?? ""}${text}${format.percent ? " %" : ""}${format.unit ? ` ${format.unit}` : ""}`;
}
