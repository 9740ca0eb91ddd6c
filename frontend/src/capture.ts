// The capture view's inputs, read from its address: pure, unit-tested.
// /capture/apps/:app[/stories/:story]?stage=…&vars=<JSON object>#capture=<capture token>

/** The page a capture shows, as the backend names it: "home" or "story:<id>". */
export function capturePage(story: string | undefined): string {
  return story ? `story:${story}` : "home";
}

/** The capture token of the fragment (`#capture=…`: not `#token=`, which is an SSO login's), or null. */
export function tokenFromHash(hash: string): string | null {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const token = params.get("capture");
  return token && token.trim() ? token.trim() : null;
}

/** The filters' values of `?vars=` (a JSON object); anything else gives no value. */
export function captureVariables(raw: unknown): Record<string, unknown> {
  if (typeof raw !== "string" || !raw) return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A filter's value as a report shows it beside its label. */
export function variableText(value: unknown): string {
  if (value === null || value === undefined || value === "") return "—";
  if (Array.isArray(value)) return value.map(variableText).join(", ");
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

export type ExportState = "idle" | "queued" | "running" | "succeeded" | "failed";

/** How often to ask an export's state: quickly at first, then every two seconds. */
export function pollDelay(attempt: number): number {
  return Math.min(2000, 300 + attempt * 200);
}
