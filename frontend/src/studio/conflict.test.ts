import { afterEach, describe, expect, it } from "vitest";
import type { ConfigConflict } from "../api";
import { locale } from "../i18n";
import { conflictHeadline, conflictLines } from "./conflict";

const conflict = (changes: ConfigConflict["changes"], by: string | null = "bob"): ConfigConflict => ({
  kind: "front",
  expected_version: 3,
  current_version: 4,
  updated_by: by,
  updated_at: "2026-12-05T22:00:00+00:00",
  changes,
});

describe("a save made meanwhile", () => {
  afterEach(() => {
    locale.value = "en";
  });

  it("lists the stories theirs adds, removes and changes, and the other keys", () => {
    const lines = conflictLines(
      conflict({
        keys: ["home", "requesters", "slides"],
        stories: { added: [{ id: "late", title: "Late story" }], removed: [], changed: [{ id: "kpis", title: "" }] },
      }),
    );
    expect(lines).toEqual(["Stories only in theirs: Late story", "Stories that differ: kpis", "They also changed: home, requesters"]);
  });

  it("says nothing of what did not change", () => {
    expect(conflictLines(conflict({ keys: [], stories: { added: [], removed: [], changed: [] } }))).toEqual([]);
  });

  it("names who saved, or someone, in the current language", () => {
    expect(conflictHeadline(conflict({ keys: [] }), "en")).toMatch(/^bob saved this app's staging on .*2026.*, after you opened it\.$/);
    locale.value = "fr";
    expect(conflictHeadline(conflict({ keys: [] }, null), "fr")).toMatch(/^Quelqu’un a enregistré le brouillon/);
  });
});
