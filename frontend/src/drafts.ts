// Unsaved edits of a story kept in the browser (local storage, per app and story), so that a
// reload or a closed tab loses nothing: the editor offers to restore or discard them.
// Pure but for the storage, which is passed in (unit-tested with a fake one).

export interface Draft<T> {
  /** When the draft was last written (ISO). */
  savedAt: string;
  /** The staging config version the edits started from (null: unknown). */
  baseVersion: number | null;
  /** What the editor holds. */
  state: T;
}

type Store = Pick<Storage, "getItem" | "setItem" | "removeItem">;

export function draftKey(app: string, story: string): string {
  return `toucan.draft.${app}.${story}`;
}

export function saveDraft<T>(store: Store, app: string, story: string, state: T, baseVersion: number | null, now = new Date()): void {
  const draft: Draft<T> = { savedAt: now.toISOString(), baseVersion, state };
  try {
    store.setItem(draftKey(app, story), JSON.stringify(draft));
  } catch {
    // Storage full or disabled: the editor still works, only without drafts.
  }
}

/** The stored draft, or null when there is none, it does not parse, or it equals `saved` (nothing unsaved). */
export function loadDraft<T>(store: Store, app: string, story: string, saved?: T): Draft<T> | null {
  let raw: string | null;
  try {
    raw = store.getItem(draftKey(app, story));
  } catch {
    return null;
  }
  if (!raw) return null;
  try {
    const draft = JSON.parse(raw) as Draft<T>;
    if (!draft || typeof draft !== "object" || !("state" in draft) || typeof draft.savedAt !== "string") return null;
    if (saved !== undefined && JSON.stringify(draft.state) === JSON.stringify(saved)) return null;
    return draft;
  } catch {
    return null;
  }
}

export function clearDraft(store: Store, app: string, story: string): void {
  try {
    store.removeItem(draftKey(app, story));
  } catch {
    // nothing to clear
  }
}
