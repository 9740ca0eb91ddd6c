import { beforeEach, describe, expect, it } from "vitest";
import type { DataChanges, DesignChanges, ReleaseDiff, ReleaseRecord } from "./api";
import { locale } from "./i18n";
import { canRelease, changesNothing, defaultParts, describeRelease, designNotes, domainLines, storyLines } from "./releases";

function design(over: Partial<DesignChanges> = {}): DesignChanges {
  return {
    changed: false,
    stories: { added: [], removed: [], changed: [], reordered: false },
    home_changed: false,
    requesters_changed: false,
    configs: [
      { kind: "front", changed: false },
      { kind: "etl", changed: false },
      { kind: "augment", changed: false },
    ],
    ...over,
  };
}

function data(over: Partial<DataChanges> = {}): DataChanges {
  return { changed: false, version_before: "v1", version_after: "v1", domains: [], ...over };
}

function diff(over: Partial<ReleaseDiff> = {}): ReleaseDiff {
  return { design: design(), data: data(), staging_has_data: true, ...over };
}

function record(over: Partial<ReleaseRecord> = {}): ReleaseRecord {
  return {
    id: 3, created_at: "2026-12-14T10:00:00+00:00", created_by: "bob", design: true, data: true,
    rollback_of: null, config_versions: { front: 2 }, domain_version: "v2",
    changes: { design: design(), data: data() }, can_roll_back: true, rollback_refused: null, ...over,
  };
}

beforeEach(() => {
  locale.value = "en";
});

describe("the release dialog", () => {
  it("releases the data only when staging has some", () => {
    expect(defaultParts(diff())).toEqual({ design: true, data: true });
    const empty = diff({ staging_has_data: false });
    expect(defaultParts(empty)).toEqual({ design: true, data: false });
    expect(canRelease(empty, { design: true, data: true })).toBe(false);
    expect(canRelease(empty, { design: true, data: false })).toBe(true);
    expect(canRelease(diff(), { design: false, data: false })).toBe(false);
  });

  it("says when the chosen parts change nothing", () => {
    const dataOnly = diff({ data: data({ changed: true }) });
    expect(changesNothing(dataOnly, { design: true, data: false })).toBe(true);
    expect(changesNothing(dataOnly, { design: true, data: true })).toBe(false);
  });

  it("lists stories added, changed, then removed, with their old titles", () => {
    const d = design({
      changed: true,
      stories: {
        added: [{ id: "c", title: "" }],
        removed: [{ id: "b", title: "Costs" }],
        changed: [{ id: "a", title: "Revenue", title_before: "Sales" }],
        reordered: true,
      },
    });
    expect(storyLines(d)).toEqual([
      { change: "added", id: "c", title: "c", before: null },
      { change: "changed", id: "a", title: "Revenue", before: "Sales" },
      { change: "removed", id: "b", title: "Costs", before: null },
    ]);
    expect(designNotes(d)).toEqual(["The stories' order changes"]);
  });

  it("names home, filter and ETL changes", () => {
    const d = design({
      home_changed: true,
      requesters_changed: true,
      configs: [
        { kind: "front", changed: true },
        { kind: "etl", changed: true },
        { kind: "augment", changed: false },
      ],
    });
    expect(designNotes(d)).toEqual(["The home page changes", "The filters change", "The ETL config changes"]);
  });

  it("shows changed domains before unchanged ones", () => {
    const lines = domainLines(
      data({
        domains: [
          { name: "a", change: "unchanged", rows_before: 1, rows_after: 1 },
          { name: "z", change: "added", rows_before: null, rows_after: 5 },
          { name: "m", change: "removed", rows_before: 2, rows_after: null },
          { name: "b", change: "changed", rows_before: 1, rows_after: 3 },
        ],
      }),
    );
    expect(lines.map((l) => l.name)).toEqual(["z", "b", "m", "a"]);
  });
});

describe("the release history", () => {
  it("says what a release moved and how much changed", () => {
    const changed = record({
      design: true,
      data: false,
      changes: {
        design: design({ changed: true, stories: { added: [{ id: "x", title: "X" }], removed: [], changed: [{ id: "a", title: "A" }], reordered: false } }),
        data: data(),
      },
    });
    expect(describeRelease(changed)).toBe("Design · Stories: 1 added, 1 changed");
    const loaded = record({
      design: false,
      changes: { design: design(), data: data({ changed: true, domains: [{ name: "s", change: "changed", rows_before: 1, rows_after: 2 }] }) },
    });
    expect(describeRelease(loaded)).toBe("Data · 1 domain(s) changed");
    expect(describeRelease(record({ rollback_of: 2 }))).toBe("Rollback to release #2 · No change");
  });

  it("speaks French too", () => {
    locale.value = "fr";
    expect(describeRelease(record())).toBe("Design et données · Aucun changement");
  });
});
