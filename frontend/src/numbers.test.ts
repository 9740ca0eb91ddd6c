import { describe, expect, it } from "vitest";
import { axisFormatter, axisFormatterFor, columnDecimals, columnHeader, distinctLabels, formatCell, formatNumber, isIdentifierColumn, niceStep } from "./numbers";

// Intl writes narrow no-break spaces in French: compare with plain spaces.
const plain = (text: string) => text.replace(/[\u00a0\u202f]/g, " ");

describe("formatNumber", () => {
  it("is compact for labels and KPIs when asked, with three significant digits", () => {
    expect(formatNumber(2_345_678, { compact: true, unit: "€" }, "en", "kpi")).toBe("2.35M\u00a0€");
    expect(plain(formatNumber(2_345_678, { compact: true, unit: "€" }, "fr", "kpi"))).toBe("2,35 M €");
    expect(formatNumber(971_234, { compact: true }, "en")).toBe("971K");
    expect(plain(formatNumber(971_234, { compact: true }, "fr"))).toBe("971 k");
    // Two different countries never both read "2M".
    expect(formatNumber(1_600_000, { compact: true })).not.toBe(formatNumber(2_400_000, { compact: true }));
  });

  it("is exact in tooltips and tables", () => {
    expect(formatNumber(2_345_678.456, { compact: true, unit: "€" }, "en", "tooltip")).toBe("2,345,678.46\u00a0€");
    expect(plain(formatNumber(2_345_678.456, { compact: true }, "fr", "table"))).toBe("2 345 678,46");
    expect(formatNumber(12, { decimals: 1 }, "en", "table")).toBe("12.0");
  });

  it("keeps negatives, zero, tiny and huge values readable", () => {
    expect(formatNumber(-1_234_567, { compact: true })).toBe("-1.23M");
    expect(formatNumber(0, { compact: true })).toBe("0");
    expect(formatNumber(0.000123, {}, "en", "tooltip")).toBe("0.000123");
    expect(formatNumber(-0.5, {}, "en", "tooltip")).toBe("-0.5");
    expect(formatNumber(3.2e15, { compact: true })).toBe("3200T");
    expect(formatNumber(12.3456, { compact: true })).toBe("12.3");
    expect(formatNumber(999, { compact: true })).toBe("999");
  });

  it("writes percentages in one style per locale", () => {
    expect(formatNumber(0.2934, { percent: true })).toBe("29.34%");
    expect(formatNumber(0.2934, { percent: true, decimals: 1 })).toBe("29.3%");
    expect(plain(formatNumber(0.2934, { percent: true, decimals: 1 }, "fr"))).toBe("29,3 %");
    expect(formatNumber(0.1729, { percent: true, decimals: 1 }, "en", "tooltip")).toBe("17.3%");
  });

  it("says when there is no value, and leaves text alone", () => {
    expect(formatNumber(null)).toBe("–");
    expect(formatNumber(undefined)).toBe("–");
    expect(formatNumber("")).toBe("–");
    expect(formatNumber("n/a")).toBe("n/a");
    expect(formatNumber(Number.NaN)).toBe("NaN");
    expect(formatNumber("1500", { compact: true })).toBe("1.5K");
  });
});

describe("axisFormatter", () => {
  it("never gives two ticks the same text", () => {
    const ticks = [0, 500_000, 1_000_000, 1_500_000, 2_000_000, 2_500_000, 3_000_000];
    const format = axisFormatter(ticks);
    expect(ticks.map(format)).toEqual(["0", "500K", "1M", "1.5M", "2M", "2.5M", "3M"]);
    const close = [1_000_000, 1_001_000, 1_002_000, 1_003_000];
    const texts = close.map(axisFormatter(close));
    expect(new Set(texts).size).toBe(close.length);
    expect(texts[1]).toBe("1.001M");
  });

  it("is compact in French too", () => {
    const ticks = [0, 250_000, 500_000];
    expect(ticks.map(axisFormatter(ticks, {}, "fr")).map(plain)).toEqual(["0", "250 k", "500 k"]);
  });

  it("keeps small and negative ticks apart", () => {
    const ticks = [-0.2, -0.1, 0, 0.1, 0.2];
    expect(ticks.map(axisFormatter(ticks))).toEqual(["-0.2", "-0.1", "0", "0.1", "0.2"]);
    const pct = [0, 0.05, 0.1, 0.15];
    expect(pct.map(axisFormatter(pct, { percent: true }))).toEqual(["0%", "5%", "10%", "15%"]);
  });
});

