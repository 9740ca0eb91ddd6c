import { describe, expect, it } from "vitest";
import { clearDraft, draftKey, loadDraft, saveDraft } from "./drafts";

function fakeStore() {
  const items = new Map<string, string>();
  return {
    items,
    getItem: (k: string) => items.get(k) ?? null,
    setItem: (k: string, v: string) => void items.set(k, v),
    removeItem: (k: string) => void items.delete(k),
  };
}

describe("drafts", () => {
  it("keeps one draft per app and story", () => {
    const store = fakeStore();
    saveDraft(store, "sales", "intro", [{ type: "bar" }], 3, new Date("2026-01-02T03:04:05Z"));
    saveDraft(store, "sales", "other", [{ type: "pie" }], 3);
    saveDraft(store, "costs", "intro", [{ type: "line" }], 1);
    const draft = loadDraft(store, "sales", "intro");
    expect(draft).toEqual({ savedAt: "2026-01-02T03:04:05.000Z", baseVersion: 3, state: [{ type: "bar" }] });
    expect(loadDraft(store, "costs", "intro")?.state).toEqual([{ type: "line" }]);
    expect(store.items.has(draftKey("sales", "other"))).toBe(true);
  });

  it("offers nothing when the draft equals what is saved, or is garbage", () => {
    const store = fakeStore();
    saveDraft(store, "a", "s", { x: "country" }, 1);
    expect(loadDraft(store, "a", "s", { x: "country" })).toBeNull();
    expect(loadDraft(store, "a", "s", { x: "year" })?.state).toEqual({ x: "country" });
    store.setItem(draftKey("a", "t"), "{not json");
    expect(loadDraft(store, "a", "t")).toBeNull();
    store.setItem(draftKey("a", "u"), "42");
    expect(loadDraft(store, "a", "u")).toBeNull();
  });

  it("clears, and survives a storage that throws", () => {
    const store = fakeStore();
    saveDraft(store, "a", "s", 1, null);
    clearDraft(store, "a", "s");
    expect(loadDraft(store, "a", "s")).toBeNull();
    const broken = {
      getItem: () => {
        throw new Error("denied");
      },
      setItem: () => {
        throw new Error("full");
      },
      removeItem: () => {
        throw new Error("denied");
      },
    };
    expect(() => saveDraft(broken, "a", "s", 1, null)).not.toThrow();
    expect(loadDraft(broken, "a", "s")).toBeNull();
    expect(() => clearDraft(broken, "a", "s")).not.toThrow();
  });
});
