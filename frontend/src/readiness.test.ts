import { describe, expect, it } from "vitest";
import { RenderTracker } from "./readiness";

function tracker() {
  const states: boolean[] = [];
  return { states, t: new RenderTracker((complete) => states.push(complete)) };
}

describe("RenderTracker", () => {
  it("is complete once every chart has reported, in any order", () => {
    const { states, t } = tracker();
    t.start(["s/0", "s/1", "s/2", "s/3"]);
    for (const key of ["s/2", "s/0", "s/3"]) t.done(key);
    expect(states).toEqual([false]);
    t.done("s/1");
    expect(states).toEqual([false, true]);
  });

  it("is complete at once for a page without charts", () => {
    const { states, t } = tracker();
    t.start([]);
    expect(states).toEqual([true]);
  });

  it("counts a chart reporting twice once", () => {
    const { states, t } = tracker();
    t.start(["s/0", "s/1"]);
    t.done("s/0");
    t.done("s/0");
    expect(states).toEqual([false]);
    expect(t.complete).toBe(false);
  });

  it("ignores charts of another page", () => {
    const { states, t } = tracker();
    t.start(["a/0"]);
    t.start(["b/0", "b/1"]);
    t.done("a/0");
    t.done("b/0");
    expect(states).toEqual([false, false]);
    t.done("b/1");
    expect(states).toEqual([false, false, true]);
  });

  it("waits again for every chart when they re-run", () => {
    const { states, t } = tracker();
    t.start(["s/0", "s/1"]);
    t.done("s/0");
    t.done("s/1");
    t.start(["s/0", "s/1"]); // a requester changed
    t.done("s/1");
    expect(states).toEqual([false, true, false]);
    t.done("s/0");
    expect(states).toEqual([false, true, false, true]);
  });
});
