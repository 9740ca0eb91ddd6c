// Release dialog and history: what to show of a diff, what a past release did. Pure, unit-tested.
import type { DataChanges, DesignChanges, DomainChange, ReleaseDiff, ReleaseRecord } from "./api";
import { t } from "./i18n";

export interface ReleaseParts {
  design: boolean;
  data: boolean;
}

export type StoryChangeKind = "added" | "removed" | "changed";

export interface StoryLine {
  change: StoryChangeKind;
  id: string;
  title: string;
  /** The title production shows now, when the release renames the story. */
  before: string | null;
}

/** Both parts by default; the data only when staging has some. */
export function defaultParts(diff: ReleaseDiff): ReleaseParts {
  return { design: true, data: diff.staging_has_data };
}

/** Whether the chosen parts may be released: something chosen, and data only when staging has it. */
export function canRelease(diff: ReleaseDiff, parts: ReleaseParts): boolean {
  return (parts.design || parts.data) && (!parts.data || diff.staging_has_data);
}

/** Whether releasing the chosen parts changes nothing in production (allowed, but said). */
export function changesNothing(diff: ReleaseDiff, parts: ReleaseParts): boolean {
  return !(parts.design && diff.design.changed) && !(parts.data && diff.data.changed);
}

/** Stories added, then changed, then removed, each with its title (its id when untitled). */
export function storyLines(design: DesignChanges): StoryLine[] {
  const line = (change: StoryChangeKind) => (s: { id: string; title: string; title_before?: string | null }) => ({
    change,
    id: s.id,
    title: s.title || s.id,
    before: s.title_before ?? null,
  });
  return [
    ...design.stories.added.map(line("added")),
    ...design.stories.changed.map(line("changed")),
    ...design.stories.removed.map(line("removed")),
  ];
}

/** The other design changes, in words: home, filters, order, the ETL config and augment.py. */
export function designNotes(design: DesignChanges): string[] {
  const notes: string[] = [];
  if (design.home_changed) notes.push(t("rel.homeChanged"));
  if (design.requesters_changed) notes.push(t("rel.filtersChanged"));
  if (design.stories.reordered) notes.push(t("rel.reordered"));
  for (const c of design.configs) if (c.changed && c.kind !== "front") notes.push(t(`rel.config.${c.kind}`));
  return notes;
}

/** Domains whose data the release changes, first; unchanged ones last. */
export function domainLines(data: DataChanges): DomainChange[] {
  const order = { added: 0, changed: 1, removed: 2, unchanged: 3 } as const;
  return [...data.domains].sort((a, b) => order[a.change] - order[b.change] || a.name.localeCompare(b.name));
}

/** A past release in one line: what it moved and how much changed. */
export function describeRelease(record: ReleaseRecord): string {
  const parts: string[] = [];
  const design = record.changes.design;
  const data = record.changes.data;
  if (record.rollback_of !== null) parts.push(t("rel.rollbackOf", { id: record.rollback_of }));
  else parts.push(t(record.design && record.data ? "rel.what.both" : record.design ? "rel.what.design" : "rel.what.data"));
  const stories = design.stories;
  const counts = [
    stories.added.length ? t("rel.count.added", { n: stories.added.length }) : "",
    stories.changed.length ? t("rel.count.changed", { n: stories.changed.length }) : "",
    stories.removed.length ? t("rel.count.removed", { n: stories.removed.length }) : "",
  ].filter(Boolean);
  if (counts.length) parts.push(`${t("rel.stories")}: ${counts.join(", ")}`);
  const domains = data.domains.filter((d) => d.change !== "unchanged").length;
  if (domains) parts.push(t("rel.count.domains", { n: domains }));
  if (!design.changed && !data.changed) parts.push(t("rel.noChange"));
  return parts.join(" · ");
}
