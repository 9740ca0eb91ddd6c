import { describe, expect, it } from "vitest";
import { History, historyKey } from "./history";

describe("History", () => {
  it("undoes and redoes snapshots, and a new edit drops the redo branch", () => {
    const h = new History({ type: "bar" });
    expect(h.canUndo).toBe(false);
    h.record({ type: "line" });
    h.record({ type: "pie" });
    expect(h.undo()).toEqual({ type: "line" });
    expect(h.undo()).toEqual({ type: "bar" });
    expect(h.undo()).toBeNull();
    expect(h.redo()).toEqual({ type: "line" });
    h.record({ type: "area" });
    expect(h.canRedo).toBe(false);
    expect(h.redo()).toBeNull();
    expect(h.undo()).toEqual({ type: "line" });
  });

  it("copies states: mutating the caller's object does not rewrite history", () => {
    const state = { y: ["a"] };
    const h = new History(state);
    state.y.push("b");
    h.record(state);
    expect(h.undo()).toEqual({ y: ["a"] });
  });

  it("ignores a record equal to the present", () => {
    const h = new History({ a: 1 });
    expect(h.record({ a: 1 })).toBe(false);
    expect(h.canUndo).toBe(false);
  });

  it("merges records of one group made quickly (typing), not others", () => {
    let t = 0;
    const h = new History("", { coalesceMs: 500, now: () => t });
    h.record("R", "title");
    t = 100;
    h.record("Re", "title");
    t = 200;
    h.record("Rev", "title");
    t = 2000;
    h.record("Rev!", "title");
    expect(h.sizes.undo).toBe(2);
    expect(h.undo()).toBe("Rev");
    expect(h.undo()).toBe("");
  });

  it("keeps at most `limit` steps", () => {
    const h = new History(0, { limit: 3 });
    for (let i = 1; i <= 10; i++) h.record(i);
    expect(h.sizes.undo).toBe(3);
    h.undo();
    h.undo();
    expect(h.undo()).toBe(7);
    expect(h.undo()).toBeNull();
  });

  it("resets to one state", () => {
    const h = new History(1);
    h.record(2);
    h.reset(5);
    expect(h.canUndo || h.canRedo).toBe(false);
    expect(h.current()).toBe(5);
  });
});

describe("historyKey", () => {
  const key = (k: string, mods: Partial<{ ctrlKey: boolean; metaKey: boolean; shiftKey: boolean; altKey: boolean }> = {}) =>
    historyKey({ key: k, ctrlKey: false, metaKey: false, shiftKey: false, ...mods });
  it("reads Ctrl+Z, Ctrl+Shift+Z, Ctrl+Y and Cmd+Z", () => {
    expect(key("z", { ctrlKey: true })).toBe("undo");
    expect(key("Z", { ctrlKey: true, shiftKey: true })).toBe("redo");
    expect(key("y", { ctrlKey: true })).toBe("redo");
    expect(key("z", { metaKey: true })).toBe("undo");
    expect(key("z")).toBeNull();
    expect(key("z", { ctrlKey: true, altKey: true })).toBeNull();
    expect(key("a", { ctrlKey: true })).toBeNull();
  });
});
