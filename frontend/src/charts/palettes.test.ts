// The chart palettes are readable: each colour stands out from the chart's background (WCAG
// 1.4.11, graphical objects: 3:1) and neighbouring series stay apart for people with red–green
// colour blindness (simulated with Machado, Oliveira & Fernandes 2009, severity 1, compared in
// CIELAB with ΔE*76).
import { describe, expect, it } from "vitest";
import { PALETTES } from "./builder";
import { HEAT_SCALE, PALETTE, WATERFALL } from "./options";

// A story's panel (white) and the page around it (style.css --bg): charts are drawn on both.
const BACKGROUNDS = ["#ffffff", "#f6f7fb"];
// Far beyond the just-noticeable difference (≈2.3): two series read as two colours at a glance.
const APART = 20;
// Any two colours of the default palette (a legend matches any pair): a little less.
const PAIRS = 18;

type Rgb = [number, number, number];
type Matrix = [Rgb, Rgb, Rgb];

const VISIONS: Record<string, Matrix> = {
  normal: [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ],
  deuteranopia: [
    [0.367322, 0.860646, -0.227968],
    [0.280085, 0.672501, 0.047413],
    [-0.01182, 0.04294, 0.968881],
  ],
  protanopia: [
    [0.152286, 1.052583, -0.204868],
    [0.114503, 0.786281, 0.099216],
    [-0.003882, -0.048116, 1.051998],
  ],
};

/** sRGB "#rrggbb" → linear RGB in 0..1. */
function linear(hex: string): Rgb {
  const channel = (i: number) => {
    const c = parseInt(hex.slice(1 + 2 * i, 3 + 2 * i), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return [channel(0), channel(1), channel(2)];
}

/** WCAG's relative luminance. */
function luminance(hex: string): number {
  const [r, g, b] = linear(hex);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG's contrast ratio, 1 to 21. */
function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** The colour as seen with a vision (a matrix on linear RGB), in CIELAB (D65). */
function seen(hex: string, vision: Matrix): Rgb {
  const rgb = linear(hex);
  const [r, g, b] = vision.map((row) => Math.min(1, Math.max(0, row[0] * rgb[0] + row[1] * rgb[1] + row[2] * rgb[2])));
  const x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
  const y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  const z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
  const f = (t: number) => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116);
  return [116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))];
}

/** ΔE*76 between two colours, as a vision sees them. */
function distance(a: string, b: string, vision: Matrix): number {
  const [p, q] = [seen(a, vision), seen(b, vision)];
  return Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]);
}

describe("the colour science", () => {
  it("gives WCAG's known ratios", () => {
    expect(contrast("#000000", "#ffffff")).toBeCloseTo(21, 5);
    expect(contrast("#777777", "#ffffff")).toBeCloseTo(4.48, 2);
    expect(contrast("#ffffff", "#ffffff")).toBe(1);
  });

  it("confuses red and green for the colour-blind only", () => {
    // The old palette's amber and lime: far apart for most people, close without red–green vision.
    expect(distance("#f59e0b", "#84cc16", VISIONS.normal)).toBeGreaterThan(APART * 3);
    expect(distance("#f59e0b", "#84cc16", VISIONS.deuteranopia)).toBeLessThan(APART / 2);
    expect(distance("#f59e0b", "#84cc16", VISIONS.protanopia)).toBeLessThan(APART);
  });

  it("fails the palette the stack had before (light colours on white)", () => {
    const before = ["#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16"];
    expect(before.filter((c) => contrast(c, "#ffffff") < 3)).toEqual(["#f59e0b", "#10b981", "#06b6d4", "#84cc16"]);
  });
});

describe("the chart palettes", () => {
  it("default is the stack's palette", () => {
    expect(PALETTES.default).toBe(PALETTE);
  });

  for (const [name, colors] of Object.entries(PALETTES)) {
    describe(name, () => {
      it("has colours that are 3:1 against the chart's background (4.5:1 for high contrast)", () => {
        const least = name === "contrast" ? 4.5 : 3;
        for (const color of colors) {
          for (const bg of BACKGROUNDS) expect(contrast(color, bg), `${color} on ${bg}`).toBeGreaterThanOrEqual(least);
        }
      });

      it("keeps neighbouring colours apart in every vision", () => {
        for (const [vision, matrix] of Object.entries(VISIONS)) {
          for (let i = 0; i + 1 < colors.length; i++) {
            const d = distance(colors[i], colors[i + 1], matrix);
            expect(d, `${colors[i]} next to ${colors[i + 1]} (${vision})`).toBeGreaterThanOrEqual(APART);
          }
        }
      });

      it("has no colour twice", () => {
        expect(new Set(colors.map((c) => c.toLowerCase())).size).toBe(colors.length);
      });
    });
  }

  it("default keeps every pair apart, not only neighbours (a legend matches any two)", () => {
    for (const [vision, matrix] of Object.entries(VISIONS)) {
      for (const [i, a] of PALETTE.entries()) {
        for (const b of PALETTE.slice(i + 1)) expect(distance(a, b, matrix), `${a} vs ${b} (${vision})`).toBeGreaterThanOrEqual(PAIRS);
      }
    }
  });

  it("tells a waterfall's ups from its downs and its total", () => {
    for (const [vision, matrix] of Object.entries(VISIONS)) {
      expect(distance(WATERFALL.up, WATERFALL.down, matrix), vision).toBeGreaterThanOrEqual(APART);
      expect(distance(WATERFALL.up, WATERFALL.total, matrix), vision).toBeGreaterThanOrEqual(APART);
      expect(distance(WATERFALL.down, WATERFALL.total, matrix), vision).toBeGreaterThanOrEqual(APART);
    }
    for (const color of Object.values(WATERFALL)) for (const bg of BACKGROUNDS) expect(contrast(color, bg)).toBeGreaterThanOrEqual(3);
  });
});

describe("the heatmap's scale", () => {
  it("gets darker at every step, in every vision, far enough apart to read the order", () => {
    for (const vision of Object.values(VISIONS)) {
      const lightness = HEAT_SCALE.map((c) => seen(c, vision)[0]);
      for (let i = 1; i < lightness.length; i++) expect(lightness[i - 1] - lightness[i]).toBeGreaterThan(10);
    }
  });
  it("ends 3:1 from the panel", () => {
    for (const bg of BACKGROUNDS) expect(contrast(HEAT_SCALE[HEAT_SCALE.length - 1], bg)).toBeGreaterThanOrEqual(3);
  });
});
