import { describe, expect, it } from "vitest";
import { visibleRange } from "./virtual";

describe("visibleRange", () => {
  it("renders the rows in view plus the overscan", () => {
    expect(visibleRange(0, 340, 34, 10000, 10)).toEqual({ start: 0, end: 20 });
    expect(visibleRange(3400, 340, 34, 10000, 10)).toEqual({ start: 90, end: 120 });
  });

  it("stays within the table", () => {
    expect(visibleRange(340000, 340, 34, 10000, 10)).toEqual({ start: 9990, end: 10000 });
    expect(visibleRange(0, 340, 34, 5, 10)).toEqual({ start: 0, end: 5 });
  });
});
