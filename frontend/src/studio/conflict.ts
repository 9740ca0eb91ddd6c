// A save refused because another builder saved staging meanwhile (409 config_conflict): what
// their save changed, in lines a builder reads, and who saved it when.
import type { ConfigConflict } from "../api";
import { t } from "../i18n";

/** One line per kind of change the stored config has over the one being saved. */
export function conflictLines(c: ConfigConflict): string[] {
  const names = (list: { title: string; id: string }[] | undefined) => (list ?? []).map((s) => s.title || s.id).join(", ");
  const lines: string[] = [];
  const stories = c.changes.stories;
  if (stories?.added.length) lines.push(t("cb.conflictAdded", { list: names(stories.added) }));
  if (stories?.removed.length) lines.push(t("cb.conflictRemoved", { list: names(stories.removed) }));
  if (stories?.changed.length) lines.push(t("cb.conflictChanged", { list: names(stories.changed) }));
  const other = c.changes.keys.filter((k) => k !== "slides");
  if (other.length) lines.push(t("cb.conflictOther", { list: other.join(", ") }));
  return lines;
}

/** "bob saved this app's staging on <when>, after you opened it." */
export function conflictHeadline(c: ConfigConflict, localeName: string): string {
  let when = c.updated_at ?? "";
  if (c.updated_at) {
    const date = new Date(c.updated_at);
    if (!Number.isNaN(date.getTime())) when = date.toLocaleString(localeName);
  }
  return t("cb.conflict", { who: c.updated_by || t("cb.conflictSomeone"), when });
}
