import { describe, expect, it } from "vitest";
import { cronPreset, parseRecipients, presetCron, runTime } from "./reports";

describe("report schedules", () => {
  it("makes cron from presets", () => {
    expect(presetCron("daily", "08:30")).toBe("30 8 * * *");
    expect(presetCron("weekdays", "07:05")).toBe("5 7 * * 1-5");
    expect(presetCron("weekly", "18:00")).toBe("0 18 * * 1");
    expect(presetCron("monthly", "06:00")).toBe("0 6 1 * *");
    expect(presetCron("custom", "06:00", " */15 * * * * ")).toBe("*/15 * * * *");
    expect(presetCron("daily", "bad")).toBe("0 8 * * *");
  });

  it("reads presets back from cron", () => {
    for (const preset of ["daily", "weekdays", "weekly", "monthly"] as const) {
      expect(cronPreset(presetCron(preset, "09:15"))).toEqual({ preset, time: "09:15" });
    }
    expect(cronPreset("*/5 * * * *").preset).toBe("custom");
    expect(cronPreset("0 8 * * 0").preset).toBe("custom");
  });

  it("shows times in the report's time zone", () => {
    expect(runTime("2026-12-07T07:00:00+00:00", "Europe/Paris")).toContain("8:00");
    expect(runTime(null, "UTC")).toBe("—");
  });

  it("reads recipients", () => {
    expect(parseRecipients("ann, bob\ncarl  ann;")).toEqual(["ann", "bob", "carl"]);
    expect(parseRecipients("  ")).toEqual([]);
  });
});