describe("distinctLabels", () => {
  it("adds digits only where values would read the same", () => {
    expect(distinctLabels([2_001_000, 2_004_000], { compact: true })).toEqual(["2.001M", "2.004M"]);
    expect(distinctLabels([1_200_000, 3_400_000], { compact: true })).toEqual(["1.2M", "3.4M"]);
    // Equal values may read the same (a tie is a tie).
    expect(distinctLabels([5, 5], { compact: true })).toEqual(["5", "5"]);
  });
});

describe("tables", () => {
  it("never groups years and identifiers", () => {
    expect(isIdentifierColumn("year", [2023, 2024])).toBe(true);
    expect(isIdentifierColumn("order_year", [2023])).toBe(true);
    expect(isIdentifierColumn("year", [12.5])).toBe(false);
    expect(isIdentifierColumn("customer_id")).toBe(true);
    expect(isIdentifierColumn("zip")).toBe(true);
    expect(isIdentifierColumn("revenue", [2023])).toBe(false);
    expect(isIdentifierColumn("idea")).toBe(false);
    expect(formatCell(2023, {}, "en", true)).toBe("2023");
    expect(formatCell(2023, {}, "en", false)).toBe("2,023");
  });

  it("writes cells exactly and headers with their unit", () => {
    expect(formatCell(1234.5, { unit: "€", compact: true })).toBe("1,234.5\u00a0€");
    expect(formatCell("Paris")).toBe("Paris");
    expect(formatCell("75001", {}, "en", true)).toBe("75001");
    expect(formatCell(null)).toBe("–");
    expect(columnHeader("revenue", { unit: "€" })).toBe("revenue (€)");
    expect(columnHeader("share", { percent: true })).toBe("share (%)");
    expect(columnHeader("country")).toBe("country");
  });
});

describe("axisFormatterFor", () => {
  it("steps as chart libraries do and keeps ticks apart", () => {
    expect([0.3, 7, 23, 2_400, 0.07].map(niceStep)).toEqual([0.5, 10, 25, 2_500, 0.1]);
    expect(niceStep(0)).toBe(0);
    const format = axisFormatterFor([120_000, 2_950_000, 1_700_000]);
    expect([0, 500_000, 1_000_000, 1_500_000, 2_000_000, 2_500_000, 3_000_000].map(format)).toEqual([
      "0", "500K", "1M", "1.5M", "2M", "2.5M", "3M",
    ]);
    // Axes start at zero: a range of losses and gains steps through both.
    const mixed = axisFormatterFor([-1_250_000, 3_700_000]);
    expect([-2_000_000, -1_000_000, 0, 1_000_000, 2_000_000, 3_000_000, 4_000_000].map(mixed)).toEqual([
      "-2M", "-1M", "0", "1M", "2M", "3M", "4M",
    ]);
    const fine = axisFormatterFor([1_234_000], { compact: true });
    expect([0, 250_000, 500_000, 750_000, 1_000_000, 1_250_000].map(fine)).toEqual(["0", "250K", "500K", "750K", "1M", "1.25M"]);
    expect(axisFormatterFor(["n/a"])(1500)).toBe("1.5K");
  });
});

describe("a table column's decimals", () => {
  it("are the most any value has, up to 2, so the cells line up", () => {
    expect(columnDecimals([25238.59, 109091.4, 100667.21])).toBe(2);
    expect(formatCell(109091.4, { decimals: columnDecimals([25238.59, 109091.4]), unit: "€" }, "en")).toBe("109,091.40\u00a0€");
    expect(columnDecimals([1.5, 2.25, 3])).toBe(2);
    expect(columnDecimals([1.5, 2, -3.5])).toBe(1);
    expect(columnDecimals([12.3456789])).toBe(2); // the exact format's 2 at most
  });
  it("leave whole numbers, tiny values, percentages and fixed formats to their own rule", () => {
    expect(columnDecimals([1, 2, 3000])).toBeUndefined();
    expect(columnDecimals([0.000123, 0.5])).toBeUndefined();
    expect(columnDecimals([0.25, 1.5], { percent: true })).toBeUndefined();
    expect(columnDecimals([1.5], { decimals: 0 })).toBeUndefined();
    expect(columnDecimals(["a", null, 2.999])).toBeUndefined(); // 2.999 rounds to 3.00 → 3
    expect(columnDecimals(["a", null, 2.5])).toBe(1);
  });
});
