// Scheduled reports in forms: schedule presets ⇄ cron, and a schedule in words. Pure, unit-tested.

export type Preset = "daily" | "weekdays" | "weekly" | "monthly" | "custom";

/** The cron of a preset at `time` ("HH:MM"); "custom" keeps `custom`. */
export function presetCron(preset: Preset, time: string, custom = ""): string {
  const [h, m] = /^(\d{1,2}):(\d{2})$/.test(time) ? time.split(":").map(Number) : [8, 0];
  switch (preset) {
    case "daily":
      return `${m} ${h} * * *`;
    case "weekdays":
      return `${m} ${h} * * 1-5`;
    case "weekly":
      return `${m} ${h} * * 1`;
    case "monthly":
      return `${m} ${h} 1 * *`;
    default:
      return custom.trim();
  }
}

/** The preset and time a cron is, or "custom". */
export function cronPreset(cron: string): { preset: Preset; time: string } {
  const match = /^(\d{1,2}) (\d{1,2}) (\*|1) \* (\*|1-5|1)$/.exec(cron.trim());
  if (!match) return { preset: "custom", time: "08:00" };
  const time = `${match[2].padStart(2, "0")}:${match[1].padStart(2, "0")}`;
  const [, , , day, weekday] = match;
  if (day === "1" && weekday === "*") return { preset: "monthly", time };
  if (day === "*" && weekday === "*") return { preset: "daily", time };
  if (day === "*" && weekday === "1-5") return { preset: "weekdays", time };
  if (day === "*" && weekday === "1") return { preset: "weekly", time };
  return { preset: "custom", time: "08:00" };
}

/** "HH:MM" of a run's time in a time zone, for lists. */
export function runTime(iso: string | null, timeZone: string, locale = "en"): string {
  if (!iso) return "—";
  try {
    return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short", timeZone }).format(new Date(iso));
  } catch {
    return iso;
  }
}

/** Usernames typed with commas, spaces or new lines; each once. */
export function parseRecipients(text: string): string[] {
  return [...new Set(text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean))];
}
